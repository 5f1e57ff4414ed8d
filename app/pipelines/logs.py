"""Execution logs: written in chunks to the database as the run goes (a log survives a restart of
its worker) and published line by line for live followers.

Lines are numbered from 0 across the whole execution (plan and apply phases continue one log).
Every line is masked before it leaves the worker. A follower subscribes first, then reads what the
database has from its position, then takes live lines, skipping what it has already sent and
filling any gap from the database, so nothing is lost or repeated between the two (OTF's tailer
does the same).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec
from litestar.channels import ChannelsPlugin
from litestar.response import ServerSentEventMessage
from piccolo.columns.combination import WhereRaw

from app.db import transaction
from app.lib import runtime
from app.lib.clock import utcnow
from app.lib.subscriptions import subscription
from app.pipelines.masking import Masker
from app.pipelines.model import FINISHED
from app.pipelines.tables import Execution, ExecutionLog

log = logging.getLogger("board3.pipelines.logs")

FLUSH_SECONDS = 0.25
FLUSH_LINES = 500
MAX_LINE = 16 * 1024  # a longer line is cut (a plan's JSON is stored separately, not logged)
HEARTBEAT_SECONDS = 15.0


class LiveLines(msgspec.Struct):
    """What goes over the execution's channel: lines from ``first``, or the end of the run."""

    first: int = 0
    lines: list[str] = msgspec.field(default_factory=list)
    status: str | None = None


_encode = msgspec.json.Encoder()
_decode = msgspec.json.Decoder(LiveLines)


def channel_name(execution_id: uuid.UUID) -> str:
    return f"execution:{execution_id}:log"


def _publish(execution_id: uuid.UUID, message: LiveLines) -> None:
    current = runtime.current()
    if current is None or current.channels is None:
        return
    try:
        current.channels.publish(_encode.encode(message), channel_name(execution_id))
    except Exception as exc:  # followers fill gaps from the database
        log.warning("could not publish log lines of %s: %s", execution_id, exc)


def publish_end(execution_id: uuid.UUID, status: str) -> None:
    """Tell followers the execution has finished (they end once they have every line)."""
    _publish(execution_id, LiveLines(status=status))


class LogWriter:
    """Appends masked lines to one execution's log. ``start`` first, ``close`` at the end."""

    def __init__(
        self, execution_id: uuid.UUID, organization_id: uuid.UUID, first_line: int, masker: Masker
    ) -> None:
        self.execution_id = execution_id
        self.organization_id = organization_id
        self.masker = masker
        self.next_line = first_line  # number of the next line written
        self._stored = first_line  # lines before this one are in the database
        self._pending: list[str] = []
        self._last_flush = time.monotonic()
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_loop())

    def write(self, text: str) -> None:
        lines = [self.masker.text(line[:MAX_LINE]) for line in text.split("\n")]
        first = self.next_line
        self._pending.extend(lines)
        self.next_line += len(lines)
        _publish(self.execution_id, LiveLines(first=first, lines=lines))

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
            except Exception as exc:  # the next flush tries again; the run goes on
                log.warning("could not store log lines of %s: %s", self.execution_id, exc)

    async def flush(self) -> None:
        async with self._lock:
            if not self._pending:
                return
            lines, first = self._pending, self._stored
            self._pending = []
            try:  # the chunk and the count together: a crash between them would misnumber the next
                async with transaction():
                    await ExecutionLog.insert(
                        ExecutionLog(
                            organization=self.organization_id,
                            execution=self.execution_id,
                            first_line=first,
                            line_count=len(lines),
                            data="\n".join(lines),
                            created_at=utcnow(),
                        )
                    )
                    await Execution.update(
                        {Execution.log_lines: first + len(lines)}, use_auto_update=False
                    ).where(Execution.id == self.execution_id)
            except BaseException:
                self._pending = lines + self._pending  # keep them for the next flush
                raise
            self._stored = first + len(lines)

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        for _ in range(3):
            try:
                await self.flush()
                return
            except Exception as exc:
                log.warning("could not store the last log lines of %s: %s", self.execution_id, exc)
                await asyncio.sleep(0.5)


async def stored_lines(execution_id: uuid.UUID, start: int = 0) -> list[str]:
    """Lines from ``start`` (0-based) as stored."""
    chunks = (
        await ExecutionLog.select(ExecutionLog.first_line, ExecutionLog.data)
        .where(ExecutionLog.execution == execution_id)
        .where(WhereRaw('"first_line" + "line_count" > {}', start))
        .order_by(ExecutionLog.first_line)
    )
    out: list[str] = []
    for chunk in chunks:
        lines = chunk["data"].split("\n")
        skip = max(0, start - chunk["first_line"])
        out.extend(lines[skip:])
    return out


async def stored_end(execution_id: uuid.UUID) -> int:
    """The number of the line after the last one stored (where another writer goes on)."""
    last = (
        await ExecutionLog.select(ExecutionLog.first_line, ExecutionLog.line_count)
        .where(ExecutionLog.execution == execution_id)
        .order_by(ExecutionLog.first_line, ascending=False)
        .first()
    )
    return 0 if last is None else int(last["first_line"]) + int(last["line_count"])


def _event(number: int, text: str) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=text, id=str(number), event="line")


async def follow(
    channels: ChannelsPlugin,
    execution_id: uuid.UUID,
    start: int,
    still_allowed: Callable[[], Awaitable[bool]],
    heartbeat: float = HEARTBEAT_SECONDS,
) -> AsyncIterator[ServerSentEventMessage]:
    """Server-sent events: every line from ``start`` (event ``line``, id = its number), then
    ``end`` with the final status once the execution has finished."""
    sent = start  # the number of the next line to send
    async with subscription(channels, channel_name(execution_id)) as queue:
        yield ServerSentEventMessage(data=None, comment="connected", retry=2000)
        for text in await stored_lines(execution_id, sent):
            yield _event(sent, text)
            sent += 1
        check = True  # look at the status now, on an end message, and at every heartbeat
        while True:
            if check:
                check = False
                status = await _status(execution_id)
                if status is None or status in FINISHED:
                    for text in await stored_lines(execution_id, sent):  # the last flush is done
                        yield _event(sent, text)
                        sent += 1
                    yield ServerSentEventMessage(data=status or "deleted", event="end")
                    return
            try:
                payload = await asyncio.wait_for(queue.get(), timeout=heartbeat)
            except TimeoutError:
                if not await still_allowed():
                    return
                yield ServerSentEventMessage(data=None, comment="keep-alive")
                check = True
                continue
            message = _safe_decode(payload)
            if message is None:
                continue
            if message.status is not None:
                check = True
                continue
            if message.first > sent:  # lines we missed (published before we subscribed, or lost)
                for text in await _wait_stored(execution_id, sent, message.first):
                    yield _event(sent, text)
                    sent += 1
            for offset, text in enumerate(message.lines):
                number = message.first + offset
                if number == sent:
                    yield _event(number, text)
                    sent += 1


def _safe_decode(payload: bytes) -> LiveLines | None:
    try:
        return _decode.decode(payload)
    except msgspec.DecodeError:
        return None


async def _wait_stored(execution_id: uuid.UUID, start: int, until: int) -> list[str]:
    """Lines ``start``..``until`` from the database, waiting for the writer's next flush if needed."""
    lines: list[str] = []
    for _ in range(20):
        lines = (await stored_lines(execution_id, start))[: until - start]
        if len(lines) >= until - start:
            break
        await asyncio.sleep(FLUSH_SECONDS)
    return lines


async def _status(execution_id: uuid.UUID) -> str | None:
    row: dict[str, Any] | None = (
        await Execution.select(Execution.status).where(Execution.id == execution_id).first()
    )
    return None if row is None else str(row["status"])
