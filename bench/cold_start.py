"""Import time of each function's handler module in a fresh interpreter (median of N runs).

Target (issue 2): every function except webhook under 0.5 s on this machine. Run:
    .venv/bin/python bench/cold_start.py [--runs 7] [--requests 15]

SnapStart's view (issue 17) follows: per API function, in the same Lambda layout, an init as Lambda
runs it for a snapshot (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start: sheetbrain.snapstart.prepare
loads what the first request needs), the runtime's own hook runner (awslambdaric's
lambda_runtime_hooks_runner: before snapshot, then after restore), then the first request against
the embedded database, then warm requests, then requests each on a new connection (the pool closed
before each). "restore cost" is the first request less a new-connection request: what a restored
instance pays beyond setting up its connection. Target: under 50 ms. An on-demand init's first
request (import, then the request) is shown beside it.

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
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sheetbrain_dev import auth
from sheetbrain_dev.events import http_event
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


RESTORE_TARGET_MS = 50.0
# The run of one instance: init, the runtime's hooks (SnapStart only), the first request, then
# warm requests, then requests on a new connection each. Prints one JSON line of figures.
RESTORE_PROBE = """
import json, statistics, sys, time
import site
import awslambdaric.bootstrap
from awslambdaric import lambda_runtime_hooks_runner as hooks
module_name, event, requests, snapstart = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"

class Context:
    function_name = "bench"
    function_version = "1"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-1:000000000000:function:bench:live"
    aws_request_id = "bench"
    log_group_name = log_stream_name = "bench"
    def get_remaining_time_in_millis(self):
        return 29000

def invoke():
    t = time.perf_counter()
    result = module.lambda_handler(event, Context())
    elapsed = time.perf_counter() - t
    assert result["statusCode"] == 200, result
    return elapsed

t = time.perf_counter()
module = __import__(module_name)
figures = {"init": time.perf_counter() - t}
if snapstart:
    t = time.perf_counter()
    hooks.run_before_snapshot()
    hooks.run_after_restore()
    figures["hooks"] = time.perf_counter() - t
figures["first"] = invoke()
figures["warm"] = statistics.median(invoke() for _ in range(requests))
from sheetbrain.db.connection import close_pool
def on_new_connection():
    close_pool()
    return invoke()
figures["new_connection"] = statistics.median(on_new_connection() for _ in range(requests))
print(json.dumps(figures))
"""


def _bench_requests() -> tuple[str, dict[str, dict[str, object]]]:
    """A database of the bench's own, an org whose limits never answer 429 and whose rows exist
    (first sight is paid here, not by the first measured request), and per function one request
    as API Gateway passes it (v2 event, verified claims)."""
    import psycopg
    from _harness import bench_database, call

    urls = bench_database("sheetbrain_bench_snapstart")
    org, user = "org_snapbench", "user_snapbench"
    claims = auth.claims_for(user, org, "org:admin")
    status, _ = call("GET", "/api/billing", claims=claims)
    assert status == 200, status
    with psycopg.connect(urls.owner, autocommit=True) as conn:
        for feature in ("audits_per_month", "requests_per_minute", "user_requests_per_minute"):
            conn.execute(
                "INSERT INTO entitlement_overrides (org_id, feature, value, reason) VALUES (%s, %s, -1, 'bench')"
                " ON CONFLICT DO NOTHING",
                (org, feature),
            )
    formulas = [[f"=A{r}*{c}+B{r}" for c in range(1, 6)] for r in range(1, 9)]
    grid = {"sheet": {"name": "S", "range": "C1:G8", "formulas": formulas}}
    requests = {"audit": ("POST", "/api/audit", grid), "ingest": ("GET", "/api/policies", None),
                "billing": ("GET", "/api/billing", None)}  # fmt: skip
    template = load_template()
    events = {}
    for name, (method, path, body) in requests.items():
        found = template.find_route(method, path)
        assert found is not None, path
        route, params = found
        raw = json.dumps(body).encode() if body is not None else b""
        events[name] = http_event(route=route, path=path, path_params=params, method=method, raw_query="",
                                  headers=[("content-type", "application/json")], body=raw, claims=claims)  # fmt: skip
    return urls.app, events


def measure_restore(apps: dict[str, Path], requests: int, scratch: Path, layer: Path, runtime: Path) -> None:
    """SnapStart's view: see the module's docstring."""
    database_url, events = _bench_requests()
    base = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    print(f"\nSnapStart (first request after a simulated restore vs warm; ms, {requests} requests each)")
    print(f"{'function':10} {'init':>7} {'hooks':>6} {'first':>7} {'warm':>6} {'new conn':>8} "
          f"{'restore cost':>12}  target < {RESTORE_TARGET_MS:.0f}   on-demand: init, first")  # fmt: skip
    for name, event in events.items():
        task = scratch / "task" / name
        if not task.exists():  # made by the import runs, unless they were skipped
            task.mkdir(parents=True)
            shutil.copy(apps[name], task)
        row: dict[str, dict[str, float]] = {}
        for mode, init_type in (("snap", "snap-start"), ("demand", "on-demand")):
            env = {
                **base,
                **_lambda_environment(name),
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
                "AWS_DEFAULT_REGION": "eu-west-1",
                "PYTHONPATH": os.pathsep.join(map(str, (task, layer, runtime))),
                "PYTHONDONTWRITEBYTECODE": "1",
                "AWS_LAMBDA_INITIALIZATION_TYPE": init_type,
                "DATABASE_URL": database_url,
                # Nothing here may reach AWS: no inline EventBridge delivery, no AI review.
                "NOTIFY_INLINE": "false",
                "AI_REVIEW_ENABLED": "false",
            }
            args = (json.dumps(event), str(requests), "1" if mode == "snap" else "0")
            out = _run(RESTORE_PROBE, apps[name].stem, task, env, *args)
            row[mode] = json.loads(out.strip().splitlines()[-1])
        snap, demand = row["snap"], row["demand"]
        cost_ms = (snap["first"] - snap["new_connection"]) * 1000
        print(f"{name:10} {snap['init'] * 1000:7.0f} {snap['hooks'] * 1000:6.1f} {snap['first'] * 1000:7.1f} "
              f"{snap['warm'] * 1000:6.1f} {snap['new_connection'] * 1000:8.1f} {cost_ms:12.1f}  "
              f"{'ok' if cost_ms < RESTORE_TARGET_MS else 'OVER':>9}   "
              f"{demand['init'] * 1000:.0f}, {demand['first'] * 1000:.1f}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--requests", type=int, default=15, help="warm and new-connection requests per function")
    parser.add_argument("--skip-imports", action="store_true", help="only SnapStart's view")
    args = parser.parse_args()
    apps = {"floor": ROOT / "bench" / "_floor_app.py"}
    apps |= {app_py.parent.name: app_py for app_py in sorted((ROOT / "functions").glob("*/app.py"))}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        layer, runtime = build(Path(tmp))
        print(f"layer and runtime built in {time.perf_counter() - started:.0f} s", flush=True)
        if not args.skip_imports:
            report_imports(measure(apps, args.runs, Path(tmp), layer, runtime))
        measure_restore(apps, args.requests, Path(tmp), layer, runtime)
    return 0


def report_imports(figures: dict[str, float]) -> None:
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


if __name__ == "__main__":
    raise SystemExit(main())
