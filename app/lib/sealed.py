"""Tables whose rows hold envelope-encrypted data, for the operations that concern all of them:
which master keys are in use, and re-wrapping data keys under the active key (``board3 keys``).

Each domain describes its sealed rows with a ``SealedRows`` (the table and how to rebuild a row's
associated data) next to its tables; ``app.db.piccolo_app.SEALED`` names them all, as
``TABLE_MODULES`` names the tables. A table with encrypted rows that is not listed there would be
left under an old key by a rotation, and unreadable once that key is retired.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from piccolo.columns import Column
from piccolo.table import Table


@dataclass(frozen=True)
class SealedRows:
    """Rows of ``table`` with ``enc_format``, ``key_id``, ``wrapped_key`` and ``ciphertext``
    columns; ``context`` builds a row's associated data from ``context_columns``."""

    name: str
    table: type[Table]
    context_columns: tuple[Column, ...]
    context: Callable[[Mapping[str, Any]], dict[str, str]]


def all_sealed() -> list[SealedRows]:
    """Every sealed table of Board3 (``app.db.piccolo_app.SEALED``)."""
    from app.db.piccolo_app import SEALED

    found = []
    for ref in SEALED:
        module, _, attr = ref.partition(":")
        found.append(getattr(importlib.import_module(module), attr))
    return found
