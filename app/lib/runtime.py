"""Process-level tuning applied once a server has started."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Move everything alive after start-up (modules, routes, the resource catalog, templates) out of
    the garbage collector's sight. A full collection over that heap takes tens of milliseconds and
    would otherwise land on random requests as tail latency; those objects live as long as the
    process anyway."""
    gc.collect()
    gc.freeze()
