"""An execution's life as a state machine on a typed domain object. Pure: no database, no I/O.

::

    pending ─▶ queued ─▶ planning ─▶ planned ─▶ confirmed ─▶ applying ─▶ applied
                                        │  └──▶ discarded
                                        └─▶ planned_and_finished (speculative, or nothing to do)
    any unfinished status ─▶ errored | canceled;  planning/applying ─▶ force_canceled

A ``drift`` execution (a drift check, started by ``app.drift``, never through the executions API)
holds its state like an apply, so it never runs beside one, but only plans: it always ends
``planned_and_finished``.

``pending``: waiting for its state (FIFO per state). ``queued``: its turn has come (or it is a
speculative plan, which never waits), a worker will take it. A state-changing execution holds its
state (``active``) from ``queued`` until it finishes, through the approval wait, so nothing else
changes the state between the plan that was approved and its apply.

Every change goes through a method that raises ``InvalidTransition`` when the current status does
not allow it, and returns the fields to persist; the service writes them with a conditional
``UPDATE ... WHERE status = <the status it read>``, so two actors can never both move one row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any, Literal, get_args

Operation = Literal["plan", "apply", "destroy", "drift"]
Status = Literal[
    "pending",
    "queued",
    "planning",
    "planned",
    "confirmed",
    "applying",
    "applied",
    "planned_and_finished",
    "discarded",
    "errored",
    "canceled",
    "force_canceled",
]
OPERATIONS: tuple[Operation, ...] = ("plan", "apply", "destroy", "drift")
# Operations that hold their state but never apply (a drift check reads the real infrastructure).
NEVER_APPLY: frozenset[str] = frozenset({"drift"})
FINISHED: frozenset[str] = frozenset(
    {"applied", "planned_and_finished", "discarded", "errored", "canceled", "force_canceled"}
)
RUNNING: frozenset[str] = frozenset({"planning", "applying"})  # a terraform process may be alive
# Statuses in which a state-changing execution holds its state.
HOLDING: frozenset[str] = frozenset({"queued", "planning", "planned", "confirmed", "applying"})
SUCCEEDED: frozenset[str] = frozenset({"applied", "planned_and_finished"})
STATUSES: tuple[str, ...] = get_args(Status)


class InvalidTransition(Exception):
    """The execution's status does not allow this change (the message says which and why)."""

    def __init__(self, status: str, action: str, detail: str = "") -> None:
        self.status = status
        self.action = action
        super().__init__(detail or f"an execution that is {status} cannot be {action}")


@dataclasses.dataclass(frozen=True, slots=True)
class PlanResult:
    """What the plan stage found: whether anything would change, and the counts."""

    has_changes: bool
    summary: dict[str, int]


@dataclasses.dataclass(slots=True)
class ExecutionModel:
    """The parts of an execution row its life depends on."""

    id: uuid.UUID
    status: str
    operation: str
    speculative: bool
    auto_apply: bool = False
    attempts: int = 0
    cancel_requested_at: dt.datetime | None = None
    force_cancel_requested_at: dt.datetime | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any], *, auto_apply: bool = False) -> ExecutionModel:
        return cls(
            id=row["id"],
            status=row["status"],
            operation=row["operation"],
            speculative=bool(row["speculative"]),
            auto_apply=auto_apply,
            attempts=int(row.get("attempts") or 0),
            cancel_requested_at=row.get("cancel_requested_at"),
            force_cancel_requested_at=row.get("force_cancel_requested_at"),
        )

    # --- what the status says ---------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def running(self) -> bool:
        return self.status in RUNNING

    @property
    def holds_state(self) -> bool:
        return not self.speculative and self.status in HOLDING

    @property
    def phase(self) -> Literal["plan", "apply"] | None:
        """The work a worker taking this execution now has to do, if any."""
        if self.status in ("queued", "planning"):
            return "plan"
        if self.status in ("confirmed", "applying"):
            return "apply"
        return None

    # --- transitions ------------------------------------------------------------------------------

    def _move(
        self, allowed: set[str] | frozenset[str], target: str, action: str, **extra: Any
    ) -> dict[str, Any]:
        if self.status not in allowed:
            raise InvalidTransition(self.status, action)
        self.status = target
        return {"status": target, "active": self.holds_state, **extra}

    def enqueue(self) -> dict[str, Any]:
        """Its turn has come (or it never waits: a speculative plan)."""
        return self._move({"pending"}, "queued", "queued")

    def start_plan(self, now: dt.datetime) -> dict[str, Any]:
        fields = self._move({"queued"}, "planning", "planned", started_at=now)
        self.attempts += 1
        return fields | {"attempts": self.attempts}

    def plan_finished(self, result: PlanResult, now: dt.datetime) -> dict[str, Any]:
        """After the plan stage: nothing to do, a speculative plan or a drift check ends here;
        otherwise the plan waits for approval unless the pipeline applies automatically."""
        fields = {"has_changes": result.has_changes, "plan_summary": result.summary, "planned_at": now}
        if self.speculative or not result.has_changes or self.operation in NEVER_APPLY:
            return self._move({"planning"}, "planned_and_finished", "finished", finished_at=now, **fields)
        if self.auto_apply:
            return self._move({"planning"}, "confirmed", "confirmed", confirmed_at=now, **fields)
        return self._move({"planning"}, "planned", "planned", **fields)

    def confirm(self, now: dt.datetime) -> dict[str, Any]:
        """Approve the plan: the next step applies exactly that saved plan."""
        if self.status == "planned" and self.cancel_requested_at is not None:
            raise InvalidTransition(self.status, "approved", "the execution is being canceled")
        return self._move({"planned"}, "confirmed", "approved", confirmed_at=now)

    def discard(self, now: dt.datetime) -> dict[str, Any]:
        return self._move({"planned"}, "discarded", "discarded", finished_at=now)

    def start_apply(self) -> dict[str, Any]:
        return self._move({"confirmed"}, "applying", "applied")

    def apply_finished(self, now: dt.datetime) -> dict[str, Any]:
        return self._move({"applying"}, "applied", "finished", finished_at=now)

    def error(self, message: str, now: dt.datetime) -> dict[str, Any]:
        if self.finished:
            raise InvalidTransition(self.status, "errored")
        return self._move(set(STATUSES) - FINISHED, "errored", "errored", error=message, finished_at=now)

    def retry_plan(self) -> dict[str, Any]:
        """A plan whose worker was lost runs again, once: a plan changes nothing (an apply is never
        run again by Board3 on its own; it may have changed infrastructure)."""
        if self.status != "planning" or self.attempts >= 2:
            raise InvalidTransition(self.status, "retried", "only a first plan attempt is retried")
        self.status = "queued"
        return {"status": "queued", "active": self.holds_state, "worker_id": None, "lease_expires_at": None}

    def cancel(self, now: dt.datetime, by: str) -> dict[str, Any]:
        """Cancel. Not started yet (or waiting for approval): canceled at once. Running: the
        request is recorded; the worker interrupts terraform and ends it as canceled."""
        if self.finished:
            raise InvalidTransition(
                self.status, "canceled", f"the execution has already finished ({self.status})"
            )
        if self.running:
            if self.cancel_requested_at is not None:
                raise InvalidTransition(self.status, "canceled", "a cancel was already requested")
            self.cancel_requested_at = now
            return {"cancel_requested_at": now, "canceled_by_label": by}
        return self._move(
            set(STATUSES) - FINISHED - RUNNING, "canceled", "canceled", finished_at=now, canceled_by_label=by
        )

    def force_cancel(self, now: dt.datetime, by: str, cool_off: dt.timedelta) -> dict[str, Any]:
        """Kill a running execution whose graceful cancel did not end it within ``cool_off``."""
        if not self.running:
            raise InvalidTransition(
                self.status, "force-canceled", "only a running execution can be force-canceled"
            )
        if self.cancel_requested_at is None:
            raise InvalidTransition(
                self.status, "force-canceled", "cancel it first; force-cancel is the second step"
            )
        ready = self.cancel_requested_at + cool_off
        if now < ready:
            wait = (ready - now).total_seconds()
            raise InvalidTransition(
                self.status,
                "force-canceled",
                f"a graceful cancel is under way; force-cancel is possible in {wait:.0f} s",
            )
        if self.force_cancel_requested_at is not None:
            raise InvalidTransition(self.status, "force-canceled", "a force-cancel was already requested")
        self.force_cancel_requested_at = now
        return {"force_cancel_requested_at": now, "canceled_by_label": by}

    def stopped(self, now: dt.datetime, *, forced: bool) -> dict[str, Any]:
        """The worker stopped terraform because a cancel asked it to."""
        target = "force_canceled" if forced else "canceled"
        return self._move(RUNNING, target, target, finished_at=now)
