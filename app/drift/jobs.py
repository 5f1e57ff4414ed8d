"""The run of a drift check: the plan phase of an execution with operation ``drift``.

The worker's execution job (``app.pipelines.jobs``) leases the execution, gives it a private
workspace and a run token, renews its lease and watches for a cancel; this phase does the drift
check's own work in it: the configuration of the version last applied, ``init``, ``plan
-refresh-only -out`` and ``show -json`` (what changed outside Terraform, from ``resource_drift``),
then, if anything drifted, a normal ``plan -out`` and ``show -json`` (which drifted attributes the
next apply puts back). It never applies. The findings are stored on the check, and the execution
ends ``planned_and_finished``; ``checks.execution_finished`` turns that into the check's result.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from app.drift import checks, compare
from app.drift.schemas import ResourceDrift
from app.lib.clock import utcnow
from app.pipelines import jobs
from app.pipelines.model import PlanResult
from app.pipelines.operations import InternalOperation
from app.terraform import plan as tfplan

DRIFT_PLAN = "drift.tfplan"
PLAN = "plan.tfplan"
LOCK = "-lock-timeout=10s"
_EFFECTS = {
    "will_be_reverted": "the next apply puts it back",
    "state_only": "state only: the configuration does not set it",
    "unknown": "",
}


def _document(shown: bytes) -> dict[str, Any]:
    try:
        data = json.loads(shown)
    except ValueError as exc:
        raise jobs.StageFailed(f"terraform show printed no plan JSON ({exc})") from None
    if not isinstance(data, dict):
        raise jobs.StageFailed("terraform show printed no plan JSON")
    return data


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(resources: list[ResourceDrift]) -> list[str]:
    """The findings as log lines, one per drifted attribute or deleted resource."""
    if not resources:
        return ["No drift: the infrastructure matches the state."]
    counts = compare.counts(resources)
    lines = [
        f"Drift: {counts.drifted} resource(s) changed outside Terraform "
        f"({counts.changed} changed, {counts.deleted} deleted)."
    ]
    for r in resources:
        if r.action == "delete":
            effect = "the next apply creates it again" if r.effect == "will_be_reverted" else ""
            lines.append(f"  {r.address}: deleted outside Terraform" + (f" ({effect})" if effect else ""))
            continue
        for a in r.attributes:
            effect = _EFFECTS[a.effect]
            lines.append(
                f"  {r.address}: {a.name} {_short(a.before)} -> {_short(a.after)}"
                + (f" ({effect})" if effect else "")
            )
    return lines


async def drift_phase(run: jobs.Run) -> None:
    await checks.mark_running(run.id, utcnow())
    nodes = await jobs.prepare(run)
    await jobs.terraform(run, "init", ["init", "-input=false", "-no-color", "-json"])
    await jobs.terraform(
        run, "refresh-only", ["plan", "-refresh-only", "-input=false", "-json", f"-out={DRIFT_PLAN}", LOCK]
    )
    refreshed = _document(await jobs.terraform(run, "show", ["show", "-json", DRIFT_PLAN], capture=True))
    normal: dict[str, Any] | None = None
    summary = tfplan.PlanSummary(changes=[])
    if refreshed.get("resource_drift"):
        await jobs.terraform(run, "plan", ["plan", "-input=false", "-json", f"-out={PLAN}", LOCK])
        normal = _document(await jobs.terraform(run, "show", ["show", "-json", PLAN], capture=True))
        summary = tfplan.summarize(normal)
    found = compare.findings(refreshed, normal, nodes)
    masked = msgspec.convert(run.masker.data(msgspec.to_builtins(found)), list[ResourceDrift])
    for line in describe(masked):
        run.say(line)
    await checks.store_findings(run.id, masked)
    run.check()
    result = PlanResult(bool(masked), summary.counts())
    fields = run.model.plan_finished(result, utcnow())
    fields |= {"plan_changes": jobs.plan_changes(summary, nodes, run.masker) if normal is not None else None}
    if not await run.settle(fields, drifted=len(masked)):
        raise jobs.Stopped("the execution changed while it was checked")


OPERATION = InternalOperation(
    name=checks.OPERATION, plan_phase=drift_phase, finished=checks.execution_finished
)
