"""The run of a drift check: the plan phase of an execution with operation ``drift``.

The worker's execution job (``app.pipelines.jobs``) leases the execution, gives it a private
workspace and a run token, renews its lease and watches for a cancel; this phase does the drift
check's own work in it, and never applies:

- the configuration of the version last applied, ``init``, ``plan -refresh-only -out``: its
  ``-json`` output has one ``resource_drift`` message per resource changed outside Terraform
  (drift is decided from those, never from an exit code). None: no drift, and nothing else runs;
- otherwise a normal ``plan -out`` and ``show -json``: its ``resource_drift`` has each drifted
  resource's attributes before and after (the same entries as the refresh-only plan's), and its
  ``resource_changes`` which of them the next apply puts back. Should that plan fail, the
  refresh-only plan is shown instead and the drift reported without that answer.

The findings are stored on the check, and the execution ends ``planned_and_finished``;
``checks.execution_finished`` turns that into the check's result.
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
from app.pipelines.run import Run, StageFailed, Stopped, terraform
from app.terraform import plan as tfplan
from app.terraform.runner import Line, parse_ui_line

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
        raise StageFailed(f"terraform show printed no plan JSON ({exc})") from None
    if not isinstance(data, dict):
        raise StageFailed("terraform show printed no plan JSON")
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


async def drift_phase(run: Run) -> None:
    await checks.mark_running(run.id, utcnow())
    nodes = await jobs.prepare(run)
    await terraform(run, "init", ["init", "-input=false", "-no-color", "-json"])
    streamed: list[str] = []

    def watch(line: Line) -> None:
        message = parse_ui_line(line.text)
        if message is not None and message.type == "resource_drift" and message.address:
            streamed.append(message.address)

    refresh = ["plan", "-refresh-only", "-input=false", "-json", f"-out={DRIFT_PLAN}", LOCK]
    await terraform(run, "refresh-only", refresh, watch=watch)
    found: list[ResourceDrift] = []
    summary = tfplan.PlanSummary(changes=[])
    normal: dict[str, Any] | None = None
    if streamed:  # something drifted: what exactly, and what would the next apply do about it
        try:
            await terraform(run, "plan", ["plan", "-input=false", "-json", f"-out={PLAN}", LOCK])
            normal = _document(await terraform(run, "show", ["show", "-json", PLAN], capture=True))
        except StageFailed as exc:
            run.say(f"A normal plan failed ({exc}): whether the next apply reverts the drift is unknown.")
        if normal is not None and normal.get("resource_drift"):
            found = compare.findings(normal, normal, nodes)
            summary = tfplan.summarize(normal)
        else:  # the drift itself, from the refresh-only plan
            refreshed = _document(await terraform(run, "show", ["show", "-json", DRIFT_PLAN], capture=True))
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
        raise Stopped("the execution changed while it was checked")


OPERATION = InternalOperation(
    name=checks.OPERATION, plan_phase=drift_phase, finished=checks.execution_finished
)
