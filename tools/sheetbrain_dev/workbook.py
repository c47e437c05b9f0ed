"""Load an .xlsx into the audit engine's grid objects (dev tooling; openpyxl stays out of the layer)."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from typing import Any

from sheetbrain.audit import Sheet


def _formula_text(cell: Any) -> str | None:
    if getattr(cell, "data_type", None) != "f":
        return None  # a text constant that merely starts with "=" is not a formula
    raw = cell.value
    if isinstance(raw, str):
        return raw if raw.startswith("=") else None
    text = getattr(raw, "text", None)  # openpyxl's ArrayFormula keeps the formula in .text
    if isinstance(text, str):
        return text if text.startswith("=") else "=" + text
    return None


# Bounds on what an .xlsx may inflate to before openpyxl reads it (a zip bomb is refused unread).
# Python's zipfile never inflates a member past the size the archive declares for it (it cuts the
# output there and fails the CRC check), so checking the declared sizes bounds the real ones.
MAX_INFLATED_BYTES = 256 * 1024 * 1024  # all members together, inflated
MAX_MEMBERS = 10_000
MAX_RATIO = 100  # inflated / compressed, per member (Apache POI's default for OOXML, 1 / 0.01)
RATIO_GRACE_BYTES = 1024 * 1024  # members inflating to less than this may compress better

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # compound file: legacy .xls, or an encrypted .xlsx
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")  # the stream Office writes for a password


class UnreadableWorkbookError(Exception):
    """The file is not an .xlsx workbook this tool can read; the message says why, for a person."""


def check_xlsx(path: str) -> None:
    """Refuse, before any parsing, a file that is missing, not an .xlsx, or inflates beyond the bounds.

    Raises ``UnreadableWorkbookError``; returns when the file may be handed to openpyxl.
    """
    file = Path(path)
    if not file.is_file():
        raise UnreadableWorkbookError("no such file" if not file.exists() else "not a file")
    try:
        with file.open("rb") as handle:
            head = handle.read(8)
            if head == _OLE2_MAGIC:
                # The stream names sit in the compound file's directory, near the start for Office's files.
                encrypted = _ENCRYPTED_STREAM in head + handle.read(1024 * 1024)
                raise UnreadableWorkbookError(
                    "the workbook is password-protected: save a copy without a password and audit that"
                    if encrypted
                    else "this is a legacy .xls workbook: save it as .xlsx (Excel Workbook) and audit that"
                )
        archive = zipfile.ZipFile(file)
    except zipfile.BadZipFile as exc:
        raise UnreadableWorkbookError("not an .xlsx workbook (not a zip archive, or a corrupt one)") from exc
    except OSError as exc:
        raise UnreadableWorkbookError(f"cannot be read ({exc.strerror or exc})") from exc
    with archive:
        _check_members(archive.infolist(), file.stat().st_size)


def _check_members(members: list[zipfile.ZipInfo], file_size: int) -> None:
    if len(members) > MAX_MEMBERS:
        raise UnreadableWorkbookError(f"the archive holds {len(members):,} files, more than {MAX_MEMBERS:,}")
    names = {m.filename for m in members}
    if "[Content_Types].xml" not in names:
        raise UnreadableWorkbookError("not an .xlsx workbook (a zip archive without [Content_Types].xml)")
    if any(m.flag_bits & 0x1 for m in members):
        raise UnreadableWorkbookError("the archive's files are encrypted")
    if sum(m.compress_size for m in members) > file_size:
        raise UnreadableWorkbookError("corrupt archive: its files overlap (a zip bomb's trick)")
    total = 0
    for m in members:
        total += m.file_size
        if total > MAX_INFLATED_BYTES:
            raise UnreadableWorkbookError(
                f"the workbook inflates to more than {MAX_INFLATED_BYTES // 2**20} MiB (a zip bomb, or too large)"
            )
        if m.file_size > RATIO_GRACE_BYTES and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise UnreadableWorkbookError(
                f"{m.filename} inflates {m.file_size // max(m.compress_size, 1):,} times its stored size, "
                f"more than {MAX_RATIO} (a zip bomb)"
            )


def load_workbook_sheets(path: str) -> list[Sheet]:
    """Every worksheet as a ``Sheet`` anchored at A1: formulas from one load, cached values from another."""
    import openpyxl

    sheets: list[Sheet] = []
    with warnings.catch_warnings():
        # Old workbooks trigger openpyxl warnings about headers and extensions we do not need.
        warnings.simplefilter("ignore")
        formulas_book = openpyxl.load_workbook(path, data_only=False, read_only=True)
        values_book = openpyxl.load_workbook(path, data_only=True, read_only=True)
        try:
            for ws in formulas_book.worksheets:
                formulas = [[_formula_text(c) for c in row] for row in ws.iter_rows()]
                values = [list(row) for row in values_book[ws.title].iter_rows(values_only=True)]
                sheets.append(Sheet(ws.title, formulas, values, "A1"))
        finally:
            formulas_book.close()
            values_book.close()
    return sheets
