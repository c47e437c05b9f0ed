"""The date-sensitive tests (``pytest -m dates``) run with the clock pinned to the dates where
calendar arithmetic breaks: the 1st and 2nd of a month, a month's last day, 29 February and
31 December (``make test-dates``; ``make test`` runs it).

The clock is read in two places, Python (``datetime.now``, JWT and webhook timestamps, boto's
request signing) and PostgreSQL (``now()``, column defaults), and a pinned run means nothing
unless both read the same pinned time. So nothing in the code under test changes: libfaketime
(``LD_PRELOAD``) shifts the wall clock of the pytest process and of everything it starts, and
the tests get a PostgreSQL server of their own (``.pgdata-pinned``, started by the test session
under the same shift; the everyday ``.pgdata`` server keeps the real clock). The shift is one
constant offset (``FAKETIME="+N"``), the same in every process, computed just before each run,
so the pinned moment is "now" when the run starts and time goes on moving from there (the code
measures durations). The monotonic clock is left alone, so timeouts and waits stay real (and
``sheetbrain_dev.faketime_sleep`` works around libfaketime's ``time.sleep`` bug).
A test (``tests/integration/test_pinned_clock.py``) checks that the layer, a child process and
the database all read the pinned moment.

    python -m sheetbrain_dev.pinned_clock                  # every pinned moment, -m dates
    python -m sheetbrain_dev.pinned_clock --at 2027-03-01T00:00:05Z -- -k rollup
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sheetbrain_dev.paths import ROOT

PINNED_PGDATA = ROOT / ".pgdata-pinned"
PINNED_AT_VARIABLE = "SHEETBRAIN_PINNED_AT"  # what a pinned run tells the tests it pinned


@dataclass(frozen=True)
class Moment:
    at: datetime
    why: str
    zone: str = "UTC"  # the local time zone of the run (TZ and PGTZ)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# Moments near a UTC midnight leave the run ten minutes before it crosses the next one: the
# pinned run of the marked tests takes well under that, so each run sees one date. Each run
# also has a local time zone (TZ, and PGTZ for the database sessions) whose date is not the
# UTC one at that moment, so reading a local date or a session-zone midnight where the code
# means UTC shows (Lambda and RDS run in UTC; a laptop rarely does).
MOMENTS: tuple[Moment, ...] = (
    Moment(
        _utc("2027-02-28T23:50:00Z"), "a month's last day (February, not a leap year), before midnight", "Asia/Tokyo"
    ),
    Moment(
        _utc("2027-03-01T00:00:05Z"), "the 1st, just after midnight: yesterday is last month", "America/Los_Angeles"
    ),
    Moment(_utc("2027-03-02T00:05:00Z"), "the 2nd: two days ago is the last day of last month", "America/Los_Angeles"),
    Moment(_utc("2028-02-29T12:00:00Z"), "29 February", "Pacific/Kiritimati"),
    Moment(_utc("2027-12-31T23:50:00Z"), "31 December before midnight: next month is next year", "Europe/Berlin"),
)

_LIBRARY_PATTERNS = (
    "/usr/lib/*/faketime/libfaketimeMT.so.1",
    "/usr/lib/faketime/libfaketimeMT.so.1",
    "/usr/local/lib/faketime/libfaketimeMT.so.1",
)


def find_libfaketime() -> Path | None:
    """libfaketime's thread-safe build (the tests run threads), or ``FAKETIME_LIB`` when set."""
    chosen = os.environ.get("FAKETIME_LIB")
    if chosen:
        return Path(chosen) if Path(chosen).is_file() else None
    for pattern in _LIBRARY_PATTERNS:
        found = sorted(glob.glob(pattern))
        if found:
            return Path(found[0])
    return None


def faketime_environment(at: datetime, *, real_now: float, library: Path) -> dict[str, str]:
    """The variables that make a process (and its children) see ``at`` at ``real_now`` and a
    clock moving on from there: a constant offset, so every process agrees."""
    offset = round(at.timestamp() - real_now)
    return {
        "LD_PRELOAD": str(library),
        "FAKETIME": f"{offset:+d}",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_DONT_RESET": "1",
        PINNED_AT_VARIABLE: at.isoformat(),
    }


def stop_server(pgdata: Path) -> None:
    """Stop the pinned run's PostgreSQL if it runs (its clock is the last run's)."""
    if not (pgdata / "PG_VERSION").exists():
        return
    import logging

    import pgserver

    logging.getLogger("pgserver").setLevel(logging.CRITICAL)  # "no server running" is an answer here
    # pg_ctl refuses root; the data directory's owner (pgserver's own user when run as root) may.
    user = pgdata.owner() if os.geteuid() == 0 else None
    try:
        pgserver.pg_ctl(["status"], pgdata=pgdata, user=user)
    except subprocess.CalledProcessError:
        return  # not running
    pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)


def run_pinned(moment: Moment, pytest_args: Sequence[str], *, library: Path, base_env: Mapping[str, str]) -> int:
    """One pytest run of the marked tests with the clock at ``moment``; its exit status."""
    stop_server(PINNED_PGDATA)
    env = dict(base_env)
    for name in ("DATABASE_URL", "SYSTEM_DATABASE_URL", "MIGRATION_DATABASE_URL"):
        env.pop(name, None)  # the tests' own server, always
    env["SHEETBRAIN_PGDATA"] = str(PINNED_PGDATA)
    env.update(faketime_environment(moment.at, real_now=time.time(), library=library))
    env["TZ"] = env["PGTZ"] = moment.zone
    command = [
        *(sys.executable, "-m", "pytest", "-p", "sheetbrain_dev.faketime_sleep", "-p", "no:cacheprovider"),
        *("-m", "dates", "-q", *(pytest_args or ["tests/integration"])),  # where the marked tests are
    ]
    try:
        return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
    finally:
        stop_server(PINNED_PGDATA)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sheetbrain_dev.pinned_clock", description=__doc__.split("\n\n")[0])
    parser.add_argument("--at", action="append", type=_utc, help="a moment to pin (ISO 8601); default: the set")
    parser.add_argument("--zone", help="the local time zone of --at runs (default UTC)")
    parser.add_argument("--library", action="store_true", help="print libfaketime's path (exit 2 when missing)")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    library = find_libfaketime()
    if library is None:
        print("libfaketime not found: apt-get install faketime (or set FAKETIME_LIB)", file=sys.stderr)
        return 2
    if args.library:
        print(library)
        return 0
    zone = args.zone or "UTC"
    moments = [Moment(at, "chosen", zone) for at in args.at] if args.at else list(MOMENTS)
    results = []
    for moment in moments:
        print(f"== clock pinned to {moment.at:%Y-%m-%dT%H:%M:%SZ} (local zone {moment.zone}): {moment.why}", flush=True)
        started = time.monotonic()
        status = run_pinned(moment, args.pytest_args, library=library, base_env=os.environ)
        results.append((moment, status, time.monotonic() - started))
    print("== pinned-clock runs")
    for moment, status, seconds in results:
        print(f"   {moment.at:%Y-%m-%dT%H:%M:%SZ}  {'passed' if status == 0 else 'FAILED'}  {seconds:.0f} s")
    return max((status for _, status, _ in results), default=0)


if __name__ == "__main__":
    sys.exit(main())
