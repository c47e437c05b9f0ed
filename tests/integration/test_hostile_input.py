"""Hostile input through the real handlers: each is answered with the contract's 4xx (never a
500, never after minutes of work) and a failed ingestion leaves its ingestion-log row."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sheetbrain_dev.database import DatabaseUrls

from tests.integration.test_policies import counts, logs, multipart
from tests.support import Reply, call, claims_for
from tests.unit.policies.conftest import build_docx_bomb, build_pdf_with_content, dense_text_operators

MIB = 1024 * 1024


@pytest.fixture
def admin(database: DatabaseUrls) -> tuple[str, dict[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    org = f"org_hostile{suffix}"
    return org, claims_for(f"user_hostile{suffix}", org, "org:admin")


def upload(claims: dict[str, str], filename: str, data: bytes, ctype: str) -> Reply:
    body, content_type = multipart({"file": (filename, data, ctype), "title": (None, b"Hostile", None)})
    return call("POST", "/api/ingest", claims=claims, raw_body=body, headers={"content-type": content_type})


def test_a_docx_bomb_is_422_naming_the_budget_and_logged(
    admin: tuple[str, dict[str, str]], database: DatabaseUrls
) -> None:
    # Given a 100 KB DOCX whose document part inflates to 64 MiB
    org, claims = admin
    bomb = build_docx_bomb(64 * MIB)

    # When it is uploaded
    reply = upload(claims, "policy.docx", bomb, "application/octet-stream")

    # Then it is refused by the inflated-size budget before python-docx reads it, and logged
    error = reply.json()["error"]
    assert (reply.status, error["code"]) == (422, "document_too_large")
    assert {k: error["details"][k] for k in ("field", "budget", "limit")} == {
        "field": "body.file",
        "budget": "inflated_bytes",
        "limit": 32 * MIB,
    }
    assert logs(database.owner, org) == [(False, "document_too_large", 0, 0)]
    assert counts(database.owner, org) == (0, 0)


def test_a_pdf_of_two_million_text_operators_is_422_naming_the_budget_and_logged(
    admin: tuple[str, dict[str, str]], database: DatabaseUrls
) -> None:
    # Given a 60 KB PDF whose one page inflates to 14 MB of text operators (41 s to extract before)
    org, claims = admin
    pdf = build_pdf_with_content([dense_text_operators(2_000_000)], compress=True)

    # When it is uploaded
    reply = upload(claims, "dense.pdf", pdf, "application/pdf")

    # Then the page's stream stops inflating at 100 times the upload's size, and it is logged
    error = reply.json()["error"]
    assert (reply.status, error["code"]) == (422, "document_too_large")
    assert {k: error["details"][k] for k in ("field", "budget", "limit", "page")} == {
        "field": "body.file",
        "budget": "inflate_ratio",
        "limit": 100,
        "page": 1,
    }
    assert logs(database.owner, org) == [(False, "document_too_large", 0, 0)]


def test_a_multipart_body_of_more_parts_than_the_route_reads_is_refused_before_parsing(
    admin: tuple[str, dict[str, str]], database: DatabaseUrls
) -> None:
    # Given an upload with a valid file part followed by 5,000 tiny parts
    org, claims = admin
    boundary = b"hostile"
    file_part = (
        b'--hostile\r\nContent-Disposition: form-data; name="file"; filename="p.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n1.1 Lookups must use exact match.\r\n"
    )
    tiny = b"".join(b'--hostile\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nx\r\n' % i for i in range(5_000))
    body = file_part + tiny + b"--hostile--\r\n"

    # When it is sent
    reply = call(
        "POST",
        "/api/ingest",
        claims=claims,
        raw_body=body,
        headers={"content-type": "multipart/form-data; boundary=" + boundary.decode()},
    )

    # Then a 422 names the body and the parts it may have, nothing is stored, and it is logged
    error = reply.json()["error"]
    assert (reply.status, error["code"]) == (422, "validation_error")
    assert error["details"] == {
        "field": "body",
        "parts": 5_001,
        "limit": 3,
        "allowed": ["file", "title", "category"],
    }
    assert logs(database.owner, org) == [(False, "validation_error", 0, 0)]
    assert counts(database.owner, org) == (0, 0)


def test_a_part_with_more_header_bytes_than_a_form_field_needs_is_refused_before_parsing(
    admin: tuple[str, dict[str, str]], database: DatabaseUrls
) -> None:
    # Given a file part opened by 1,000 header lines (15 KB)
    org, claims = admin
    headers = b"".join(b"X-Filler-%d: v\r\n" % i for i in range(1_000))
    body = (
        b"--hostile\r\n" + headers + b'Content-Disposition: form-data; name="file"; filename="p.txt"\r\n\r\n'
        b"1.1 Lookups must use exact match.\r\n--hostile--\r\n"
    )

    # When it is sent
    reply = call(
        "POST",
        "/api/ingest",
        claims=claims,
        raw_body=body,
        headers={"content-type": "multipart/form-data; boundary=hostile"},
    )

    # Then a 422 names the body and the limit, and the attempt is logged
    error = reply.json()["error"]
    assert (reply.status, error["code"], error["details"]) == (
        422,
        "validation_error",
        {"field": "body", "limit_bytes": 8192},
    )
    assert logs(database.owner, org) == [(False, "validation_error", 0, 0)]


def test_the_three_parts_an_upload_may_have_are_accepted(admin: tuple[str, dict[str, str]]) -> None:
    body, content_type = multipart(
        {
            "file": ("p.txt", b"1.1 Lookups must use exact match.", "text/plain"),
            "title": (None, b"Lookups", None),
            "category": (None, b"finance", None),
        }
    )
    reply = call("POST", "/api/ingest", claims=admin[1], raw_body=body, headers={"content-type": content_type})
    assert reply.status == 201, reply.json()


def test_a_heading_of_60000_blanks_is_stored_under_its_collapsed_title(
    admin: tuple[str, dict[str, str]], database: DatabaseUrls
) -> None:
    # Given a Markdown upload whose heading holds 60,000 blanks (11.5 s to chunk before)
    org, claims = admin
    text = "# Data" + " " * 60_000 + "rules\n\n1.1 Lookups must use exact match.\n"

    # When it is uploaded
    reply = upload(claims, "policy.md", text.encode(), "text/markdown")

    # Then it is stored, each chunk under the heading with its blanks collapsed
    assert reply.status == 201, reply.json()
    with psycopg.connect(database.owner) as conn:
        paths = conn.execute("SELECT DISTINCT heading_path FROM policy_chunks WHERE org_id = %s", (org,)).fetchall()
    assert paths == [(["Data rules"],)]


@pytest.mark.parametrize(
    ("sheet_range", "row"),
    [
        ("ZZZ1", ["=1", "=A1"]),  # past XFD itself (answered 500 before)
        ("XFD1", ["=1", "=A1"]),  # on the sheet, but its second column is not
        ("A1048576:B1048577", ["=1"]),  # a corner past the last row
        ("A0", ["=1"]),  # row 0
    ],
)
def test_a_sheet_range_past_the_last_cell_is_422_naming_the_range(
    admin: tuple[str, dict[str, str]], sheet_range: str, row: list[str]
) -> None:
    # Given a grid whose range (or the grid counted from it) leaves Excel's sheet
    body = {"sheet": {"name": "Q3", "range": sheet_range, "formulas": [row]}}

    # When it is audited
    reply = call("POST", "/api/audit", claims=admin[1], body=body)

    # Then a 422 names the range
    error = reply.json()["error"]
    assert (reply.status, error["code"]) == (422, "validation_error")
    assert [f["field"] for f in error["details"]["fields"]] == ["body.sheet.range"]


def test_a_grid_ending_on_the_last_cell_is_audited(admin: tuple[str, dict[str, str]]) -> None:
    # Given a two-by-two grid whose last cell is XFD1048576
    body = {"sheet": {"name": "Q3", "range": "XFC1048575", "formulas": [["=1", "=2"], ["=3", "=XFC1048575*1.2"]]}}

    # When it is audited, Then it is, and its finding is named by the sheet's last cell
    reply = call("POST", "/api/audit", claims=admin[1], body=body)
    assert reply.status == 200, reply.json()
    assert [f["cell"] for f in reply.json()["findings"]] == ["Q3!XFD1048576"]
