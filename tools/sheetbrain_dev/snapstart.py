"""SnapStart's runtime hooks, run here as Lambda's runtime runs them, to simulate a snapshot and
a restore in one process: the before-snapshot hooks in the reverse order of their registration,
the after-restore hooks in order (awslambdaric's ``lambda_runtime_hooks_runner``, which also
empties the before-snapshot registry: here it is kept, so a test can simulate more than once)."""

from __future__ import annotations

from snapshot_restore_py import get_after_restore, get_before_snapshot


def run_before_snapshot() -> None:
    """What Lambda runs once init is done, before it takes the snapshot."""
    for func, args, kwargs in reversed(list(get_before_snapshot())):
        func(*args, **kwargs)


def run_after_restore() -> None:
    """What Lambda runs in each environment restored from the snapshot, before its first event."""
    for func, args, kwargs in list(get_after_restore()):
        func(*args, **kwargs)
