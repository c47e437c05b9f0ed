"""The pinned-clock runner's pure parts: the offset it hands libfaketime, the moments it pins,
and the sleep that replaces libfaketime's broken one."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sheetbrain_dev import faketime_sleep
from sheetbrain_dev.pinned_clock import MOMENTS, faketime_environment, find_libfaketime


def test_the_offset_makes_the_pinned_moment_now_and_leaves_monotonic_time_real() -> None:
    # Given a moment one day and 30 seconds after the real time
    real_now = datetime(2026, 12, 2, 6, 0, tzinfo=UTC).timestamp()
    pinned = datetime(2026, 12, 3, 6, 0, 30, tzinfo=UTC)

    # When the environment of a pinned run is made
    env = faketime_environment(pinned, real_now=real_now, library=Path("/lib/libfaketimeMT.so.1"))

    # Then the clock is shifted by that many seconds, as a constant offset every process shares
    assert env["FAKETIME"] == "+86430"
    assert env["LD_PRELOAD"] == "/lib/libfaketimeMT.so.1"
    assert env["FAKETIME_DONT_FAKE_MONOTONIC"] == "1"
    assert env["SHEETBRAIN_PINNED_AT"] == "2026-12-03T06:00:30+00:00"


def test_a_moment_in_the_past_is_a_negative_offset() -> None:
    real_now = datetime(2027, 1, 1, tzinfo=UTC).timestamp()
    env = faketime_environment(datetime(2026, 12, 31, 23, 59, tzinfo=UTC), real_now=real_now, library=Path("x"))
    assert env["FAKETIME"] == "-60"


def test_the_pinned_moments_are_the_awkward_dates() -> None:
    # The 1st and 2nd of a month, a month's last day, 29 February and 31 December, in UTC
    assert [m.at.isoformat() for m in MOMENTS] == [
        "2027-02-28T23:50:00+00:00",
        "2027-03-01T00:00:05+00:00",
        "2027-03-02T00:05:00+00:00",
        "2028-02-29T12:00:00+00:00",
        "2027-12-31T23:50:00+00:00",
    ]


def test_a_named_library_is_used_only_when_it_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    library = tmp_path / "libfaketimeMT.so.1"
    monkeypatch.setenv("FAKETIME_LIB", str(library))
    assert find_libfaketime() is None
    library.write_bytes(b"")
    assert find_libfaketime() == library


def test_the_replacement_sleep_waits_the_time_asked_and_refuses_a_negative_one() -> None:
    started = time.monotonic()
    faketime_sleep.sleep(0.05)
    assert time.monotonic() - started >= 0.05
    faketime_sleep.sleep(0)
    with pytest.raises(ValueError, match="non-negative"):
        faketime_sleep.sleep(-1)
