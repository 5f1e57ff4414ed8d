"""Internal execution operations that other domains build on the execution machinery.

A drift check (``app.drift``) is an execution with operation ``drift``: it is leased, heartbeated,
swept, canceled and logged like any other, but its plan phase is its own, and its end is recorded
by its domain. Pipelines cannot import those domains (they sit above pipelines), so each registers
its operation here once per process; ``app.worker.process``, which every composition root
imports, does it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class InternalOperation:
    name: str
    # Runs instead of the plan phase, with the job's ``Run`` (``app.pipelines.run``); it ends the
    # execution with ``run.settle`` and raises ``StageFailed``/``Stopped`` like the plan phase.
    plan_phase: Callable[[Any], Awaitable[None]]
    # Called inside the transaction that moves an execution of this operation to a finished
    # status, with the row as it was read and the fields written (``status``, ``error``...).
    finished: Callable[[Mapping[str, Any], Mapping[str, Any]], Awaitable[None]]


_REGISTERED: dict[str, InternalOperation] = {}


def register(operation: InternalOperation) -> None:
    _REGISTERED[operation.name] = operation


def internal(name: str) -> InternalOperation | None:
    return _REGISTERED.get(name)
