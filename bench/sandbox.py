"""Benchmark the sandbox provider: plugin handshake, and terraform init/plan/apply/destroy wall time.

Run: .venv/bin/python bench/sandbox.py [--repeat 5]
Targets: handshake < 0.4 s; apply of 50 resources < 5 s.
Everything happens in a temporary data dir; nothing outside it is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.sandbox import PROVIDER_SOURCE, PROVIDER_VERSION
from app.sandbox.install import install_mirror, terraform_env

HANDSHAKE_TARGET = 0.4
APPLY_50_TARGET = 5.0


def handshake_seconds(launcher: Path, env: dict[str, str]) -> float:
    """Launch the provider and time until it prints its go-plugin handshake line."""
    started = time.perf_counter()
    with subprocess.Popen(
        [str(launcher)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    ) as proc:
        assert proc.stdout is not None
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(proc.stdout, selectors.EVENT_READ)
                if not selector.select(timeout=30):
                    raise RuntimeError("provider printed no handshake within 30 s")
            line = proc.stdout.readline().decode()
            elapsed = time.perf_counter() - started
        finally:
            proc.terminate()
    if not line.startswith("1|6|unix|"):
        raise RuntimeError(f"unexpected handshake line: {line!r}")
    return elapsed


def configuration(count: int) -> dict[str, Any]:
    """``count`` resources: a network, a subnet, a security group, then instances and buckets."""
    resources: dict[str, Any] = {
        "sandbox_network": {"main": {"cidr_block": "10.0.0.0/16"}},
        "sandbox_subnet": {"main": {"network_id": "${sandbox_network.main.id}", "cidr_block": "10.0.0.0/22"}},
        "sandbox_security_group": {
            "main": {
                "name": "bench",
                "network_id": "${sandbox_network.main.id}",
                "ingress": [
                    {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"]}
                ],
            }
        },
        "sandbox_instance": {},
        "sandbox_bucket": {},
    }
    for n in range(count - 3):
        if n % 2 == 0:
            resources["sandbox_instance"][f"vm_{n}"] = {
                "subnet_id": "${sandbox_subnet.main.id}",
                "image": "ubuntu-24.04",
                "security_group_ids": ["${sandbox_security_group.main.id}"],
            }
        else:
            resources["sandbox_bucket"][f"b_{n}"] = {"name": f"bench-{count}-{n}"}
    header = {"required_providers": {"sandbox": {"source": PROVIDER_SOURCE, "version": PROVIDER_VERSION}}}
    return {"terraform": header, "resource": {k: v for k, v in resources.items() if v}}


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def lifecycle(terraform: str, count: int, root: Path, env: dict[str, str]) -> dict[str, float]:
    workdir = root / f"work-{count}"
    workdir.mkdir(mode=0o700)
    (workdir / "main.tf.json").write_text(json.dumps(configuration(count)))
    steps = {
        "init": [terraform, "init", "-input=false", "-no-color"],
        "plan": [terraform, "plan", "-input=false", "-no-color", "-out=plan.bin"],
        "apply": [terraform, "apply", "-input=false", "-no-color", "plan.bin"],
        "destroy": [terraform, "destroy", "-auto-approve", "-input=false", "-no-color"],
    }
    return {name: timed(args, workdir, env) for name, args in steps.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="handshakes to time (default 5)")
    options = parser.parse_args()
    terraform = shutil.which(os.environ.get("TERRAFORM_BIN", "terraform"))
    if terraform is None:
        print("terraform is not on PATH", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="board3-bench-sandbox-") as tmp:
        root = Path(tmp)
        install = install_mirror(root / "data")
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(root / "home"), "LANG": "C.UTF-8"}
        env.update(terraform_env(install.data_dir))

        cold = handshake_seconds(install.launcher, env)  # first launch also creates the TLS cert cache
        warm = [handshake_seconds(install.launcher, env) for _ in range(options.repeat)]
        median = statistics.median(warm)
        print(f"python       {sys.version.split()[0]} ({sys.executable})")
        version = subprocess.run([terraform, "version"], capture_output=True, text=True).stdout.split()[1]
        print(f"terraform    {version}")
        print(f"cpus         {os.cpu_count()}")
        print()
        print("provider handshake (launch -> handshake line)")
        print(f"  first launch  {cold:6.3f} s")
        verdict = "ok" if median < HANDSHAKE_TARGET else "MISSED"
        spread = f"min {min(warm):.3f} s  max {max(warm):.3f} s"
        print(f"  warm x{options.repeat:<2}      median {median:.3f} s  {spread}")
        print(f"  target: median < {HANDSHAKE_TARGET} s: {verdict}")
        print()
        print(f"{'resources':>9}  {'init':>7}  {'plan':>7}  {'apply':>7}  {'destroy':>7}   (wall seconds)")
        results = {}
        for count in (10, 50):
            results[count] = lifecycle(terraform, count, root, env)
            r = results[count]
            print(f"{count:>9}  {r['init']:7.2f}  {r['plan']:7.2f}  {r['apply']:7.2f}  {r['destroy']:7.2f}")
        apply_50 = results[50]["apply"]
        print()
        print(
            f"apply of 50 resources: {apply_50:.2f} s   target < {APPLY_50_TARGET} s: "
            f"{'ok' if apply_50 < APPLY_50_TARGET else 'MISSED'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
