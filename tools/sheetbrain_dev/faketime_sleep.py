"""``time.sleep`` that works under libfaketime with the monotonic clock left real: a pytest
plugin (``-p sheetbrain_dev.faketime_sleep``) that the pinned-clock runs load.

Python 3.11+ sleeps with ``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)``. libfaketime 0.9.10
(Debian 12's) shifts that deadline by its offset even when told to leave the monotonic clock
alone (FAKETIME_DONT_FAKE_MONOTONIC), so every ``time.sleep`` fails with EINVAL
(wolfcw/libfaketime#426). Faking the monotonic clock instead hangs every timed lock wait, as
glibc's ``sem_clockwait`` is not intercepted (wolfcw/libfaketime#390). So the monotonic clock
stays real and sleeping waits in ``select`` on that clock, which libfaketime passes through
for a relative timeout. Only the way of waiting changes; no clock reading does.
"""

from __future__ import annotations

import os
import select
import time

_real_sleep = time.sleep


def sleep(seconds: float) -> None:
    """Wait ``seconds`` on the monotonic clock (interruptible, as ``time.sleep`` is)."""
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        select.select([], [], [], left)


def under_faketime() -> bool:
    return "faketime" in os.environ.get("LD_PRELOAD", "")


if under_faketime():
    time.sleep = sleep
