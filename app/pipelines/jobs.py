"""The execution job: what a worker does with an execution id it was handed.

It leases the row (a conditional UPDATE: one worker at a time, and only while the execution has
work for a worker), then runs the phase its status calls for in a private workspace
(``app.terraform.runner``): the plan (prepare, init, validate, plan, show) or the apply of the
saved, approved plan (prepare, init, apply). A heartbeat renews the lease and watches the row for
a cancel (one SIGINT) or a force-cancel (SIGKILL to the process group). Terraform reaches the
state through Board3's own backend with the run's token. Every line it prints is masked, stored
and published. Running the job twice for one id does nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import Any

from app.config import Settings, get_settings
from app.db import transaction
from app.designs import environments
from app.designs.versions import load_canvas
from app.lib import crypto
from app.lib.clock import utcnow
from app.lib.principal import Principal
from app.pipelines import lifecycle, tokens
from app.pipelines import variables as variable_store
from app.pipelines.logs import LogWriter
from app.pipelines.masking import Masker
from app.pipelines.metrics import observe_finished
from app.pipelines.model import InvalidTransition, PlanResult
from app.pipelines.operations import internal
from app.pipelines.run import (
    Run,
    StageFailed,
    Stopped,
    lease,
    release_lease,
    stage,
    start_heartbeat,
    terraform,
)
from app.pipelines.tables import ExecutionStage, Pipeline, SavedPlan, plan_context
from app.pipelines.workfiles import BACKEND_FILE, backend_file, variable_files
from app.states import ownership
from app.terraform import plan as tfplan
from app.terraform.blocks import DesignInvalid, build_config
from app.terraform.catalog import get_catalog
from app.terraform.codegen_json import render_json
from app.terraform.runner import TerraformError, Workspace
from app.terraform.validate import validate

log = logging.getLogger("board3.pipelines.jobs")

PLAN_FILE = "plan.tfplan"
LOCK_FILE = ".terraform.lock.hcl"


async def prepare(run: Run) -> dict[str, str]:
    """Write the design version's configuration, the backend and the variables into the workspace.
    Returns the canvas' address -> node id map (for the plan's resource changes)."""
    assert run.workspace is not None
    async with stage(run, "prepare"):
        _, canvas = await load_canvas(lifecycle.SYSTEM, run.row["design_id"], run.row["design_version"])
        catalog = get_catalog()
        result = validate(canvas, catalog)
        if not result.valid:
            for problem in result.problems:
                run.say(f"Error: {problem.message}")
            raise StageFailed(
                f"design version {run.row['design_version']} is not valid ({len(result.problems)} problems)"
            )
        try:
            config = build_config(canvas, catalog)
        except DesignInvalid as exc:
            raise StageFailed(str(exc)) from None
        run.workspace.write("main.tf.json", render_json(config))
        for name in config.modules:
            for fname, text in catalog.modules[name].files.items():
                run.workspace.write(f"modules/{name}/{fname}", text)
        base = run.settings.worker.backend_url(run.settings.server)
        run.workspace.write(
            BACKEND_FILE, backend_file(base, run.row["organization.slug"], run.row["pipeline.state_name"])
        )
        for name, content in variable_files(await variable_store.for_run(run.row["pipeline"])).items():
            run.workspace.write(name, content)
        run.say(
            f"Design version {run.row['design_version']}: {len(canvas.nodes)} nodes; "
            f"state {run.row['pipeline.state_name']}"
        )
        return tfplan.node_addresses((n.id, n.type, n.name) for n in canvas.nodes)


def plan_changes(summary: tfplan.PlanSummary, nodes: dict[str, str], masker: Masker) -> dict[str, Any]:
    """A plan's resource changes as an execution stores them (masked, with canvas node ids)."""
    resources = []
    for change in summary.changes:
        item = {
            "address": change.address,
            "type": change.type,
            "name": change.name,
            "module_address": change.module_address,
            "action": change.action,
            "before": change.before,
            "after": change.after,
            "changed_attributes": list(change.changed_attributes),
            "node_id": tfplan.node_of(change.address, nodes),
        }
        resources.append(masker.data(item))
    return {"resources": resources, "outputs_changed": summary.outputs_changed}


async def _save_plan(run: Run) -> None:
    assert run.workspace is not None
    work = run.workspace.work_dir
    data = (work / PLAN_FILE).read_bytes()
    lock = (work / LOCK_FILE).read_text() if (work / LOCK_FILE).exists() else ""
    envelope = await crypto.encrypt(data, context=plan_context(run.row["organization"], run.id))
    await SavedPlan.delete().where(SavedPlan.execution == run.id)
    await SavedPlan.insert(
        SavedPlan(
            organization=run.row["organization"],
            execution=run.id,
            lock_file=lock,
            enc_format=envelope.format,
            key_id=envelope.key_id,
            wrapped_key=envelope.wrapped_key,
            ciphertext=envelope.ciphertext,
            created_at=utcnow(),
        )
    )


async def _restore_plan(run: Run) -> None:
    assert run.workspace is not None
    row = await SavedPlan.select().where(SavedPlan.execution == run.id).first()
    if row is None:
        raise StageFailed("the saved plan of this execution is missing; start a new execution")
    envelope = crypto.Envelope(
        format=row["enc_format"],
        key_id=row["key_id"],
        wrapped_key=bytes(row["wrapped_key"]),
        ciphertext=bytes(row["ciphertext"]),
    )
    data = await crypto.decrypt(envelope, context=plan_context(run.row["organization"], run.id))
    run.workspace.write(PLAN_FILE, data)
    if row["lock_file"]:
        run.workspace.write(LOCK_FILE, row["lock_file"])


# --- phases --------------------------------------------------------------------------------------


async def plan_phase(run: Run) -> None:
    owner = internal(run.row["operation"])
    if owner is not None:  # a drift check: its own plans, and it never applies
        await owner.plan_phase(run)
        return
    nodes = await prepare(run)
    await terraform(run, "init", ["init", "-input=false", "-no-color", "-json"])
    await terraform(run, "validate", ["validate", "-no-color"])
    args = ["plan", "-input=false", "-json", f"-out={PLAN_FILE}", "-lock-timeout=10s"]
    if run.row["operation"] == "destroy":
        args.append("-destroy")
    await terraform(run, "plan", args)
    shown = await terraform(run, "show", ["show", "-json", PLAN_FILE], capture=True)
    try:
        summary = tfplan.summarize(json.loads(shown))
    except ValueError as exc:
        raise StageFailed(f"terraform show printed no plan JSON ({exc})") from None
    result = PlanResult(summary.has_changes, summary.counts())
    if summary.has_changes and not run.row["speculative"]:
        await _save_plan(run)
    counts = summary.counts()
    run.say(
        "Plan: {add} to add, {change} to change, {destroy} to destroy, {replace} to replace.".format(**counts)
        if summary.has_changes
        else "No changes: the infrastructure matches the configuration."
    )
    run.check()
    now = utcnow()
    fields = run.model.plan_finished(result, now) | {"plan_changes": plan_changes(summary, nodes, run.masker)}
    if fields["status"] == "confirmed":  # auto-apply: this job goes on with the same saved plan
        if not await run.move(fields, counts=counts):
            raise Stopped("the execution changed while it was planned")
        return
    if fields["status"] == "planned":
        run.say(f"Waiting for {'approval' if run.row['pipeline.require_approval'] else 'confirmation'}.")
    # An apply with nothing to do: the infrastructure matches this version, as after an apply.
    applied = fields["status"] == "planned_and_finished" and not run.row["speculative"]
    if not await run.settle(fields, (lambda: record_applied(run, now)) if applied else None, counts=counts):
        raise Stopped("the execution changed while it was planned")


async def apply_phase(run: Run, *, fresh_workspace: bool) -> None:
    if fresh_workspace:
        await prepare(run)
        async with stage(run, "restore"):
            await _restore_plan(run)
        await terraform(run, "init", ["init", "-input=false", "-no-color", "-json"])
    await terraform(run, "apply", ["apply", "-input=false", "-json", "-auto-approve", PLAN_FILE])
    now = utcnow()
    run.say(f"Applied design version {run.row['design_version']}.")
    if not await run.settle(run.model.apply_finished(now), lambda: record_applied(run, now)):
        raise Stopped("the execution changed while it was applied")


async def record_applied(run: Run, now: dt.datetime) -> None:
    """The pipeline, its state and its design learn what was applied (one transaction)."""
    version = run.row["design_version"] if run.row["operation"] != "destroy" else None
    async with transaction():  # joins the settling move's transaction
        await Pipeline.update(
            {Pipeline.last_applied_version: version, Pipeline.last_applied_at: now}, use_auto_update=False
        ).where(Pipeline.id == run.row["pipeline"])
        await ownership.record_apply(run.row["state_id"], version)
        await environments.set_link(
            run.row["design_id"],
            run.row["pipeline.environment"],
            environments.link(
                run.row["pipeline.environment"],
                run.row["pipeline"],
                run.row["pipeline.state_name"],
                version,
                now,
            ),
        )


# --- the job -------------------------------------------------------------------------------------


async def run_execution(execution_id: uuid.UUID, worker_id: str, settings: Settings | None = None) -> None:
    """Lease the execution and do its next phase; nothing happens if it has none or is leased."""
    settings = settings or get_settings()
    row = await lease(execution_id, worker_id, settings.worker.lease_seconds)
    if row is None:
        return
    actor = Principal(kind="system", id=uuid.UUID(int=0), label=f"worker:{worker_id}"[:320])
    run = Run(row=row, worker_id=worker_id, settings=settings, actor=actor)
    log.info("execution %s: %s phase on %s", execution_id, run.model.phase, worker_id)
    try:
        await _run_phases(run)
    finally:
        await run.stop_heartbeat()
        if run.writer is not None:
            await run.writer.close()
        await release_lease(run)


async def _run_phases(run: Run) -> None:
    model = run.model
    phase = model.phase
    token, token_hash = tokens.new_token(run.id)
    now = utcnow()
    try:
        fields = model.start_plan(now) if phase == "plan" else model.start_apply()
    except InvalidTransition:
        return
    if not await run.move(fields | {"token_hash": token_hash}):
        return
    run.stage_position = await ExecutionStage.count().where(ExecutionStage.execution == run.id)
    variables = await variable_store.for_run(run.row["pipeline"])
    run.masker = Masker([v.value for v in variables if v.sensitive] + [token])
    run.writer = LogWriter(run.id, run.row["organization"], run.row["log_lines"] or 0, run.masker)
    run.writer.start()
    env = {"TF_HTTP_PASSWORD": token}
    env |= {v.key: v.value for v in variables if v.category == "env"}
    sandbox = run.settings.data_dir if run.settings.sandbox_enabled else None
    try:
        async with Workspace.create(
            parent=run.settings.worker.work_dir, sandbox=sandbox, env=env
        ) as workspace:
            run.workspace = workspace
            start_heartbeat(run)
            if phase == "plan":
                await plan_phase(run)
                if run.row["status"] == "confirmed":  # auto-apply: same workspace, same saved plan
                    run.check()
                    if await run.move(run.model.start_apply()):
                        await apply_phase(run, fresh_workspace=False)
            else:
                await apply_phase(run, fresh_workspace=True)
    except Stopped:
        await _stopped(run)
    except StageFailed as exc:
        await _failed(run, str(exc))
    except TerraformError as exc:
        await _failed(run, f"terraform could not be run: {exc}")
    except Exception as exc:
        log.exception("execution %s failed", run.id)
        await _failed(run, f"internal error: {type(exc).__name__}")
    finally:
        await run.stop_heartbeat()
        run.workspace = None
    observe_finished(run.row["operation"], run.row["status"], run.row["started_at"], run.row["finished_at"])


async def _stopped(run: Run) -> None:
    if run.lost:
        return
    forced = run.force_seen
    fresh = await lifecycle.load(run.id)
    if fresh is not None:
        run.row = fresh
    if not run.model.running:
        return
    await _after_terraform(run, forced=forced)
    run.say("Force-canceled." if forced else "Canceled.")
    await run.settle(run.model.stopped(utcnow(), forced=forced))


async def _failed(run: Run, message: str) -> None:
    if run.lost:
        return
    run.say(f"Error: {run.masker.text(message)}")
    if run.force_seen or run.cancel_seen:
        await _stopped(run)
        return
    fresh = await lifecycle.load(run.id)
    if fresh is not None:
        run.row = fresh
    if run.model.finished:
        return
    await _after_terraform(run, forced=False)
    await run.settle(run.model.error(run.masker.text(message)[:2000], utcnow()))


async def _after_terraform(run: Run, *, forced: bool) -> None:
    """What a stopped or failed run leaves: a lock held by its token (a killed terraform never
    releases it), and, after a kill during apply, a state that may not record what was created."""
    reason = "force-canceled" if forced else "run ended"
    if await ownership.release_run_lock(run.actor, run.row["state_id"], run.id, reason):
        run.say("Released the state lock the run held.")
    if forced and run.row["status"] == "applying":
        await ownership.mark_diverged(
            run.row["state_id"], f"execution #{run.row['number']} was killed during apply"
        )
        run.say("The state may not record everything the killed apply did: it is marked as diverged.")
