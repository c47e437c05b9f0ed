"""The hint that brings a busy message forward: a handle it cannot read is logged, not raised."""

from __future__ import annotations

from typing import Any

from sheetbrain.policies import work_queue


def test_a_local_handle_without_a_message_id_is_logged_and_the_message_left_as_it_is(
    logged_warnings: list[tuple[str, dict[str, Any]]],
) -> None:
    # Given a handle that looks local but names no row / When asked to bring it forward in 1.2 s
    moved = work_queue.redeliver_after("local-notanumber-abc", 1.2)
    # Then nothing is moved and the refusal is logged with the delay it would have had (rounded up)
    assert moved is False
    assert logged_warnings == [
        (
            "message not brought forward; it comes back after the queue's visibility timeout",
            {"error": "ValueError", "delay_s": 2},
        )
    ]


def test_a_local_receipt_handle_names_its_row_and_is_unique_per_delivery() -> None:
    first, second = work_queue.local_receipt_handle(42), work_queue.local_receipt_handle(42)
    assert first.startswith("local-42-") and second.startswith("local-42-") and first != second
