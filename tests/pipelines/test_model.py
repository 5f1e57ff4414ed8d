"""The execution state machine, without a database: every transition, every refusal."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.pipelines.model import (
    FINISHED,
    HOLDING,
    ExecutionModel,
    InvalidTransition,
    PlanResult,
)

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
CHANGES = PlanResult(True, {"add": 1, "change": 0, "destroy": 0, "replace": 0})
NOTHING = PlanResult(False, {"add": 0, "change": 0, "destroy": 0, "replace": 0})


def model(status: str = "pending", operation: str = "apply", **kw) -> ExecutionModel:
    return ExecutionModel(uuid.uuid4(), status, operation, speculative=operation == "plan", **kw)


def test_plan_approve_apply() -> None:
    ex = model()
    assert ex.enqueue()["active"] is True
    fields = ex.start_plan(NOW)
    assert fields == {"status": "planning", "active": True, "started_at": NOW, "attempts": 1}
    assert ex.phase == "plan"
    assert ex.plan_finished(CHANGES, NOW)["status"] == "planned"
    assert ex.holds_state  # the state stays held through the approval wait
    assert ex.confirm(NOW)["status"] == "confirmed"
    assert ex.phase == "apply"
    assert ex.start_apply()["status"] == "applying"
    done = ex.apply_finished(NOW)
    assert done == {"status": "applied", "active": False, "finished_at": NOW}


def test_auto_apply_skips_the_wait_and_no_changes_end_at_the_plan() -> None:
    ex = model(auto_apply=True)
    ex.enqueue(), ex.start_plan(NOW)
    assert ex.plan_finished(CHANGES, NOW)["status"] == "confirmed"
    quiet = model(auto_apply=True)
    quiet.enqueue(), quiet.start_plan(NOW)
    fields = quiet.plan_finished(NOTHING, NOW)
    assert fields["status"] == "planned_and_finished" and fields["active"] is False


def test_speculative_plans_never_hold_the_state_nor_apply() -> None:
    ex = model(operation="plan", auto_apply=True)
    assert ex.enqueue()["active"] is False
    assert ex.start_plan(NOW)["active"] is False
    assert ex.plan_finished(CHANGES, NOW)["status"] == "planned_and_finished"
    with pytest.raises(InvalidTransition):
        ex.confirm(NOW)


def test_discard_only_a_planned_execution() -> None:
    ex = model("planned")
    assert ex.discard(NOW) == {"status": "discarded", "active": False, "finished_at": NOW}
    for status in ("pending", "queued", "planning", "confirmed", "applying", "applied"):
        with pytest.raises(InvalidTransition, match=f"that is {status} cannot be discarded"):
            model(status).discard(NOW)


def test_cancel_before_running_is_immediate_and_while_running_is_a_request() -> None:
    for status in ("pending", "queued", "planned", "confirmed"):
        fields = model(status).cancel(NOW, "ada")
        assert fields["status"] == "canceled" and fields["active"] is False
    running = model("applying")
    fields = running.cancel(NOW, "ada")
    assert fields == {"cancel_requested_at": NOW, "canceled_by_label": "ada"}
    assert running.status == "applying"  # the worker ends it once terraform has stopped
    with pytest.raises(InvalidTransition, match="already requested"):
        running.cancel(NOW, "ada")
    assert running.stopped(NOW, forced=False)["status"] == "canceled"
    with pytest.raises(InvalidTransition, match="already finished"):
        model("applied").cancel(NOW, "ada")


def test_force_cancel_needs_a_cancel_and_the_cool_off() -> None:
    cool_off = dt.timedelta(seconds=10)
    ex = model("applying")
    with pytest.raises(InvalidTransition, match="cancel it first"):
        ex.force_cancel(NOW, "ada", cool_off)
    ex.cancel(NOW, "ada")
    with pytest.raises(InvalidTransition, match="possible in 5 s"):
        ex.force_cancel(NOW + dt.timedelta(seconds=5), "ada", cool_off)
    fields = ex.force_cancel(NOW + cool_off, "ada", cool_off)
    assert fields["force_cancel_requested_at"] == NOW + cool_off
    assert ex.stopped(NOW, forced=True)["status"] == "force_canceled"
    with pytest.raises(InvalidTransition, match="only a running execution"):
        model("planned").force_cancel(NOW, "ada", cool_off)


def test_a_lost_plan_is_retried_once_and_an_apply_never() -> None:
    ex = model("queued")
    ex.start_plan(NOW)
    assert ex.retry_plan()["status"] == "queued"
    ex.start_plan(NOW)
    with pytest.raises(InvalidTransition, match="only a first plan attempt"):
        ex.retry_plan()
    with pytest.raises(InvalidTransition):
        model("applying").retry_plan()


def test_a_cancel_requested_while_planned_blocks_approval() -> None:
    ex = model("planned", cancel_requested_at=NOW)
    with pytest.raises(InvalidTransition, match="being canceled"):
        ex.confirm(NOW)


ACTIONS = [
    "enqueue",
    "start_plan",
    "plan_changes",
    "plan_nothing",
    "confirm",
    "discard",
    "start_apply",
    "apply_finished",
    "error",
    "retry_plan",
    "cancel",
    "force_cancel",
    "stopped",
]


def _apply(ex: ExecutionModel, action: str) -> dict:
    later = NOW + dt.timedelta(minutes=1)
    match action:
        case "plan_changes":
            return ex.plan_finished(CHANGES, NOW)
        case "plan_nothing":
            return ex.plan_finished(NOTHING, NOW)
        case "error":
            return ex.error("boom", NOW)
        case "cancel":
            return ex.cancel(NOW, "x")
        case "force_cancel":
            return ex.force_cancel(later, "x", dt.timedelta(seconds=10))
        case "stopped":
            return ex.stopped(NOW, forced=ex.force_cancel_requested_at is not None)
        case "start_plan":
            return ex.start_plan(NOW)
        case "confirm":
            return ex.confirm(NOW)
        case "discard":
            return ex.discard(NOW)
        case "apply_finished":
            return ex.apply_finished(NOW)
    return getattr(ex, action)()


@given(
    st.sampled_from(["plan", "apply", "destroy"]),
    st.booleans(),
    st.lists(st.sampled_from(ACTIONS), max_size=30),
)
def test_any_sequence_keeps_the_invariants(operation: str, auto_apply: bool, actions: list[str]) -> None:
    ex = model(operation=operation, auto_apply=auto_apply)
    for action in actions:
        before = ex.status
        try:
            fields = _apply(ex, action)
        except InvalidTransition:
            assert ex.status == before  # a refused change changes nothing
            continue
        if "status" in fields:
            assert fields["status"] == ex.status
            assert fields["active"] == (not ex.speculative and ex.status in HOLDING)
        if before in FINISHED:
            raise AssertionError(f"{action} moved a finished execution ({before} -> {ex.status})")
        if ex.speculative:
            assert ex.status not in ("planned", "confirmed", "applying", "applied")
