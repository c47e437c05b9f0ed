"""Import time of each function's handler module in a fresh interpreter (median of N runs).

Target (issue 2): every function except webhook under 0.5 s on this machine. Run:
    .venv/bin/python bench/cold_start.py [--runs 7]

Each run has the function's environment from template.yaml, as Lambda sets it. Lambda loads
the layer from /opt, which is read-only: Python can only use the bytecode the
layer ships (the layer's Makefile compiles it during `sam build`), never cache its own. So the
figure that counts is "shipped .pyc": every module imported from bytecode, whatever this
machine's PYTHONDONTWRITEBYTECODE or stale caches say. "no .pyc" is what a layer built without
that step would cost: only the standard library (precompiled in the Lambda runtime) has bytecode.

The "floor" row (bench/_floor_app.py) imports only the libraries every API function must load,
in the same runs: this machine's speed varies by 2x from hour to hour, and the floor tells
how much of a function's figure is ours.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from sheetbrain_dev.template import load_template

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 0.5
PROBE = """
import importlib.util, sys, time
t = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(time.perf_counter() - t)
"""


def _lambda_environment(name: str) -> dict[str, str]:
    """The function's variables as Lambda sets them: the template's plain strings (intrinsics,
    such as secret ARNs, cannot be resolved here and are not read at import). The floor probe
    gets the audit function's."""
    name = "audit" if name == "bench" else name
    function = next(f for f in load_template().functions.values() if f.code_dir.name == name)
    return {key: value for key, value in function.environment.items() if isinstance(value, str)}


def _run(app_py: Path, pycache: Path, *, write: bool) -> float:
    env = {
        **os.environ,
        **_lambda_environment(app_py.parent.name),
        "POWERTOOLS_TRACE_DISABLED": "true",  # the template's default (SdkTracing off), an !If here
        "AWS_DEFAULT_REGION": "eu-west-1",
        "PYTHONPYCACHEPREFIX": str(pycache),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(app_py)], capture_output=True, text=True, env=env, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def _keep_only_stdlib(pycache: Path) -> None:
    stdlib = pycache / Path(sysconfig.get_paths()["stdlib"]).relative_to("/")
    for pyc in list(pycache.rglob("*.pyc")):
        if stdlib not in pyc.parents or "site-packages" in pyc.parts:
            pyc.unlink()


def measure(apps: list[Path], runs: int, scratch: Path) -> dict[Path, tuple[float, float]]:
    """Per module: (median with every module's bytecode present, median with only the stdlib's).
    The runs interleave the modules, so a change of the machine's speed hits them alike."""
    caches: dict[Path, tuple[Path, Path]] = {}
    for n, app_py in enumerate(apps):
        shipped, bare = scratch / f"{n}-shipped", scratch / f"{n}-bare"
        for cache in (shipped, bare):
            shutil.rmtree(cache, ignore_errors=True)
            _run(app_py, cache, write=True)  # warm-up run writes the bytecode
        _keep_only_stdlib(bare)
        caches[app_py] = (shipped, bare)
    samples: dict[Path, tuple[list[float], list[float]]] = {app_py: ([], []) for app_py in apps}
    for _ in range(runs):
        for app_py, (shipped, bare) in caches.items():
            samples[app_py][0].append(_run(app_py, shipped, write=False))
            samples[app_py][1].append(_run(app_py, bare, write=False))
    return {app_py: (statistics.median(with_pyc), statistics.median(without))
            for app_py, (with_pyc, without) in samples.items()}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    floor_app = ROOT / "bench" / "_floor_app.py"
    apps = sorted((ROOT / "functions").glob("*/app.py"))
    with tempfile.TemporaryDirectory() as tmp:
        figures = measure([floor_app, *apps], args.runs, Path(tmp))
    print(f"{'function':10} {'shipped .pyc (s)':>17} {'no .pyc (s)':>12}  target")
    floor, floor_bare = figures[floor_app]
    print(f"{'(floor)':10} {floor:17.3f} {floor_bare:12.3f}  libraries alone, none of our modules")
    worst = 0.0
    for app_py in apps:
        name = app_py.parent.name
        with_pyc, without = figures[app_py]
        target = "n/a (svix)" if name == "webhook" else f"< {TARGET_S}"
        ok = name == "webhook" or with_pyc < TARGET_S
        worst = max(worst, with_pyc) if name != "webhook" else worst
        print(f"{name:10} {with_pyc:17.3f} {without:12.3f}  {target} {'ok' if ok else 'OVER'}")
    print(f"slowest non-webhook function (shipped .pyc): {worst:.3f} s, of which {worst - floor:.3f} s above the floor")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
