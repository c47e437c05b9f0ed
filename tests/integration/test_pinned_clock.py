"""The pinned clock of ``make test-dates`` (sheetbrain_dev.pinned_clock): the layer, a child
process and the database read one clock, and under a pinned run that clock reads the pinned
moment. Without this, a pinned run that shifted only Python (or only PostgreSQL) would pass
while testing nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sheetbrain.db import system_transaction, tenant_transaction
from sheetbrain_dev.database import DatabaseUrls
from sheetbrain_dev.pinned_clock import PINNED_AT_VARIABLE

from tests.maintenance_support import new_org

pytestmark = pytest.mark.dates

# A pinned run starts its clock at the pinned moment; the whole run takes well under this.
RUN_BOUND = timedelta(minutes=10)
AGREEMENT = timedelta(seconds=5)


def clocks(database: DatabaseUrls) -> dict[str, datetime]:
    """Now, as read by the layer's process, a child process, and PostgreSQL through the
    application's and the system's logins."""
    org, user = new_org(database.owner, prefix="org_clock")
    layer = datetime.now(UTC)
    child = subprocess.run(
        [sys.executable, "-c", "import datetime; print(datetime.datetime.now(datetime.UTC).isoformat())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with tenant_transaction(org, user) as conn:
        app_row = conn.execute("SELECT now()").fetchone()
    with system_transaction() as conn:
        system_row = conn.execute("SELECT now(), current_date").fetchone()
    assert app_row is not None and system_row is not None
    return {
        "layer": layer,
        "child": datetime.fromisoformat(child),
        "database (app)": app_row[0],
        "database (system)": system_row[0],
    }


def test_the_layer_a_child_process_and_the_database_read_one_clock(database: DatabaseUrls) -> None:
    # Given the layer, a process it starts, and the database (pinned or not)
    # When each is asked for the time
    read = clocks(database)

    # Then they agree to within a few seconds (the reads are a few round trips apart)
    spread = max(read.values()) - min(read.values())
    assert spread < AGREEMENT, read


@pytest.mark.skipif(PINNED_AT_VARIABLE not in os.environ, reason="only under make test-dates")
def test_a_pinned_run_reads_the_pinned_moment_everywhere(database: DatabaseUrls) -> None:
    # Given a run pinned to a moment
    pinned = datetime.fromisoformat(os.environ[PINNED_AT_VARIABLE])

    # When the layer, a child process and the database are asked for the time
    read = clocks(database)

    # Then each reads the pinned moment, moved on by no more than the run's own duration, and
    # so the pinned date
    for source, now in read.items():
        assert pinned <= now < pinned + RUN_BOUND, (source, now)
        assert now.astimezone(UTC).date() == pinned.date(), (source, now)
