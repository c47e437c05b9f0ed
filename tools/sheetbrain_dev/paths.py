"""Where the project's files are, wherever the command is run from."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SQL_DIR = ROOT / "sql"
STATE_DIR = ROOT / ".sheetbrain"  # dev keys and other local state, git-ignored
PGDATA = ROOT / ".pgdata"
