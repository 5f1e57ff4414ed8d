"""Seed data loaded at startup and by ``board3 seed``: every seeder is idempotent."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("board3.seed")

# "module:function" of each domain's seeder, in dependency order.
SEEDERS = [
    "app.accounts.seed:seed",
    "app.designs.templates:seed",
]


async def run_seeds() -> None:
    for ref in SEEDERS:
        module_name, _, func_name = ref.partition(":")
        seeder: Callable[[], Awaitable[None]] = getattr(importlib.import_module(module_name), func_name)
        await seeder()
        log.info("seeded", extra={"seeder": ref})
