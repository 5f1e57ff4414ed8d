"""Pipelines: Board3 runs Terraform itself. A pipeline applies one design to one environment
(its own state); executions plan, wait for approval, apply or destroy, with live logs."""
