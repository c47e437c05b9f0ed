"""Parsing JSON that came from outside (request bodies, webhook payloads, token claims)."""

from __future__ import annotations

import json
from typing import Any


def loads(text: str | bytes) -> Any:
    """``json.loads`` whose every refusal is a ``json.JSONDecodeError``: beyond bad syntax,
    Python refuses an integer of too many digits (ValueError), text that is not UTF-8
    (UnicodeDecodeError) and nesting deeper than its recursion limit (RecursionError), none of
    which may become a 500."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        shown = text if isinstance(text, str) else text.decode("utf-8", errors="replace")
        raise json.JSONDecodeError(f"unreadable JSON ({type(exc).__name__})", shown, 0) from exc
