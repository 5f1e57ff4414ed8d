"""app/terraform/runner.py: the real terraform binary in private workspaces, streamed, interrupted,
killed, timed out and cancelled; and the pure parts (environment, UI lines) on their own."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.config import reset_settings
from app.sandbox import PROVIDER_SOURCE, STORE_ENV
from app.sandbox.install import install_mirror
from app.sandbox.store import SandboxStore
from app.terraform import runner
from app.terraform.runner import (
    Line,
    OutputTooLarge,
    TerraformError,
    TerraformNotFound,
    Workspace,
    build_env,
    cli_config,
    find_terraform,
    parse_ui_line,
    terraform_version,
)

DATA = """
resource "terraform_data" "a" {
  input = "one"
}
resource "terraform_data" "b" {
  input = "${terraform_data.a.output}-two"
}
output "b" {
  value = terraform_data.b.output
}
"""

BIG = 70_000  # one output line of more than asyncio's default 64 KiB readline limit

SANDBOX = """
terraform {
  required_providers {
    sandbox = { source = "%s" }
  }
}
resource "sandbox_network" "n" {
  cidr_block = "10.7.0.0/16"
}
resource "sandbox_subnet" "s" {
  network_id = sandbox_network.n.id
  cidr_block = "10.7.1.0/24"
}
resource "sandbox_instance" "slow" {
  subnet_id    = sandbox_subnet.s.id
  image        = "debian-12"
  boot_seconds = %d
}
resource "sandbox_instance" "after" {
  subnet_id  = sandbox_subnet.s.id
  image      = "debian-12"
  depends_on = [sandbox_instance.slow]
}
"""

APPLY = ["apply", "-auto-approve", "-json"]
LOCK_INFO = {
    "ID": "held-by-test",
    "Operation": "OperationTypeApply",
    "Info": "",
    "Who": "test",
    "Version": "1.11.4",
    "Created": "2026-01-01T00:00:00Z",
    "Path": "terraform.tfstate",
}


def live_members(pgid: int) -> list[int]:
    """Processes of the group that are not zombies (a zombie is dead, only not yet reaped)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                pids.append(int(entry))
    return pids


def assert_group_gone(pgid: int) -> None:
    """Nothing of the group runs now; its zombies (orphans init reaps) disappear soon after."""
    assert live_members(pgid) == []
    deadline = time.monotonic() + 10
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        assert time.monotonic() < deadline, f"process group {pgid} still exists"
        time.sleep(0.05)


def stubborn(tmp_path: Path) -> str:
    """A stand-in for terraform that notes each SIGINT and ignores it, with a child in its group."""
    script = tmp_path / "stubborn"
    script.write_text(
        "#!/bin/sh\ntrap 'echo got-interrupt' INT\nsleep 60 &\necho started\nwhile :; do sleep 0.05; done\n"
    )
    script.chmod(0o700)
    return str(script)


def two_processes(tmp_path: Path) -> str:
    """A stand-in for terraform with a child (as a provider plugin is): each says when it is ready
    and when it gets a SIGINT, and neither stops for one."""
    script = tmp_path / "two-processes"
    script.write_text(
        f"#!{sys.executable}\n"
        "import signal, subprocess, sys, time\n"
        "role = sys.argv[1] if len(sys.argv) > 1 else 'parent'\n"
        "signal.signal(signal.SIGINT, lambda *_: print(role, 'got SIGINT', flush=True))\n"
        "if role == 'parent':\n"
        "    subprocess.Popen([sys.executable, __file__, 'child'])\n"
        "print(role, 'ready', flush=True)\n"
        "while True:\n"
        "    time.sleep(0.05)\n"
    )
    script.chmod(0o700)
    return str(script)


@pytest.fixture
def sandbox_data(tmp_path: Path) -> Path:
    return install_mirror(tmp_path / "data").data_dir


# --- pure parts -------------------------------------------------------------------------------


def test_environment_is_built_from_scratch(tmp_path: Path) -> None:
    source = {
        "PATH": "/opt/tf/bin:/usr/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "",
        "DATABASE_URL": "postgresql://board3:secret@db/board3",
        "TF_CLI_CONFIG_FILE": "/missing/terraformrc",
        "TF_LOG": "trace",
        "HOME": "/root",
    }
    env = build_env(
        home=tmp_path / "home",
        cli_config=tmp_path / "rc",
        extra={"TF_HTTP_PASSWORD": "token", "TF_VAR_x": "1"},
        source=source,
    )
    assert env == {
        "PATH": "/opt/tf/bin:/usr/bin",
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "TF_CLI_CONFIG_FILE": str(tmp_path / "rc"),
        "TF_HTTP_PASSWORD": "token",
        "TF_VAR_x": "1",
    }
    assert build_env(home=tmp_path, cli_config=tmp_path, source={})["PATH"] == os.defpath
    for bad in ({"A=B": "x"}, {"": "x"}, {"X": "a\0b"}):
        with pytest.raises(ValueError):
            build_env(home=tmp_path, cli_config=tmp_path, extra=bad, source={})


def test_cli_config_is_empty_or_the_sandbox_mirror(tmp_path: Path) -> None:
    assert cli_config() == ""
    text = cli_config(tmp_path)
    assert f'"{tmp_path.resolve() / "terraform" / "mirror"}"' in text and "filesystem_mirror" in text


def test_ui_lines_become_typed_messages() -> None:
    drift = parse_ui_line(
        '{"@level":"info","@message":"x: Drift detected (update)","type":"resource_drift",'
        '"change":{"resource":{"addr":"sandbox_instance.web","module":""},"action":"update"}}'
    )
    assert drift is not None
    assert (drift.type, drift.level, drift.address, drift.action) == (
        "resource_drift",
        "info",
        "sandbox_instance.web",
        "update",
    )
    planned = parse_ui_line(
        '{"type":"planned_change","change":{"resource":{"addr":"a.b[\\"k\\"]"},"action":"replace"}}'
    )
    assert planned is not None and (planned.address, planned.action) == ('a.b["k"]', "replace")
    done = parse_ui_line(
        b'{"@level":"info","@message":"a.b: Creation complete","type":"apply_complete",'
        b'"hook":{"resource":{"addr":"a.b"},"action":"create","id_value":"i-1"}}'
    )
    assert done is not None and (done.message, done.address, done.action) == (
        "a.b: Creation complete",
        "a.b",
        "create",
    )
    assert done.data["hook"]["id_value"] == "i-1"
    summary = parse_ui_line(
        '{"@level":"info","@message":"Plan: 1 to add","type":"change_summary",'
        '"changes":{"add":1,"change":2,"import":0,"remove":3,"operation":"plan"}}'
    )
    assert summary is not None and summary.action == "plan" and summary.address is None
    assert summary.changes == {"add": 1, "change": 2, "remove": 3, "import": 0}
    error = parse_ui_line('{"@level":"error","@message":"Error: boom","type":"diagnostic"}')
    assert error is not None and (error.level, error.address, error.changes) == ("error", None, None)
    odd = parse_ui_line('{"type":"planned_change","change":{"resource":"nope","action":7}}')
    assert odd is not None and (odd.address, odd.action) == (None, None)
    for text in ("", "Terraform has been successfully initialized!", "[1, 2]", '{"no": "type"}', "{"):
        assert parse_ui_line(text) is None


# --- the binary -------------------------------------------------------------------------------


def test_find_terraform_resolves_the_setting_through_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = find_terraform()
    assert os.path.isabs(path) and os.access(path, os.X_OK)
    assert find_terraform("terraform") == path
    monkeypatch.setenv("TERRAFORM_BIN", "no-such-terraform-binary")
    reset_settings()
    try:
        with pytest.raises(TerraformNotFound) as info:
            find_terraform()
        assert "no-such-terraform-binary" in str(info.value)
        assert "TERRAFORM_BIN" in str(info.value) and "PATH" in str(info.value)
        assert find_terraform(path) == path  # an explicit binary wins over the setting
    finally:
        monkeypatch.undo()
        reset_settings()
    with pytest.raises(TerraformNotFound):
        find_terraform(str(tmp_path / "terraform"))


async def test_a_missing_binary_makes_no_workspace(tmp_path: Path) -> None:
    with pytest.raises(TerraformNotFound):
        async with Workspace.create(parent=tmp_path, binary="no-such-terraform-binary"):
            pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
async def test_terraform_version_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    version = await terraform_version()
    assert version.count(".") == 2 and version[0].isdigit()
    monkeypatch.setattr(Workspace, "create", None)  # a second look would fail: it runs nothing
    assert await terraform_version(find_terraform()) == version


# --- workspaces and runs ----------------------------------------------------------------------


async def test_the_child_gets_exactly_the_environment_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BOARD3_CANARY", "do-not-leak")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", "/nonexistent/terraformrc")
    lines: list[Line] = []
    async with Workspace.create(parent=tmp_path, binary="env", env={"TF_VAR_x": "1"}) as ws:
        result = await ws.run([], on_line=lines.append)
    assert result.ok
    child = dict(line.text.split("=", 1) for line in lines)
    assert child == ws.env
    assert child["TF_CLI_CONFIG_FILE"] == str(ws.cli_config) and child["HOME"] == str(ws.home)
    assert child["TF_VAR_x"] == "1" and child["CHECKPOINT_DISABLE"] == "1" and child["TF_INPUT"] == "0"
    assert "BOARD3_CANARY" not in child and "DATABASE_URL" not in child
    assert "do-not-leak" not in "".join(child.values())


@pytest.mark.slow
async def test_init_plan_apply_stream_their_lines_in_order(tmp_path: Path) -> None:
    lines: list[Line] = []

    async def collect(line: Line) -> None:
        await asyncio.sleep(0)  # an async callback, as a log writer is
        lines.append(line)

    async with Workspace.create(parent=tmp_path) as ws:
        ws.write("main.tf", DATA)
        init = await ws.run(["init", "-input=false", "-no-color"], on_line=collect)
        assert init.ok and not (init.interrupted or init.killed or init.timed_out)
        assert any("successfully initialized" in line.text for line in lines)
        assert not any(line.stream == "stderr" for line in lines)  # no CLI config warning either
        lines.clear()
        plan = await ws.run(["plan", "-json", "-out=plan"], on_line=collect)
        assert plan.ok
        planned = [m for m in map(parse_ui_line, (x.text for x in lines)) if m is not None]
        assert planned[0].type == "version"
        assert [(m.address, m.action) for m in planned if m.type == "planned_change"] == [
            ("terraform_data.a", "create"),
            ("terraform_data.b", "create"),
        ]
        summary = next(m for m in planned if m.type == "change_summary")
        assert summary.action == "plan" and summary.changes == {
            "add": 2,
            "change": 0,
            "remove": 0,
            "import": 0,
        }
        lines.clear()
        apply = await ws.run(["apply", "-json", "plan"], on_line=collect)
        assert apply.ok and apply.duration > 0
        applied = [m for m in map(parse_ui_line, (x.text for x in lines)) if m is not None]
        assert len(applied) == len(lines)  # every stdout line of -json is a message
        events = [(m.type, m.address) for m in applied if m.type.startswith("apply_")]
        assert events == [
            ("apply_start", "terraform_data.a"),
            ("apply_complete", "terraform_data.a"),
            ("apply_start", "terraform_data.b"),
            ("apply_complete", "terraform_data.b"),
        ]
        assert applied[-1].type == "outputs"
        assert applied[-1].data["outputs"]["b"]["value"] == "one-two"
        state = json.loads((ws.work_dir / "terraform.tfstate").read_text())
        assert {r["name"] for r in state["resources"]} == {"a", "b"}


@pytest.mark.slow
async def test_lines_longer_than_64_kib_arrive_whole_and_capture_returns_the_document(
    tmp_path: Path,
) -> None:
    lines: list[Line] = []
    async with Workspace.create(parent=tmp_path) as ws:
        ws.write("main.tf", f'output "big" {{\n  value = format("%0{BIG}d", 7)\n}}\n')
        await ws.run(["init", "-input=false"])
        applied = await ws.run(APPLY, on_line=lines.append)
        assert applied.ok and applied.truncated_lines == 0
        outputs = [parse_ui_line(x.text) for x in lines if len(x.text) > 64 * 1024]
        assert len(outputs) == 1 and outputs[0] is not None and outputs[0].type == "outputs"
        assert outputs[0].data["outputs"]["big"]["value"] == "0" * (BIG - 1) + "7"

        shown = await ws.run(["show", "-json"], capture=True)
        assert shown.ok and shown.stdout is not None and len(shown.stdout) > BIG
        assert json.loads(shown.stdout)["values"]["outputs"]["big"]["value"].endswith("07")

        lines.clear()
        cut = await ws.run(["output", "-json"], on_line=lines.append, max_line=1000)
        assert cut.ok and cut.truncated_lines == 1  # told, not silent
        long = [x for x in lines if x.truncated]
        assert len(long) == 1 and len(long[0].text) == 1000
        assert lines[-1].text == "}" and not lines[-1].truncated  # the lines after it are intact

        with pytest.raises(OutputTooLarge, match="more than 4096 bytes"):
            await ws.run(["show", "-json"], capture=True, max_capture=4096)
        assert ws.process is None
        assert (await ws.run(["version"])).ok  # the workspace is usable again


@pytest.mark.slow
async def test_workspace_is_private_while_used_and_gone_afterwards(tmp_path: Path) -> None:
    async with Workspace.create(parent=tmp_path) as ws:
        ws.write("main.tf", DATA + 'module "m" {\n  source = "./modules/m"\n}\n')
        ws.write("modules/m/main.tf", "")
        with pytest.raises(ValueError):
            ws.write("../escape.tf", "")
        await ws.run(["init", "-input=false"])
        await ws.run(["apply", "-auto-approve", "-input=false"])
        assert stat.S_IMODE(ws.root.stat().st_mode) == 0o700
        for path in (ws.cli_config, ws.work_dir / "main.tf", ws.work_dir / "modules/m/main.tf"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert (ws.work_dir / ".terraform/modules/modules.json").exists()  # gone with the root below
        root = ws.root
    assert not root.exists() and list(tmp_path.iterdir()) == []

    with pytest.raises(RuntimeError, match="boom"):
        async with Workspace.create(parent=tmp_path) as ws:
            ws.write("main.tf", DATA)
            await ws.run(["init", "-input=false"])
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


async def test_one_command_at_a_time_and_idle_controls_do_nothing(tmp_path: Path) -> None:
    async with Workspace.create(parent=tmp_path, binary=stubborn(tmp_path)) as ws:
        assert ws.interrupt() is False and ws.kill() is False
        with pytest.raises(TypeError):
            await ws.run("version")  # type: ignore[arg-type]
        started = asyncio.Event()
        running = asyncio.create_task(ws.run([], on_line=lambda line: started.set()))
        await asyncio.wait_for(started.wait(), 10)
        with pytest.raises(TerraformError, match="already running"):
            await ws.run([])
        assert ws.kill()
        result = await running
        assert result.killed and result.exit_code == -9


def test_works_under_uvloop_as_in_the_server(tmp_path: Path) -> None:
    """uvicorn runs the server on uvloop, whose subprocesses take fewer options than asyncio's."""
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> None:
        lines: list[Line] = []
        async with Workspace.create(parent=tmp_path) as ws:
            ws.write("main.tf", f'output "big" {{\n  value = format("%0{BIG}d", 7)\n}}\n')
            assert (await ws.run(["init", "-input=false"], on_line=lines.append)).ok
            assert (await ws.run(APPLY, on_line=lines.append)).ok
            assert max(len(line.text) for line in lines) > BIG
            shown = await ws.run(["show", "-json"], capture=True)
            assert shown.stdout is not None and len(shown.stdout) > BIG
        async with Workspace.create(parent=tmp_path, binary=two_processes(tmp_path)) as ws:
            task = asyncio.ensure_future(ws.run([], on_line=lambda line: None))
            while ws.process is None or ws.process.pid is None:
                await asyncio.sleep(0.01)
            pgid = ws.process.pid
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert_group_gone(pgid)

    uvloop.run(scenario())
    assert list(tmp_path.glob("board3-tf-*")) == []


# --- stopping ---------------------------------------------------------------------------------


async def test_interrupt_is_one_sigint_to_terraform_alone_and_kill_is_for_the_group(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    group: list[int] = []
    async with Workspace.create(parent=tmp_path, binary=two_processes(tmp_path)) as ws:

        def on_line(line: Line) -> None:
            lines.append(line.text)
            assert ws.process is not None and ws.process.pid is not None
            group[:] = [ws.process.pid]
            if {"parent ready", "child ready"} <= set(lines) and not ws.process.interrupted:
                assert [ws.interrupt(), ws.interrupt(), ws.interrupt()] == [True, False, False]
            if line.text == "parent got SIGINT":  # a child would have had it by now, too
                asyncio.get_running_loop().call_later(0.3, ws.kill)

        result = await asyncio.wait_for(ws.run([], on_line=on_line), 30)
        assert ws.process is None  # the handle is gone once run() returned
    assert sorted(lines) == ["child ready", "parent got SIGINT", "parent ready"]
    assert result.interrupted and result.killed and not result.timed_out and result.exit_code == -9
    assert_group_gone(group[0])  # the child too


async def test_a_failing_callback_kills_the_command_and_is_raised(tmp_path: Path) -> None:
    group: list[int] = []
    async with Workspace.create(parent=tmp_path, binary=two_processes(tmp_path)) as ws:

        def on_line(line: Line) -> None:
            assert ws.process is not None and ws.process.pid is not None
            group.append(ws.process.pid)
            if line.text == "child ready":
                raise LookupError("the log store is gone")

        with pytest.raises(LookupError, match="log store"):
            await asyncio.wait_for(ws.run([], on_line=on_line), 30)
        assert ws.process is None
    assert_group_gone(group[0])


@pytest.mark.slow
async def test_interrupt_stops_terraform_gracefully(tmp_path: Path, sandbox_data: Path) -> None:
    """One interrupt: the instance being created finishes (the sandbox, like a real cloud, completes
    calls in flight), nothing new starts (``after`` depends on it), the state is saved and the lock
    released."""
    store_path = tmp_path / "store.sqlite3"
    async with Workspace.create(
        parent=tmp_path, sandbox=sandbox_data, env={STORE_ENV: str(store_path)}
    ) as ws:
        ws.write("main.tf", SANDBOX % (PROVIDER_SOURCE, 4))
        assert (await ws.run(["init", "-input=false", "-no-color"])).ok
        lines: list[Line] = []
        sent: list[bool] = []

        def on_line(line: Line) -> None:
            lines.append(line)
            message = parse_ui_line(line.text)
            if message and message.type == "apply_start" and message.address == "sandbox_instance.slow":
                environ = Path(f"/proc/{ws.process.pid}/environ").read_bytes()  # type: ignore[union-attr]
                assert dict(e.split("=", 1) for e in environ.decode().split("\0") if e) == ws.env
                sent.extend([ws.interrupt(), ws.interrupt(), ws.interrupt()])

        result = await ws.run(APPLY, on_line=on_line, timeout=120)
        assert sent == [True, False, False]  # exactly one SIGINT
        assert result.interrupted and not result.killed and not result.timed_out
        assert result.exit_code == 1 and 3.5 < result.duration < 60
        text = "\n".join(line.text for line in lines)
        assert "Interrupt received" in text and "Two interrupts received" not in text
        # the state was saved: the instance in flight finished and is recorded, the next never started
        listed = await ws.run(["state", "list"], capture=True)
        assert listed.stdout is not None
        recorded = listed.stdout.decode().split()
        assert recorded == ["sandbox_instance.slow", "sandbox_network.n", "sandbox_subnet.s"]
        assert not (ws.work_dir / ".terraform.tfstate.lock.info").exists()  # lock released
    store = SandboxStore(store_path)
    try:
        assert sorted(r.type for r in store.resources()) == [
            "sandbox_instance",
            "sandbox_network",
            "sandbox_subnet",
        ]
    finally:
        store.close()


@pytest.mark.slow
async def test_kill_leaves_no_process_of_the_group(tmp_path: Path, sandbox_data: Path) -> None:
    async with Workspace.create(parent=tmp_path, sandbox=sandbox_data) as ws:
        ws.write("main.tf", SANDBOX % (PROVIDER_SOURCE, 60))
        assert (await ws.run(["init", "-input=false"])).ok
        group: list[int] = []

        def on_line(line: Line) -> None:
            message = parse_ui_line(line.text)
            if message and message.type == "apply_start" and message.address == "sandbox_instance.slow":
                assert ws.process is not None and ws.process.pid is not None
                group.append(ws.process.pid)
                group.extend(live_members(ws.process.pid))
                assert ws.kill()

        result = await ws.run(APPLY, on_line=on_line)
        assert len(group) > 2  # terraform and at least one provider plugin were running
        assert result.killed and not result.interrupted and result.exit_code == -9
        assert result.duration < 30
        assert_group_gone(group[0])


@pytest.mark.slow
async def test_timeout_interrupts_and_terraform_stops(tmp_path: Path) -> None:
    lines: list[Line] = []
    async with Workspace.create(parent=tmp_path) as ws:
        ws.write("main.tf", 'resource "terraform_data" "a" {\n  input = "x"\n}\n')
        await ws.run(["init", "-input=false"])
        assert (await ws.run(["apply", "-auto-approve"])).ok
        # someone else holds the local state's lock: with -lock-timeout terraform waits for it
        held = os.open(ws.work_dir / "terraform.tfstate", os.O_RDWR)
        try:
            fcntl.lockf(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            (ws.work_dir / ".terraform.tfstate.lock.info").write_text(json.dumps(LOCK_INFO))
            result = await ws.run(
                ["apply", "-auto-approve", "-no-color", "-lock-timeout=60s", "-replace=terraform_data.a"],
                on_line=lines.append,
                timeout=1,
                grace=20,
            )
        finally:
            os.close(held)
    assert result.timed_out and result.interrupted and not result.killed
    assert result.exit_code == 1 and 1 <= result.duration < 15
    text = "\n".join(line.text for line in lines)
    assert "Interrupt received" in text and "Error acquiring the state lock" in text


async def test_timeout_kills_the_group_after_the_grace_period(tmp_path: Path) -> None:
    lines: list[Line] = []
    async with Workspace.create(parent=tmp_path, binary=stubborn(tmp_path)) as ws:
        pgid: list[int] = []

        def on_line(line: Line) -> None:
            lines.append(line)
            if ws.process and ws.process.pid and not pgid:
                pgid.append(ws.process.pid)

        result = await ws.run([], on_line=on_line, timeout=1, grace=0.5)
    assert result.timed_out and result.interrupted and result.killed and result.exit_code == -9
    assert 1.5 <= result.duration < 6
    assert [line.text for line in lines] == ["started", "got-interrupt"]  # one SIGINT, no more
    assert_group_gone(pgid[0])


async def test_what_outlives_terraform_in_its_group_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "leaves-a-child"
    script.write_text("#!/bin/sh\nsleep 60 &\necho $$\n")  # the child keeps our stdout open
    script.chmod(0o700)
    lines: list[Line] = []
    async with Workspace.create(parent=tmp_path, binary=str(script)) as ws:
        result = await ws.run([], on_line=lines.append)
    assert result.ok and not result.killed and result.duration < 3
    assert_group_gone(int(lines[0].text))


async def test_output_held_open_outside_the_group_does_not_hang_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(runner, "_DRAIN", 0.3)
    script = tmp_path / "escapes"
    script.write_text("#!/bin/sh\nsetsid sh -c 'echo $$; exec sleep 60' &\nsleep 0.5\n")
    script.chmod(0o700)
    lines: list[Line] = []
    async with Workspace.create(parent=tmp_path, binary=str(script)) as ws:
        result = await asyncio.wait_for(ws.run([], on_line=lines.append), 10)
    escaped = int(lines[0].text)
    try:
        assert result.ok and result.duration < 5
        assert "output stayed open" in caplog.text
    finally:
        os.kill(escaped, signal.SIGKILL)


@pytest.mark.slow
async def test_cancelling_the_caller_kills_the_group_and_removes_the_workspace(
    tmp_path: Path, sandbox_data: Path
) -> None:
    seen: dict[str, object] = {}
    slow_started = asyncio.Event()

    async def pipeline() -> None:
        async with Workspace.create(parent=tmp_path, sandbox=sandbox_data) as ws:
            seen["root"] = ws.root
            ws.write("main.tf", SANDBOX % (PROVIDER_SOURCE, 60))
            await ws.run(["init", "-input=false"])

            def on_line(line: Line) -> None:
                message = parse_ui_line(line.text)
                if message and message.type == "apply_start" and message.address == "sandbox_instance.slow":
                    assert ws.process is not None
                    seen["pgid"] = ws.process.pid
                    slow_started.set()

            await ws.run(APPLY, on_line=on_line)

    task = asyncio.create_task(pipeline())
    await asyncio.wait_for(slow_started.wait(), 60)
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - cancelled_at < 10  # killed, not waited for (the boot takes 60 s)
    assert isinstance(seen["pgid"], int)
    assert_group_gone(seen["pgid"])
    assert not Path(str(seen["root"])).exists() and list(tmp_path.glob("board3-tf-*")) == []


def test_workspaces_of_dead_processes_are_removed(tmp_path: Path) -> None:
    from app.terraform.runner import WORKSPACE_PREFIX, remove_orphans

    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = tmp_path / f"{WORKSPACE_PREFIX}{gone.pid}-abc"
    (dead / "work" / ".terraform").mkdir(parents=True)
    (dead / "work" / ".terraform" / "terraform.tfstate").write_text('{"backend": {"password": "x"}}')
    mine = tmp_path / f"{WORKSPACE_PREFIX}{os.getpid()}-def"
    mine.mkdir()
    other = tmp_path / "board3-tf-notapid"
    other.mkdir()
    assert remove_orphans(tmp_path) == 1
    assert not dead.exists() and mine.exists() and other.exists()
