"""One job's hold on one execution: the lease and its heartbeat (which also watches for cancel
requests), recorded stages, and terraform commands run as stages with their output masked into
the execution's log. The phases built from them are in ``app.pipelines.jobs`` (plan, apply) and
``app.drift.jobs`` (the drift check)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app.config import Settings
from app.db import transaction
from app.lib.clock import utcnow
from app.lib.principal import Principal
from app.pipelines import lifecycle
from app.pipelines.logs import LogWriter
from app.pipelines.masking import Masker
from app.pipelines.metrics import STAGE_SECONDS
from app.pipelines.model import ExecutionModel
from app.pipelines.tables import Execution, ExecutionStage
from app.terraform.runner import Line, OutputTooLarge, Workspace, parse_ui_line

log = logging.getLogger("board3.pipelines.jobs")

MAX_CAPTURE_BYTES = 256 * 1024 * 1024  # what a captured command may print (a plan's JSON)
CANCEL_POLL_SECONDS = 1.0


class StageFailed(Exception):
    """A stage could not do its work; the message is what the log and the execution say."""


class Stopped(Exception):
    """Terraform was stopped because a cancel asked for it."""


@dataclass(slots=True)
class Run:
    """One job's hold on one execution."""

    row: dict[str, Any]
    worker_id: str
    settings: Settings
    actor: Principal
    masker: Masker = field(default_factory=lambda: Masker(()))
    writer: LogWriter | None = None
    workspace: Workspace | None = None
    cancel_seen: bool = False
    force_seen: bool = False
    lost: bool = False  # the lease went to someone else: stop at once, write nothing more
    stage_position: int = 0
    beating: asyncio.Task[None] | None = None

    @property
    def id(self) -> uuid.UUID:
        return uuid.UUID(str(self.row["id"]))

    @property
    def model(self) -> ExecutionModel:
        return lifecycle.model_of(self.row)

    def say(self, text: str) -> None:
        if self.writer is not None:
            self.writer.write(text)

    def check(self) -> None:
        if self.lost:
            raise Stopped("the execution was taken from this worker")
        if self.cancel_seen or self.force_seen:
            raise Stopped("canceled")

    async def move(self, fields: dict[str, Any], **details: Any) -> bool:
        moved = await lifecycle.transition(
            self.actor, self.row, fields, worker_id=self.worker_id, details=details
        )
        fresh = await lifecycle.load(self.id)
        if fresh is not None:
            self.row = fresh
        return moved

    async def settle(
        self, fields: dict[str, Any], also: Callable[[], Awaitable[None]] | None = None, **details: Any
    ) -> bool:
        """This job's last move: stop watching the row, store every log line, then hand the row
        back (the lease is released in the same UPDATE). The next job for the execution (an apply
        after approval) may start the moment it commits, so nothing of this job may follow; what
        must become true with the move (``also``: the pipeline learns what was applied) commits
        in the same transaction, so nobody sees an applied execution whose pipeline does not know."""
        await self.stop_heartbeat()
        if self.writer is not None:
            await self.writer.close()
            self.writer = None
        async with transaction():
            moved = await self.move(fields | {"worker_id": None, "lease_expires_at": None}, **details)
            if moved and also is not None:
                await also()
        return moved

    async def stop_heartbeat(self) -> None:
        if self.beating is not None:
            self.beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.beating
            self.beating = None


# --- leasing and heartbeats ----------------------------------------------------------------------


async def lease(execution_id: uuid.UUID, worker_id: str, seconds: int) -> dict[str, Any] | None:
    """Take the execution if it has work for a worker and nobody holds a live lease on it."""
    now = utcnow()
    taken = (
        await Execution.update(
            {Execution.worker_id: worker_id, Execution.lease_expires_at: now + dt.timedelta(seconds=seconds)},
            use_auto_update=False,
        )
        .where(
            (Execution.id == execution_id)
            & Execution.status.is_in(["queued", "confirmed"])
            & (Execution.worker_id.is_null() | (Execution.lease_expires_at < now))
        )
        .returning(Execution.id)
    )
    return await lifecycle.load(execution_id) if taken else None


async def release_lease(run: Run) -> None:
    await Execution.update(
        {Execution.worker_id: None, Execution.lease_expires_at: None}, use_auto_update=False
    ).where((Execution.id == run.id) & (Execution.worker_id == run.worker_id))


def start_heartbeat(run: Run) -> None:
    """Renew the lease, and watch for cancel requests, until ``run.stop_heartbeat()``."""

    async def beat() -> None:
        renew_every = max(1.0, run.settings.worker.lease_seconds / 3)
        last_renewal = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(CANCEL_POLL_SECONDS)
            try:
                if loop.time() - last_renewal >= renew_every:
                    expires = utcnow() + dt.timedelta(seconds=run.settings.worker.lease_seconds)
                    kept = (
                        await Execution.update({Execution.lease_expires_at: expires}, use_auto_update=False)
                        .where((Execution.id == run.id) & (Execution.worker_id == run.worker_id))
                        .returning(Execution.id)
                    )
                    last_renewal = loop.time()
                    if not kept:
                        log.error(
                            "execution %s was taken from worker %s; killing terraform", run.id, run.worker_id
                        )
                        run.lost = True
                        if run.workspace is not None:
                            run.workspace.kill()
                        return
                flags = (
                    await Execution.select(Execution.cancel_requested_at, Execution.force_cancel_requested_at)
                    .where(Execution.id == run.id)
                    .first()
                )
            except Exception as exc:  # the database is away: keep running, try again
                log.warning("heartbeat of execution %s failed: %s", run.id, exc)
                continue
            if flags is None:
                continue
            if flags["force_cancel_requested_at"] is not None and not run.force_seen:
                run.force_seen = True
                run.say("Force-cancel requested: stopping terraform and its providers now.")
                if run.workspace is not None:
                    run.workspace.kill()
            elif flags["cancel_requested_at"] is not None and not run.cancel_seen:
                run.cancel_seen = True
                run.say("Cancel requested: asking terraform to stop gracefully.")
                if run.workspace is not None:
                    run.workspace.interrupt()

    run.beating = asyncio.create_task(beat())


# --- stages --------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def stage(run: Run, name: str) -> AsyncIterator[dict[str, Any]]:
    """A recorded stage: running until the block ends; its exit code is set through the dict."""
    run.check()
    run.stage_position += 1
    started = utcnow()
    stage_id = uuid.uuid4()
    await ExecutionStage.insert(
        ExecutionStage(
            id=stage_id,
            organization=run.row["organization"],
            execution=run.id,
            name=name,
            position=run.stage_position,
            status="running",
            started_at=started,
        )
    )
    run.say(f"==> {name}")
    outcome: dict[str, Any] = {"exit_code": None}
    status = "failed"
    try:
        yield outcome
        status = "succeeded"
    except Stopped:
        status = "canceled"
        raise
    finally:
        finished = utcnow()
        STAGE_SECONDS.labels(stage=name, status=status).observe((finished - started).total_seconds())
        with contextlib.suppress(Exception):  # the execution's end is what must be recorded
            await ExecutionStage.update(
                {
                    ExecutionStage.status: status,
                    ExecutionStage.exit_code: outcome["exit_code"],
                    ExecutionStage.finished_at: finished,
                }
            ).where(ExecutionStage.id == stage_id)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LEVELS = {"warn": "Warning", "error": "Error"}
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT(\d\d:\d\d:\d\d)(\.\d+)?")


def _render(line: Line) -> str:
    """A line of terraform's output as people read it: a ``-json`` UI message's text after the
    time terraform wrote it (``[10:27:40.548]``), a diagnostic with its summary, address and
    detail; plain lines without colour codes."""
    message = parse_ui_line(line.text)
    if message is None:
        return _ANSI.sub("", line.text)
    text = message.message
    diagnostic = message.data.get("diagnostic") if message.type == "diagnostic" else None
    if isinstance(diagnostic, dict):
        detail = diagnostic.get("detail") or ""
        where = diagnostic.get("address") or ""
        level = _LEVELS.get(message.level, message.level.capitalize())
        text = f"{level}: {diagnostic.get('summary', text)}" + (f" ({where})" if where else "")
        if detail:
            text += "\n" + str(detail)
    stamp = _TIME.match(str(message.data.get("@timestamp", "")))
    if stamp is None:
        return text
    if stamp[2] is None:  # some messages carry whole seconds only: do not pretend to know more
        return f"[{stamp[1]}] {text}"
    return f"[{stamp[1]}.{stamp[2][1:4].ljust(3, '0')}] {text}"


async def terraform(
    run: Run,
    name: str,
    args: list[str],
    *,
    capture: bool = False,
    watch: Callable[[Line], None] | None = None,
) -> bytes:
    """Run one terraform command as stage ``name``; its output goes to the log (masked), and each
    line to ``watch`` too when given."""
    assert run.workspace is not None

    def on_line(line: Line) -> None:
        run.say(_render(line))
        if watch is not None:
            watch(line)

    async with stage(run, name) as outcome:
        try:
            result = await run.workspace.run(
                args,
                on_line=on_line,
                timeout=run.settings.worker.run_timeout,
                capture=capture,
                max_capture=MAX_CAPTURE_BYTES,
            )
        except OutputTooLarge as exc:
            raise StageFailed(f"terraform {name}: {exc}") from None
        outcome["exit_code"] = result.exit_code
        if (result.killed or result.interrupted) and (run.lost or run.cancel_seen or run.force_seen):
            raise Stopped(name)
        if result.timed_out:
            raise StageFailed(
                f"terraform {name} ran longer than {run.settings.worker.run_timeout} s and was stopped"
            )
        if not result.ok:
            raise StageFailed(f"terraform {name} failed (exit code {result.exit_code}); see the log")
        return result.stdout or b""
