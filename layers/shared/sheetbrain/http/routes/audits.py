"""POST /api/audit, GET /api/audits, GET /api/audits/{id} and its HTML report (the audit function)."""

import uuid
from collections.abc import Iterable
from datetime import datetime
from itertools import chain
from typing import Annotated, Any, Self

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.constants import DEFAULT_OPENAPI_RESPONSE_DESCRIPTION
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator, model_validator

from sheetbrain.auditing import service
from sheetbrain.db.audits_repo import AuditRecord
from sheetbrain.http.models import NOT_BLANK, NOT_BLANK_PATTERN, RequestModel, path_id
from sheetbrain.http.pagination import CURSOR_DESCRIPTION, CURSOR_PATTERN, decode_cursor, encode_cursor
from sheetbrain.http.resolver import authenticate

router = APIGatewayHttpRouter()

# Grid limits, from bench/engine_scale.py and the measurements in the README ("Limits"): the audit
# function (1 GB, 29 s, ~0.6 vCPU) must hold the worst grid, 50,000 distinct formulas parsed one
# by one (4-8 s of one core, ~120 MB), plus its sheet checks' bounded work (engine/budget.py).
# Copies of one formula cost a fifth of that. The work follows the cells, not the shape: a
# 50,000-row column costs what 5,000 rows of 10 do, so rows are bounded by the cell count only.
MAX_FORMULAS = 2_000
MAX_CELLS = 50_000
MAX_ROWS = MAX_CELLS
MAX_COLUMNS = 500
MAX_FORMULA_CHARS = 8_192  # Excel's own limit
# A cell of a sheet, A1 to Excel's last cell XFD1048576 (column 16,384, row 1,048,576): the
# bounds are in the pattern, so the document states them.
_COLUMN = r"(?:[A-Za-z]{1,2}|[A-Wa-w][A-Za-z]{2}|[Xx][A-Ea-e][A-Za-z]|[Xx][Ff][A-Da-d])"
_ROW = r"(?:[1-9][0-9]{0,5}|10[0-3][0-9]{4}|104[0-7][0-9]{3}|1048[0-4][0-9]{2}|10485[0-6][0-9]|104857[0-6])"
_CELL = rf"\$?{_COLUMN}\$?{_ROW}"
RANGE_PATTERN = rf"^{_CELL}(?::{_CELL})?$"
# Excel's last cell, XFD1048576: a range or a grid past it names cells no sheet has.
SHEET_ROWS = 1_048_576
SHEET_COLUMNS = 16_384
_RANGE_DESCRIPTION = (
    "A1 range of the grid, e.g. A1:D20; its first cell is the grid's top-left cell. Within Excel's"
    " last cell XFD1048576, and so must the grid be, counted from that cell (422 otherwise)"
)


def _check_formulas(texts: Iterable[str | None]) -> None:
    # One pass in C over every cell (filter drops None and ""): a grid holds up to 50,000 cells.
    if max(map(len, filter(None, texts)), default=0) > MAX_FORMULA_CHARS:
        raise ValueError(f"a formula is longer than {MAX_FORMULA_CHARS} characters")


# A cell's value as a spreadsheet reports it: never a nested list or object.
Cell = str | int | float | bool | None


def _corner(cell: str) -> tuple[int, int]:
    """(row, column) of an A1 cell that matched ``RANGE_PATTERN``."""
    letters = cell.replace("$", "").rstrip("0123456789")
    column = 0
    for letter in letters.upper():
        column = column * 26 + ord(letter) - ord("A") + 1
    return int(cell.replace("$", "")[len(letters) :]), column


_GRID_DESCRIPTION = f"Rows of cells, at most {MAX_ROWS} rows of {MAX_COLUMNS} cells and {MAX_CELLS} cells in all"


def _grid_schema(schema: dict[str, Any]) -> None:
    """The limits the validators below check, stated in the document: a row's width, a formula's
    length (the total of cells is a sum over rows, which JSON Schema cannot state: described)."""
    formula_rows = schema["properties"]["formulas"]["items"]
    formula_rows["maxItems"] = MAX_COLUMNS
    formula_rows["items"]["anyOf"][0]["maxLength"] = MAX_FORMULA_CHARS
    schema["properties"]["values"]["anyOf"][0]["items"]["maxItems"] = MAX_COLUMNS


class SheetIn(BaseModel):
    model_config = ConfigDict(json_schema_extra=_grid_schema)

    name: str = Field(min_length=1, max_length=100)
    formulas: list[list[str | None]] = Field(
        max_length=MAX_ROWS,
        description=_GRID_DESCRIPTION + "; a formula cell starts with '=', and at least one cell is one",
        json_schema_extra={"contains": {"type": "array", "contains": {"type": "string", "pattern": "^="}}},
    )
    values: list[list[Cell]] | None = Field(
        default=None, max_length=MAX_ROWS, description=_GRID_DESCRIPTION + "; the cells' current values"
    )
    # After the grids: its check needs their size (pydantic validates fields in this order).
    range: str | None = Field(default=None, pattern=RANGE_PATTERN, description=_RANGE_DESCRIPTION)

    @field_validator("formulas", "values")
    @classmethod
    def _grid(cls, rows: list[list[Cell]] | None) -> list[list[Cell]] | None:
        if rows is None:
            return rows
        widths = list(map(len, rows))
        if max(widths, default=0) > MAX_COLUMNS:
            raise ValueError(f"a row has more than {MAX_COLUMNS} columns")
        if sum(widths) > MAX_CELLS:
            raise ValueError(f"the grid has more than {MAX_CELLS} cells")
        return rows

    @field_validator("formulas")
    @classmethod
    def _formula_cells(cls, rows: list[list[str | None]]) -> list[list[str | None]]:
        _check_formulas(chain.from_iterable(rows))
        return rows

    @field_validator("range")
    @classmethod
    def _within_a_sheet(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        corners = [_corner(cell) for cell in value.split(":")]
        if any(not 1 <= row <= SHEET_ROWS or column > SHEET_COLUMNS for row, column in corners):
            raise ValueError("the range names a cell outside a sheet (A1 to XFD1048576)")
        # The grid starts at the range's first cell (the audit's origin); it must end on the sheet.
        grids = [grid for grid in (info.data.get("formulas"), info.data.get("values")) if grid]
        height = max(map(len, grids), default=0)
        width = max((len(row) for grid in grids for row in grid), default=0)
        top, left = corners[0]
        if top + height - 1 > SHEET_ROWS or left + width - 1 > SHEET_COLUMNS:
            raise ValueError(
                f"a grid of {height} rows and {width} columns from {value.split(':')[0]} runs past"
                " the sheet's last cell XFD1048576"
            )
        return value


class ContextIn(BaseModel):
    spreadsheet_id: str | None = Field(default=None, max_length=200)
    purpose: str | None = Field(default=None, max_length=500)


def _audit_schema(schema: dict[str, Any]) -> None:
    """What ``_one_source`` and ``_formulas`` check, stated in the document: exactly one of a flat
    list and a sheet grid (JSON null counts as absent), and a formula's length."""
    schema["oneOf"] = [
        {"required": ["formulas"], "properties": {"formulas": {"type": "array"}, "sheet": {"type": "null"}}},
        {"required": ["sheet"], "properties": {"sheet": {"type": "object"}, "formulas": {"type": "null"}}},
    ]
    schema["properties"]["formulas"]["anyOf"][0]["items"]["maxLength"] = MAX_FORMULA_CHARS


class AuditIn(RequestModel):
    model_config = ConfigDict(json_schema_extra=_audit_schema)

    formulas: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_FORMULAS,
        description="Formulas to audit; at least one holds a character other than white space",
        json_schema_extra={"contains": {"type": "string", "pattern": NOT_BLANK_PATTERN}},
    )
    sheet: SheetIn | None = None
    context: ContextIn | None = None
    policy_ids: list[uuid.UUID] | None = Field(default=None, max_length=50, description="Cite only these policies")
    # Strict: JSON true or false, as documented (lax pydantic would take 0, 1 or "yes").
    ai_review: StrictBool | None = Field(default=None, description="Ask for the AI review (when the plan includes it)")

    @field_validator("formulas")
    @classmethod
    def _formulas(cls, formulas: list[str] | None) -> list[str] | None:
        _check_formulas(formulas or [])
        return formulas

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.formulas is None) == (self.sheet is None):
            raise ValueError("send either 'formulas' or 'sheet', not both or neither")
        # An audit of nothing would still use up a unit of the monthly quota.
        if self.formulas is not None and not any(NOT_BLANK.search(text) for text in self.formulas):
            raise ValueError("'formulas' holds no formula")
        if self.sheet is not None and not any(
            isinstance(cell, str) and cell.startswith("=") for row in self.sheet.formulas for cell in row
        ):
            raise ValueError("'sheet.formulas' holds no formula (formula cells start with '=')")
        return self


class PolicyRef(BaseModel):
    policy_id: uuid.UUID
    title: str
    clause: str | None
    excerpt: str
    score: float
    match: str = Field(description="'rule': the clause was mapped to this check; 'retrieval': found by search")


class FindingOut(BaseModel):
    cell: str | None = Field(default=None, description="Present when the request carried a grid")
    formula: str
    rule: str
    severity: str
    message: str
    suggestion: str | None
    policy: PolicyRef | None


class SummaryOut(BaseModel):
    formulas: int
    findings: int
    compliant: int = Field(description="Formulas with no finding of medium severity or above")
    score: int = Field(description="compliant / formulas, in percent")
    by_severity: dict[str, int]


class AuditOut(BaseModel):
    audit_id: uuid.UUID
    created_at: datetime
    duration_ms: int
    rag_used: bool
    clauses_used: int
    summary: SummaryOut
    findings: list[FindingOut]
    findings_omitted: int = Field(
        default=0,
        description="Findings counted in the summary but not listed: an audit lists at most 5,000, and about "
        "3 MB of their text, the most severe first",
    )
    ai_review: dict[str, Any] | None = Field(default=None, description="status completed|unavailable|skipped")


class AuditListItem(BaseModel):
    audit_id: uuid.UUID
    created_at: datetime
    sheet_name: str | None
    spreadsheet_id: str | None
    summary: SummaryOut


class AuditListOut(BaseModel):
    audits: list[AuditListItem]
    next_cursor: str | None


def _summary(a: AuditRecord) -> SummaryOut:
    return SummaryOut(
        formulas=a.formulas, findings=a.findings, compliant=a.compliant, score=a.score, by_severity=a.by_severity
    )


def _out(outcome: service.AuditOutcome) -> AuditOut:
    a = outcome.audit
    # An audit cites one clause per check: each citation is validated once, not per finding
    # (pydantic takes a PolicyRef instance in the dict below as it is: revalidate_instances="never").
    cited = {f.rule: f.policy for f in outcome.findings if f.policy}
    refs = {rule: PolicyRef.model_validate(policy) for rule, policy in cited.items()}
    # Plain dicts validated in one call: pydantic's core builds the FindingOut models in about
    # 60% of the time of calling FindingOut(...) once per finding (there can be thousands).
    return AuditOut.model_validate(
        {
            "audit_id": a.id,
            "created_at": a.created_at,
            "duration_ms": a.duration_ms,
            "rag_used": a.rag_used,
            "clauses_used": a.clauses_used,
            "summary": _summary(a),
            "findings": [
                {
                    "cell": f.cell,
                    "formula": f.formula,
                    "rule": f.rule,
                    "severity": f.severity,
                    "message": f.message,
                    "suggestion": f.suggestion,
                    "policy": refs[f.rule] if f.policy else None,
                }
                for f in outcome.findings
            ],
            "findings_omitted": a.findings - len(outcome.findings),
            "ai_review": a.ai_review,
        }
    )


# An audit is answered as JSON serialized here by pydantic, in one step. Returned as a model,
# Powertools would check it against the return annotation, dump it to Python objects and then
# json.dumps those: about four times the work for the tens of kilobytes of a large audit. The
# contract still names AuditOut, through the route's documented 200 response.
_ONE_AUDIT: dict[int, OpenAPIResponse] = {
    200: {
        "description": DEFAULT_OPENAPI_RESPONSE_DESCRIPTION,
        "content": {content_types.APPLICATION_JSON: {"model": AuditOut}},
    }
}


def _audit_reply(outcome: service.AuditOutcome) -> Response[str]:
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=_out(outcome).model_dump_json())


@router.post(
    "/api/audit",
    summary="Audit formulas (counts one unit of the monthly audit quota)",
    tags=["audits"],
    responses=_ONE_AUDIT,
)
def post_audit(body: AuditIn) -> Response[str]:
    identity = authenticate(router)
    data = service.AuditInput(
        formulas=body.formulas,
        sheet_name=body.sheet.name if body.sheet else None,
        sheet_range=body.sheet.range if body.sheet else None,
        grid_formulas=body.sheet.formulas if body.sheet else None,
        grid_values=body.sheet.values if body.sheet else None,
        spreadsheet_id=body.context.spreadsheet_id if body.context else None,
        purpose=body.context.purpose if body.context else None,
        policy_ids=body.policy_ids,
        ai_review=body.ai_review,
    )
    # The review's deadline comes from the invocation's remaining time, read when it starts.
    return _audit_reply(service.run_audit(identity, data, router.lambda_context.get_remaining_time_in_millis))


@router.get("/api/audits", summary="This organization's audits, newest first", tags=["audits"])
def get_audits(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN, description=CURSOR_DESCRIPTION)] = None,
) -> AuditListOut:
    rows = service.list_audits(authenticate(router), limit=limit, cursor=decode_cursor(cursor))
    return AuditListOut(
        audits=[
            AuditListItem(
                audit_id=a.id,
                created_at=a.created_at,
                sheet_name=a.sheet_name,
                spreadsheet_id=a.spreadsheet_id,
                summary=_summary(a),
            )
            for a in rows
        ],
        next_cursor=encode_cursor(rows[-1].created_at, rows[-1].id) if len(rows) == limit else None,
    )


@router.get("/api/audits/<audit_id>", summary="One audit with its findings", tags=["audits"], responses=_ONE_AUDIT)
def get_audit(
    audit_id: Annotated[str, Path(description="The audit's id; one naming no audit of this organization is 404")],
) -> Response[str]:
    identity = authenticate(router)
    return _audit_reply(service.get_audit(identity, path_id(audit_id, "audit")))


_REPORT: dict[int, OpenAPIResponse] = {
    200: {
        "description": (
            "The audit as one self-contained HTML page: a heat map of the audited grid (each flagged cell with"
            " data-cell and data-severity), a chart of findings by severity and by rule, the findings table with"
            " policy citations. Its Content-Security-Policy allows nothing external."
        ),
        "headers": {
            "Content-Security-Policy": {
                "description": "The page's own inline style and script, by hash; nothing else",
                "schema": {"type": "string"},
            }
        },
        "content": {"text/html": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/api/audits/<audit_id>/report",
    summary="One audit as a self-contained HTML report with a heat map",
    tags=["audits"],
    responses=_REPORT,
)
def get_audit_report(
    audit_id: Annotated[str, Path(description="The audit's id; one naming no audit of this organization is 404")],
) -> Response[str]:
    from sheetbrain.reporting.html_report import content_security_policy

    identity = authenticate(router)
    page = service.report_page(identity, path_id(audit_id, "audit"))
    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body=page,
        headers={
            "Content-Security-Policy": content_security_policy(),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            # A report carries the org's formulas and policy text: no shared cache keeps it.
            "Cache-Control": "private, no-store",
        },
    )
