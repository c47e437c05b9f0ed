"""Load an .xlsx into the audit engine's grid objects (dev tooling; openpyxl stays out of the layer).

Each worksheet's XML is read once, streamed: a cell's ``<f>`` (formula) and ``<v>`` (the value
Excel cached) come from the same element. openpyxl's read-only mode gives one or the other, so
the file used to be loaded twice, through a per-cell object layer that cost most of the time of
``sheetbrain audit`` on big sheets (200,000 formulas: 7 s of loading). Values are converted as
openpyxl converts them (numbers, shared and inline strings, booleans, errors, dates by their
number format, through openpyxl's public helpers), and shared formulas are translated to each
cell with openpyxl's ``Translator``, as openpyxl's own reader does.

The file is hostile until read: XML goes through the standard library's expat parser, which
fetches no external entity and, from expat 2.4.1 on, bounds entity expansion (billion laughs,
quadratic blowup); an older expat is refused. A sheet is refused beyond ``MAX_CELLS`` cells.
"""

from __future__ import annotations

import gc
import posixpath
import pyexpat
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import Element, iterparse

from openpyxl.formula.translate import Translator
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.cell import column_index_from_string, get_column_letter
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel, from_ISO8601
from sheetbrain.engine import Sheet

MAX_CELLS = 20_000_000  # a sheet beyond this is refused rather than filling memory (Excel: 17 billion)

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_DOC_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_ROW, _C, _F, _V, _IS, _T, _R = (_MAIN + tag for tag in ("row", "c", "f", "v", "is", "t", "r"))
_WORKSHEET = "/worksheet"
_COORD_RE = re.compile(r"[A-Z]{1,3}\d+")
_DIGITS = "0123456789"


# Every parse below goes through this check (ruff's S314 is about expat before 2.4.1).
_SAFE_EXPAT = pyexpat.version_info >= (2, 4, 1)


class WorkbookError(Exception):
    """The file is not a workbook this loader can read (with the reason)."""


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
    """Every worksheet as a ``Sheet`` anchored at A1, each cell's formula and cached value from one pass."""
    if not _SAFE_EXPAT:
        raise WorkbookError(f"expat {pyexpat.EXPAT_VERSION} does not bound entity expansion: refusing to read {path}")
    # The grid is millions of small acyclic objects (lists, strings, numbers) that reference
    # counting frees: the cycle collector's repeated scans of them cost a third of the loading.
    collecting = gc.isenabled()
    gc.disable()
    try:
        with zipfile.ZipFile(path) as archive:
            return _Package(archive).sheets()
    except (zipfile.BadZipFile, KeyError, SyntaxError, ValueError) as exc:  # ParseError is a SyntaxError
        raise WorkbookError(f"{path}: not a readable .xlsx workbook ({exc})") from exc
    finally:
        if collecting:
            gc.enable()


def _tree(archive: zipfile.ZipFile, name: str) -> Element:
    with archive.open(name) as fh:
        root: Element | None = None
        for _, element in iterparse(fh, events=("end",)):  # noqa: S314 (expat >= 2.4.1, checked above)
            root = element
        if root is None:
            raise ValueError(f"{name} is empty")
        return root


def _text(element: Element) -> str:
    # A string item (<si> or <is>): its plain text or its rich-text runs, phonetic hints left out.
    plain = element.find(_T)
    snippets = [plain.text or ""] if plain is not None else []
    snippets.extend(run.findtext(_T) or "" for run in element.iterfind(_R))
    return "".join(snippets)


class _Package:
    """The parts of the workbook the grid needs: sheets, shared strings, date formats, calendar."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        names = set(archive.namelist())
        root_rels = _tree(archive, "_rels/.rels")
        main = next(
            (rel.get("Target", "") for rel in root_rels if (rel.get("Type") or "").endswith("/officeDocument")),
            "xl/workbook.xml",
        ).lstrip("/")
        self.book = _tree(archive, main)
        folder = posixpath.dirname(main)
        rels_name = posixpath.join(folder, "_rels", posixpath.basename(main) + ".rels")
        self.targets: dict[str, tuple[str, str]] = {}  # relationship id -> (type, part name)
        if rels_name in names:
            for rel in _tree(archive, rels_name):
                target = rel.get("Target", "")
                relative = posixpath.normpath(posixpath.join(folder, target))
                part = target.lstrip("/") if target.startswith("/") else relative
                self.targets[rel.get("Id", "")] = (rel.get("Type") or "", part)
        self.strings = self._shared_strings(names)
        self.dates, self.durations = self._date_styles(names)
        properties = self.book.find(_MAIN + "workbookPr")
        date1904 = properties is not None and properties.get("date1904", "").lower() in ("1", "true")
        self.epoch = CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900

    def _part(self, kind: str, names: set[str]) -> str | None:
        return next((part for t, part in self.targets.values() if t.endswith(kind) and part in names), None)

    def _shared_strings(self, names: set[str]) -> list[str]:
        part = self._part("/sharedStrings", names)
        if part is None:
            return []
        strings: list[str] = []
        with self.archive.open(part) as fh:
            for _, element in iterparse(fh, events=("end",)):  # noqa: S314 (expat >= 2.4.1)
                if element.tag == _MAIN + "si":
                    strings.append(_text(element))
                    element.clear()
        return strings

    def _date_styles(self, names: set[str]) -> tuple[frozenset[int], frozenset[int]]:
        # Style indexes whose number format shows a date or a duration (openpyxl's rule, its helpers).
        part = self._part("/styles", names)
        if part is None:
            return frozenset(), frozenset()
        styles = _tree(self.archive, part)
        custom = {
            int(fmt.get("numFmtId", "-1")): fmt.get("formatCode", "")
            for fmt in styles.iterfind(f"{_MAIN}numFmts/{_MAIN}numFmt")
        }
        dates, durations = set(), set()
        for index, xf in enumerate(styles.iterfind(f"{_MAIN}cellXfs/{_MAIN}xf")):
            number = int(xf.get("numFmtId", "0"))
            code = custom.get(number) or BUILTIN_FORMATS.get(number)
            if code and is_date_format(code):
                dates.add(index)
            if code and is_timedelta_format(code):
                durations.add(index)
        return frozenset(dates), frozenset(durations)

    def sheets(self) -> list[Sheet]:
        out = []
        for entry in self.book.iterfind(f"{_MAIN}sheets/{_MAIN}sheet"):
            kind, part = self.targets.get(entry.get(_DOC_REL + "id", ""), ("", ""))
            if not kind.endswith(_WORKSHEET):
                continue  # chartsheets and dialog sheets hold no cells
            with self.archive.open(part) as fh:
                formulas, values = self._grid(fh)
            out.append(Sheet(entry.get("name", ""), formulas, values, "A1"))
        return out

    def _grid(self, source: IO[bytes]) -> tuple[list[list[Any]], list[list[Any]]]:
        formulas: list[list[Any]] = []
        values: list[list[Any]] = []
        shared: dict[str, tuple[str, str]] = {}  # shared formula index -> (its formula, its cell)
        columns: dict[str, int] = {}  # column letters -> number
        cells = 0
        for row_number, row in self._rows(source):
            while len(values) < row_number:
                formulas.append([])
                values.append([])
            frow, vrow = formulas[row_number - 1], values[row_number - 1]
            col = 0
            for cell in row:
                ref = cell.get("r")
                if ref is not None:
                    letters = ref.rstrip(_DIGITS)
                    known = columns.get(letters)
                    if known is None:
                        if _COORD_RE.fullmatch(ref) is None:
                            raise ValueError(f"cell reference {ref!r} is not an A1 address")
                        known = columns[letters] = column_index_from_string(letters)
                    col = known
                else:
                    col += 1
                formula, value = self._cell(cell, ref or f"{get_column_letter(col)}{row_number}", shared)
                if formula is None and value is None:
                    continue
                cells += 1
                if cells > MAX_CELLS:
                    raise ValueError(f"a sheet holds more than {MAX_CELLS:,} cells")
                if len(vrow) < col:
                    frow.extend([None] * (col - len(frow)))
                    vrow.extend([None] * (col - len(vrow)))
                frow[col - 1], vrow[col - 1] = formula, value
            row.clear()
        return formulas, values

    @staticmethod
    def _rows(source: IO[bytes]) -> Iterator[tuple[int, Element]]:
        # Rows as they end; the caller clears each (an emptied row left in the tree is ~70 bytes).
        number = 0
        for _, element in iterparse(source, events=("end",)):  # noqa: S314 (expat >= 2.4.1)
            if element.tag == _ROW:
                given = element.get("r")
                number = int(given) if given else number + 1
                if not 1 <= number <= 1_048_576:
                    raise ValueError(f"row number {number} is outside a sheet")
                yield number, element

    def _cell(self, cell: Element, ref: str, shared: dict[str, tuple[str, str]]) -> tuple[str | None, Any]:
        kind = cell.get("t", "n")
        formula = None
        f = cell.find(_F)
        if f is not None:
            formula = self._formula(f, ref, shared)
        if kind == "inlineStr":
            inline = cell.find(_IS)
            return formula, _text(inline) if inline is not None else None
        raw = cell.findtext(_V) or None
        if raw is None:
            return formula, None
        if kind == "n":
            number: int | float = float(raw) if "." in raw or "E" in raw or "e" in raw else int(raw)
            style = int(cell.get("s", "0"))
            if style in self.dates:
                try:
                    return formula, from_excel(number, self.epoch, timedelta=style in self.durations)
                except (OverflowError, ValueError):
                    return formula, "#VALUE!"  # a serial outside the calendar, as openpyxl reads it
            return formula, number
        if kind == "s":
            return formula, self.strings[int(raw)]
        if kind == "b":
            return formula, bool(int(raw))
        if kind == "d":
            return formula, from_ISO8601(raw)
        return formula, raw  # "str" (a formula's text result) and "e" (an error value)

    @staticmethod
    def _formula(f: Element, ref: str, shared: dict[str, tuple[str, str]]) -> str | None:
        kind = f.get("t")
        text = "=" + (f.text or "")
        if kind == "dataTable":
            return None  # a what-if table's cells: their values are constants to the audit
        if kind == "shared":
            index = f.get("si", "")
            if f.text:  # the first cell of the shared formula defines it for the others
                shared[index] = (text, ref)
            elif index in shared:
                master, origin = shared[index]
                return str(Translator(master, origin=origin).translate_formula(ref))
        return text
