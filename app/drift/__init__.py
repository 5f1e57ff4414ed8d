"""Drift: scheduled and manual checks of real infrastructure against a pipeline's state."""
