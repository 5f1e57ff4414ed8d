"""Board3: infrastructure-as-code designer backend."""
