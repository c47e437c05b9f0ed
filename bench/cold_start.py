"""Import time of each function's handler module in a fresh interpreter (median of N runs).

Target (issue 2): every function except webhook under 0.5 s on this machine. Run:
    .venv/bin/python bench/cold_start.py [--runs 7]

The runs see what Lambda loads, not the dev virtualenv, which Lambda differs from: the dist-info
scans some libraries do at import (psycopg_binary's version check, pydantic's plugin loader) read
the virtualenv's 100-odd distributions, and its editable install's finder imports modules (pathlib,
re...) before the clock starts. So the bench first builds the layer with the recipe `sam
build` uses (layers/shared/Makefile), for this machine's platform and at constraints.txt's versions,
and installs what Lambda's runtime provides into a directory of its own: boto3, and the runtime
interface client (awslambdaric) whose bootstrap imports the handler. That bootstrap is imported
before the clock starts, as on Lambda: the standard modules it has loaded (logging, json,
decimal, traceback...) are not the handler's to load (0.1 s of the floor). Each run uses the
interpreter the virtualenv was made from, without site-packages (-S), with sys.path ordered as on
Lambda: the function's code (/var/task, copied without bytecode, as `sam build` copies it), the
layer (/opt/python), the runtime's packages. Lambda's /var/task and /opt are read-only, so nothing is
cached between runs: the function's own module is compiled every time, the layer's modules load
from the bytecode the layer ships. The Makefile compiles every module of the layer and checks the
result, so the figure for a layer without bytecode, once a column here, is no longer measured.
Each run has the function's environment from template.yaml, as Lambda sets it.

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
import tempfile
import time
from pathlib import Path

from sheetbrain_dev.template import load_template

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 0.5
PYTHON = sys._base_executable  # the interpreter the virtualenv was made from: Lambda's 3.12 here
# -S: no site-packages, nor the .pth files in them, which may import modules (certifi, pathlib...)
# Lambda has not loaded; site itself is imported, as on Lambda, before the clock starts.
# The runtime interface client's version (the one AWS publishes for container images; the managed
# python3.12 runtime runs the same client from /var/runtime).
RUNTIME_CLIENT = "awslambdaric==4.2.2"
PROBE = """
import site, sys, time
import awslambdaric.bootstrap
t = time.perf_counter()
__import__(sys.argv[1])
print(time.perf_counter() - t)
"""
# Every module imported comes from the built directories or the standard library, none from the
# interpreter's site-packages, the virtualenv or the editable install.
CHECK = """
import site, sys, sysconfig
import awslambdaric.bootstrap
__import__(sys.argv[1])
paths = sysconfig.get_paths()
print(sys.version)
for name, module in sorted(sys.modules.items()):
    file = getattr(module, "__file__", None)
    if file and not file.startswith(sys.argv[2]) and (
        not file.startswith(paths["stdlib"]) or file.startswith(paths["purelib"])
    ):
        print(f"{name} from {file}")
"""


def _lambda_environment(name: str) -> dict[str, str]:
    """The function's variables as Lambda sets them: the template's plain strings (intrinsics,
    such as secret ARNs, cannot be resolved here and are not read at import). The floor probe
    gets the audit function's."""
    name = "audit" if name == "floor" else name
    function = next(f for f in load_template().functions.values() if f.code_dir.name == name)
    return {key: value for key, value in function.environment.items() if isinstance(value, str)}


def build(scratch: Path) -> tuple[Path, Path]:
    """The layer in scratch/opt/python and the runtime's boto3 and interface client in
    scratch/runtime, both compiled like the layer. Exits with the failing command's output if a
    step fails."""
    opt, runtime = scratch / "opt", scratch / "runtime"
    constraints = ROOT / "constraints.txt"
    steps = [
        ["make", "-s", "-C", ROOT / "layers" / "shared", "build-SharedLayer", f"ARTIFACTS_DIR={opt}",
         f"PYTHON={PYTHON}", "PIP_TARGET_FLAGS="],
        [PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         "--target", runtime, "--constraint", constraints, "boto3", RUNTIME_CLIENT],
        [PYTHON, "-m", "compileall", "-q", "-f", "-j", "0", "--invalidation-mode", "unchecked-hash", runtime],
    ]  # fmt: skip
    for step in steps:
        done = subprocess.run([str(arg) for arg in step], capture_output=True, text=True, check=False)
        if done.returncode:
            sys.exit(f"layer build failed ({done.returncode}): {' '.join(map(str, step))}\n{done.stdout}{done.stderr}")
    return opt / "python", runtime


def _run(source: str, module: str, task: Path, env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [PYTHON, "-S", "-c", source, module, *args], cwd=task, capture_output=True, text=True, env=env, check=False
    )
    if out.returncode:
        sys.exit(f"{task.name}: the probe failed\n{out.stderr}")
    return out.stdout


def measure(apps: dict[str, Path], runs: int, scratch: Path, layer: Path, runtime: Path) -> dict[str, float]:
    """Per function: the median import time of its handler module. The runs interleave the
    functions, so a change of the machine's speed hits them alike."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    probes: dict[str, tuple[str, Path, dict[str, str]]] = {}
    for name, app_py in apps.items():
        task = scratch / "task" / name
        task.mkdir(parents=True)
        shutil.copy(app_py, task)
        env = {
            **base,
            **_lambda_environment(name),
            "POWERTOOLS_TRACE_DISABLED": "true",  # the template's default (SdkTracing off), an !If here
            "AWS_DEFAULT_REGION": "eu-west-1",
            "PYTHONPATH": os.pathsep.join(map(str, (task, layer, runtime))),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        probes[name] = (app_py.stem, task, env)
        lines = _run(CHECK, app_py.stem, task, env, str(scratch)).splitlines()  # also the warm-up run
        if lines[0] != sys.version or lines[1:]:
            sys.exit(f"{name}: not the layout Lambda loads: {lines}")
    samples: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(runs):
        for name, (module, task, env) in probes.items():
            samples[name].append(float(_run(PROBE, module, task, env).split()[-1]))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    apps = {"floor": ROOT / "bench" / "_floor_app.py"}
    apps |= {app_py.parent.name: app_py for app_py in sorted((ROOT / "functions").glob("*/app.py"))}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        layer, runtime = build(Path(tmp))
        print(f"layer and runtime built in {time.perf_counter() - started:.0f} s", flush=True)
        figures = measure(apps, args.runs, Path(tmp), layer, runtime)
    print(f"{'function':10} {'import (s)':>10}  target")
    floor = figures.pop("floor")
    print(f"{'(floor)':10} {floor:10.3f}  libraries alone, none of our modules")
    worst = 0.0
    for name, seconds in figures.items():
        target = "n/a (svix)" if name == "webhook" else f"< {TARGET_S}"
        ok = name == "webhook" or seconds < TARGET_S
        worst = max(worst, seconds) if name != "webhook" else worst
        print(f"{name:10} {seconds:10.3f}  {target} {'ok' if ok else 'OVER'}")
    print(f"slowest non-webhook function: {worst:.3f} s, of which {worst - floor:.3f} s above the floor")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
