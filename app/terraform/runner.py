"""The one place Board3 starts terraform: binary lookup, private workspaces, an environment built
from scratch, and commands streamed line by line that we can interrupt, kill or time out.

Terraform stops gracefully on the first SIGINT (providers finish, state is saved, the lock is
released) and cancels hard on a second, so ``interrupt()`` sends exactly one, to terraform alone
(the Python sandbox provider dies on SIGINT); ``kill()`` sends SIGKILL to the whole process group,
provider plugins included. Workspaces are removed completely: ``init`` writes backend passwords
into ``.terraform/terraform.tfstate`` in plain text.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from app.config import get_settings
from app.sandbox import STORE_ENV
from app.sandbox.install import cli_config_text, paths
from app.sandbox.store import store_path_from_env

log = logging.getLogger(__name__)

Stream = Literal["stdout", "stderr"]
Env = Mapping[str, str]
WORKSPACE_PREFIX = "board3-tf-"  # then the pid of the process that made it, for ``remove_orphans``
DEFAULT_GRACE = 30.0  # seconds from the interrupt of a timed-out command to SIGKILL
DEFAULT_MAX_LINE = 8 * 1024 * 1024  # longer lines are cut and flagged, never silently
DEFAULT_MAX_CAPTURE = 256 * 1024 * 1024
_CHUNK = 64 * 1024
_DRAIN = 5.0  # seconds to wait for the end of output once terraform and its group are gone


class TerraformError(RuntimeError):
    """Terraform could not be run, or did not answer as expected."""


class TerraformNotFound(TerraformError):
    """No terraform binary under the configured name."""


class OutputTooLarge(TerraformError):
    """A captured stdout passed its size limit; the command was killed."""


def build_env(
    *, home: Path, cli_config: Path, extra: Env | None = None, source: Env | None = None
) -> dict[str, str]:
    """Terraform's environment from scratch, never the server's (DATABASE_URL, secrets, a stray
    TF_CLI_CONFIG_FILE): ``source`` (default ``os.environ``) lends only PATH, LANG and LC_ALL;
    ``extra`` (credentials, TF_VAR_*, the sandbox store) comes last and wins."""
    source = os.environ if source is None else source
    env = {
        "PATH": source.get("PATH") or os.defpath,
        "HOME": str(home),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "TF_CLI_CONFIG_FILE": str(cli_config),
    }
    env.update({name: source[name] for name in ("LANG", "LC_ALL") if source.get(name)})
    if any(not k or "=" in k or "\0" in k + v for k, v in (extra or {}).items()):
        raise ValueError(f"invalid environment variable names or values: {sorted(extra or {})}")
    return env | dict(extra or {})


def cli_config(sandbox: Path | None = None) -> str:
    """CLI config text: empty, or installing the sandbox provider from a data dir's mirror."""
    return "" if sandbox is None else cli_config_text(paths(sandbox).mirror_dir)


@dataclass(frozen=True, slots=True)
class UIMessage:
    """One line of terraform's ``-json`` UI output. ``address``/``action``: the resource and action
    of drift, planned change and apply hooks; a change summary has its operation as ``action`` and
    its counts (add, change, remove, import) in ``changes``. ``data`` is the whole object."""

    type: str
    level: str
    message: str
    address: str | None = None
    action: str | None = None
    changes: Mapping[str, int] | None = None
    data: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


def parse_ui_line(line: str | bytes) -> UIMessage | None:
    """The message on a ``-json`` UI line; None for anything else (plain text, other JSON)."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return None
    body = _object(data.get("change") or data.get("hook"))  # drift, planned change, apply_*
    address, action = _object(body.get("resource")).get("addr"), body.get("action")
    changes = None
    if data["type"] == "change_summary":
        counts = _object(data.get("changes"))
        action = counts.get("operation")
        changes = {k: v for k in ("add", "change", "remove", "import") if isinstance(v := counts.get(k), int)}
    return UIMessage(
        type=data["type"],
        level=str(data.get("@level", "info")),
        message=str(data.get("@message", "")),
        address=address if isinstance(address, str) else None,
        action=action if isinstance(action, str) else None,
        changes=changes,
        data=data,
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class Line:
    """One line of output without its newline; ``truncated`` when it passed the line limit."""

    stream: Stream
    text: str
    truncated: bool = False


OnLine = Callable[[Line], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class RunResult:
    args: tuple[str, ...] = field(repr=False)  # may hold a -backend-config secret
    exit_code: int  # negative: terraform died of that signal
    duration: float  # seconds
    interrupted: bool = False  # we sent terraform its SIGINT
    killed: bool = False  # we sent the group SIGKILL
    timed_out: bool = False
    truncated_lines: int = 0
    stdout: bytes | None = field(default=None, repr=False)  # capture mode only

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def find_terraform(binary: str | None = None) -> str:
    """Absolute path of ``binary`` (default: the TERRAFORM_BIN setting), looked up on PATH."""
    name = binary or get_settings().terraform.binary
    found = shutil.which(name)
    if found is None:
        raise TerraformNotFound(
            f"terraform binary {name!r} not found: set TERRAFORM_BIN to its path or put it on PATH"
        )
    return os.path.abspath(found)


_versions: dict[str, str] = {}


async def terraform_version(binary: str | None = None) -> str:
    """``terraform_version`` of ``terraform version -json``, cached per binary path."""
    path = find_terraform(binary)
    if path not in _versions:
        async with Workspace.create(binary=path) as ws:
            result = await ws.run(["version", "-json"], capture=True, timeout=10, grace=1)
        try:
            _versions[path] = str(json.loads(result.stdout or b"")["terraform_version"])
        except (ValueError, KeyError, TypeError):
            raise TerraformError(f"{path} version -json: exit {result.exit_code}, no version") from None
    return _versions[path]


class Process:
    """The command running in a workspace: ours to interrupt or kill, from any coroutine."""

    def __init__(self) -> None:
        self.pid: int | None = None  # also its process group id: it leads its own session
        self.interrupted = self.killed = self.exited = False

    def _started(self, pid: int) -> None:
        self.pid = pid  # a request made while it was being started is delivered now
        if self.killed:
            _send(os.killpg, pid, signal.SIGKILL)
        elif self.interrupted:
            _send(os.kill, pid, signal.SIGINT)

    def interrupt(self) -> bool:
        """Ask terraform to stop gracefully: one SIGINT to terraform itself; later calls do nothing."""
        if self.interrupted or self.killed or self.exited:
            return False
        self.interrupted = True
        if self.pid is not None:
            _send(os.kill, self.pid, signal.SIGINT)
        return True

    def kill(self) -> bool:
        """SIGKILL to terraform and every process of its group (provider plugins)."""
        if self.exited:
            return False
        self.killed = True
        if self.pid is not None:
            _send(os.killpg, self.pid, signal.SIGKILL)
        return True


def _send(send: Callable[[int, int], None], pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        send(pid, signum)


async def _finish(aw: Awaitable[Any]) -> None:
    """Wait for ``aw`` to end even if we are cancelled meanwhile (then re-raise the cancel)."""
    waiter, cancelled = asyncio.ensure_future(aw), False
    while not waiter.done():
        try:
            await asyncio.shield(waiter)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


async def _reap(proc: asyncio.subprocess.Process, readers: list[asyncio.Future[Any]]) -> None:
    """After killing the group: wait for terraform to be reaped, then (at most ``_DRAIN`` seconds)
    for its output pipes to close, which is when the last process of its group holding them has
    died (``killpg`` delivers a SIGKILL; it does not wait for it to take effect)."""
    await _finish(proc.wait())
    open_ = [r for r in readers if not r.done()]
    if open_:
        await _finish(asyncio.wait(open_, timeout=_DRAIN))


class _Output:
    """Splits pipes into lines of any length up to ``max_line``, or captures one whole."""

    def __init__(self, on_line: OnLine | None, max_line: int) -> None:
        self.on_line, self.max_line, self.truncated = on_line, max_line, 0
        self.lock = asyncio.Lock()  # one callback at a time, whichever the stream

    async def lines(self, reader: asyncio.StreamReader, stream: Stream) -> None:
        line, cut = bytearray(), False
        while chunk := await reader.read(_CHUNK):
            start = 0
            while (end := chunk.find(b"\n", start)) >= 0:
                cut = self._append(line, chunk[start:end]) or cut
                await self._emit(stream, line, cut)
                line, cut, start = bytearray(), False, end + 1
            cut = self._append(line, chunk[start:]) or cut
        if line or cut:
            await self._emit(stream, line, cut)

    def _append(self, line: bytearray, piece: bytes) -> bool:
        room = max(0, self.max_line - len(line))
        line += piece[:room]
        return len(piece) > room

    async def _emit(self, stream: Stream, data: bytearray, cut: bool) -> None:
        self.truncated += cut
        if self.on_line is not None:
            async with self.lock:
                result = self.on_line(Line(stream, data.decode("utf-8", "replace").removesuffix("\r"), cut))
                if inspect.isawaitable(result):
                    await result

    @staticmethod
    async def capture(reader: asyncio.StreamReader, into: bytearray, limit: int) -> None:
        while chunk := await reader.read(_CHUNK):
            if len(into) + len(chunk) > limit:
                raise OutputTooLarge(f"terraform printed more than {limit} bytes on stdout")
            into += chunk


async def _pipe() -> tuple[int, asyncio.StreamReader, asyncio.BaseTransport]:
    """A pipe: the write end for terraform, the read end ours. Not asyncio's own pipes: with
    those, ``wait()`` also waits for EOF, which a process that left the group can hold off."""
    read_fd, write_fd = os.pipe()
    reader = asyncio.StreamReader(limit=_CHUNK)
    try:
        transport, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", 0)
        )
    except BaseException:
        os.close(write_fd)
        raise
    return write_fd, reader, transport


def _raise_failed(tasks: Iterable[asyncio.Future[Any]]) -> None:
    for task in tasks:
        if task.done() and not task.cancelled() and (exc := task.exception()) is not None:
            raise exc


class Workspace:
    """A private directory for terraform: ``work/`` (its cwd), ``home/`` and its own CLI config."""

    def __init__(
        self,
        root: Path,
        *,
        sandbox: Path | None = None,
        env: Env | None = None,
        binary: str | None = None,
    ) -> None:
        """Lay a workspace out in the existing directory ``root``, made private. ``sandbox``: a
        Board3 data dir whose sandbox provider (mirror and store) terraform is to use."""
        self.root, self.binary = Path(root).resolve(), find_terraform(binary)
        self.work_dir, self.home = self.root / "work", self.root / "home"
        self.cli_config = self.root / "terraformrc"
        extra = {STORE_ENV: str(store_path_from_env(os.environ, sandbox))} if sandbox else {}
        self.env = build_env(home=self.home, cli_config=self.cli_config, extra={**extra, **(env or {})})
        self.process: Process | None = None  # the command running now
        self.root.chmod(0o700)
        self.work_dir.mkdir(mode=0o700, exist_ok=True)
        self.home.mkdir(mode=0o700, exist_ok=True)
        _write_private(self.cli_config, cli_config(sandbox).encode())

    @classmethod
    @contextlib.asynccontextmanager
    async def create(
        cls,
        *,
        parent: Path | None = None,
        sandbox: Path | None = None,
        env: Env | None = None,
        binary: str | None = None,
    ) -> AsyncIterator[Workspace]:
        """A fresh workspace (mode 0700) under ``parent`` (default: the system temp dir), removed
        with everything in it on the way out, also on error or cancellation."""
        path = find_terraform(binary)  # fail before making anything
        root = Path(tempfile.mkdtemp(prefix=f"{WORKSPACE_PREFIX}{os.getpid()}-", dir=parent))
        ws: Workspace | None = None
        try:
            ws = cls(root, sandbox=sandbox, env=env, binary=path)
            yield ws
        finally:
            if ws is not None and ws.process is not None:  # a run() still going in another task
                ws.process.kill()
            _remove(root)

    def write(self, name: str, content: str | bytes) -> Path:
        """Write a file (mode 0600) under ``work/``; ``name`` is relative and stays inside."""
        path = (self.work_dir / name).resolve()
        if not path.is_relative_to(self.work_dir) or path == self.work_dir:
            raise ValueError(f"{name!r} is not a file name inside the workspace")
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_private(path, content.encode() if isinstance(content, str) else content)
        return path

    def interrupt(self) -> bool:
        """Interrupt the running command (see ``Process.interrupt``); False when none runs."""
        return self.process.interrupt() if self.process else False

    def kill(self) -> bool:
        return self.process.kill() if self.process else False

    async def run(
        self,
        args: Sequence[str],
        *,
        on_line: OnLine | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - interrupts, then kills; never cancels us
        grace: float = DEFAULT_GRACE,
        capture: bool = False,
        max_capture: int = DEFAULT_MAX_CAPTURE,
        max_line: int = DEFAULT_MAX_LINE,
    ) -> RunResult:
        """Run ``terraform <args>`` in ``work/``, streaming stdout and stderr to ``on_line`` (with
        ``capture``, stdout is returned instead). At ``timeout`` seconds terraform is interrupted,
        and its group killed ``grace`` seconds later. If the caller is cancelled, the group is
        killed and terraform reaped before the cancellation goes on."""
        if isinstance(args, str):
            raise TypeError("args must be a sequence of arguments, not one string")
        if self.process is not None:
            raise TerraformError("a terraform command is already running in this workspace")
        self.process = process = Process()
        output, captured, start = _Output(on_line, max_line), bytearray(), time.monotonic()
        pipes: list[tuple[int, asyncio.StreamReader, asyncio.BaseTransport]] = []
        write_fds: list[int] = []  # ours to close
        tasks: list[asyncio.Future[Any]] = []
        try:
            for _ in ("stdout", "stderr"):
                pipes.append(await _pipe())
                write_fds.append(pipes[-1][0])
            proc = await asyncio.create_subprocess_exec(
                self.binary,
                *args,
                cwd=self.work_dir,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_fds[0],
                stderr=write_fds[1],
                start_new_session=True,  # its own process group, providers included
            )
            while write_fds:  # terraform holds them now; their end is our end of output
                os.close(write_fds.pop())
            process._started(proc.pid)
            out, err = pipes[0][1], pipes[1][1]
            tasks = [
                asyncio.ensure_future(proc.wait()),
                asyncio.ensure_future(
                    output.capture(out, captured, max_capture) if capture else output.lines(out, "stdout")
                ),
                asyncio.ensure_future(output.lines(err, "stderr")),
            ]
            try:
                timed_out = await _supervise(process, tasks, timeout, grace)
            except BaseException:
                process.kill()
                await _reap(proc, tasks[1:])
                raise
            finally:
                process.exited = True
                _send(os.killpg, proc.pid, signal.SIGKILL)  # what of its group outlived terraform
            done, pending = await asyncio.wait(tasks[1:], timeout=_DRAIN)
            if pending:
                log.warning("terraform's output stayed open after its process group was gone")
            _raise_failed(done)
        finally:
            self.process = None
            for task in tasks:
                if task.done() and not task.cancelled():
                    task.exception()  # seen: one error was raised already
                task.cancel()
            for fd in write_fds:
                os.close(fd)
            for _, _, transport in pipes:
                transport.close()
        return RunResult(
            args=tuple(args),
            exit_code=proc.returncode if proc.returncode is not None else -signal.SIGKILL,
            duration=time.monotonic() - start,
            interrupted=process.interrupted,
            killed=process.killed,
            timed_out=timed_out,
            truncated_lines=output.truncated,
            stdout=bytes(captured) if capture else None,
        )


async def _supervise(
    process: Process, tasks: list[asyncio.Future[Any]], limit: float | None, grace: float
) -> bool:
    """Wait for terraform's exit, raising what an output task raised; at ``limit`` interrupt it,
    ``grace`` seconds later kill its group. True when the limit was reached."""
    loop = asyncio.get_running_loop()
    exited, pending, timed_out = tasks[0], set(tasks), False
    deadline = None if limit is None else loop.time() + limit
    while not exited.done():
        wait = None if deadline is None else max(0.0, deadline - loop.time())
        done, pending = await asyncio.wait(pending, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        _raise_failed(done)
        if not done and not timed_out:
            timed_out, deadline = True, loop.time() + grace
            process.interrupt()
        elif not done:
            process.kill()
            deadline = None
    return timed_out


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(data)


def remove_orphans(parent: Path | None = None) -> int:
    """Remove workspaces left by processes that died without cleaning up (a worker killed with
    SIGKILL cannot): ``init`` wrote backend credentials in them. A workspace's name carries the pid
    of the process that made it; those whose process is gone are removed. Returns how many."""
    base = Path(parent or tempfile.gettempdir())
    removed = 0
    for root in base.glob(f"{WORKSPACE_PREFIX}*-*"):
        pid = root.name.removeprefix(WORKSPACE_PREFIX).split("-", 1)[0]
        if not pid.isdigit() or not root.is_dir() or _alive(int(pid)):
            continue
        _remove(root)
        removed += not root.exists()
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, and not ours to judge
        return True
    return True


def _remove(root: Path) -> None:
    """Remove a workspace, making a directory that was made read-only inside it writable."""

    def writable(function: Any, path: str, _exc: Any) -> None:
        os.chmod(os.path.dirname(path), 0o700)
        function(path)

    with contextlib.suppress(OSError):
        shutil.rmtree(root, onerror=writable)
    if os.path.lexists(root):
        log.error("terraform workspace %s could not be removed completely", root)
