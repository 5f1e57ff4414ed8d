"""Benchmark: validate + generate Terraform JSON and HCL for 200, 2,000 and 15,000-node designs.

Prints the median wall time over several runs, the peak traced memory of one run, and the growth
ratio between sizes (time ratio divided by size ratio: 1.0 is linear). Run:
    .venv/bin/python bench/codegen.py
Targets: 2k nodes < 150 ms, 15k nodes < 2 s, peak memory < 300 MB, growth close to linear.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from app.terraform.blocks import config_from_analysis, invalid
from app.terraform.catalog import load_catalog
from app.terraform.codegen_hcl import render_hcl
from app.terraform.codegen_json import render_json
from app.terraform.samples import aws_design
from app.terraform.validate import analyze

SIZES = (200, 2_000, 15_000)
RUNS = {200: 15, 2_000: 9, 15_000: 5}


def once(canvas, catalog) -> None:
    analysis = analyze(canvas, catalog)
    if not analysis.valid:
        raise invalid(analysis)
    config = config_from_analysis(analysis, catalog)
    render_json(config)
    render_hcl(config)


def main() -> None:
    catalog = load_catalog(None)
    results = {}
    print(f"{'nodes':>7} {'edges':>7} {'median ms':>10} {'min ms':>8} {'peak MB':>8}")
    for n in SIZES:
        canvas = aws_design(n)
        once(canvas, catalog)  # warm caches (expression and type parsing)
        times = []
        for _ in range(RUNS[n]):
            gc.collect()
            t0 = time.perf_counter()
            once(canvas, catalog)
            times.append(time.perf_counter() - t0)
        gc.collect()
        tracemalloc.start()
        once(canvas, catalog)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        med = statistics.median(times)
        results[n] = med
        print(
            f"{n:>7} {len(canvas.edges):>7} {med * 1000:>10.1f} {min(times) * 1000:>8.1f} "
            f"{peak / 2**20:>8.1f}"
        )
    for a, b in itertools.pairwise(SIZES):
        ratio = results[b] / results[a]
        print(
            f"growth {a}->{b}: time x{ratio:.2f} for size x{b / a:.1f} (per-node ratio {ratio / (b / a):.2f})"
        )
    ok = results[2_000] < 0.150 and results[15_000] < 2.0
    print("targets (2k < 150 ms, 15k < 2 s):", "met" if ok else "MISSED")


if __name__ == "__main__":
    main()
