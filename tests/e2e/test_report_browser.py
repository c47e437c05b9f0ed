"""The audit report in a real headless browser (Debian's chromium; `make test` installs it when
missing): painted heat-map cells, findings on hover and keyboard focus, no sideways overflow at 375 px
or in print, and not one request besides the page itself.

The page is written by `sheetbrain audit FILE.xlsx --html` (the API renders it with the same
code) and served, with the API's Content-Security-Policy header, by a local server that logs
every request. Chromium is driven over the DevTools protocol on a pipe: a viewport 375 px wide
(a headless window cannot be narrower than 500 px), print media emulated, a real mouse move for
hover; what it computed is read by Runtime.evaluate, which the page's policy does not govern,
so the page is tested exactly as served: a style or script of it that the policy refused would
show as unpainted or unfocusable cells and a console error.
"""

from __future__ import annotations

import base64
import struct
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sheetbrain.reporting.html_report import content_security_policy
from sheetbrain_dev.cli import main

from tests.chromium_support import CHROMIUM, Browser

COLOURS = {"critical": "rgb(127, 0, 0)", "high": "rgb(215, 48, 31)", "medium": "rgb(252, 141, 89)"}
# Evaluated in the page by the DevTools protocol (which the page's CSP does not govern).
MEASURE = """JSON.stringify({
  innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth,
  boxScrolls: document.querySelector(".heat").scrollWidth > document.querySelector(".heat").clientWidth,
  boxRight: document.querySelector(".heat").getBoundingClientRect().right,
  cells: Array.prototype.map.call(document.querySelectorAll(".heat td[data-cell]"), function (td) {
    var r = td.getBoundingClientRect();
    return [td.getAttribute("data-cell"), td.getAttribute("data-severity"), getComputedStyle(td).backgroundColor,
            td.textContent, td.tabIndex, r.left + r.width / 2, r.top + r.height / 2];
  })
})"""
TIP = """JSON.stringify({hidden: document.getElementById("tip").hidden,
  text: document.getElementById("tip").textContent,
  right: document.getElementById("tip").getBoundingClientRect().right,
  focused: document.activeElement && document.activeElement.getAttribute("data-cell")})"""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    driven = Browser(tmp_path / "profile")
    yield driven
    driven.close()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    # Given a workbook with a sheet 60 columns wide: numbers, copied formulas, a division by
    # zero, an approximate lookup, and a sheet name holding markup
    assert CHROMIUM, "chromium is missing: `make test` installs it (apt-get install -y chromium)"
    folder = tmp_path_factory.mktemp("report")
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = "Q3 <b>"
    for r in range(1, 31):
        for c in range(1, 31):
            ws.cell(r, c, r * c)
        for c in range(31, 61):
            ws.cell(r, c, f"={ws.cell(r, c - 30).coordinate}*2")
    ws["AH5"] = "=A5/0"
    ws["AM7"] = "=VLOOKUP(A7,A1:B30,2)"
    path = folder / "wide.xlsx"
    book.save(path)
    out = folder / "report.html"
    # When the CLI writes its report
    assert main(["audit", str(path), "--html", str(out)]) == 1
    return out.read_text(encoding="utf-8")


class _Site:
    def __init__(self) -> None:
        self.requests: list[str] = []
        self.body = b""
        self.policy = ""


@pytest.fixture
def site() -> Iterator[tuple[_Site, str]]:
    state = _Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            found = self.path == "/report.html"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Security-Policy", state.policy)
            self.end_headers()
            if found:
                self.wfile.write(state.body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/report.html"
    server.shutdown()
    server.server_close()


def test_on_a_phone_the_heat_map_is_painted_shows_findings_and_fetches_nothing(
    page: str, site: tuple[_Site, str], browser: Browser
) -> None:
    state, url = site
    state.body, state.policy = page.encode(), content_security_policy()
    # When chromium opens the page on a screen 375 px wide
    browser.open(url, 375, 800)
    result = browser.evaluate(MEASURE)
    # Then the one request was the page's, and the policy refused nothing of it
    assert state.requests == ["/report.html"]
    assert browser.console_errors() == []
    # And the page never overflows sideways, while the wide grid scrolls inside its box
    assert result["innerWidth"] == 375 and result["scrollWidth"] == 375
    assert result["boxScrolls"] is True and result["boxRight"] <= 375
    # And each flagged cell is painted in its severity's colour and shows its letter; the page's
    # script (allowed by its hash) made each focusable
    painted = {cell: (severity, colour, text, tab) for cell, severity, colour, text, tab, _, _ in result["cells"]}
    assert painted == {
        "AH5": ("critical", COLOURS["critical"], "C", 0),
        "AM7": ("medium", COLOURS["medium"], "M", 0),
    }
    # When the pointer moves over the medium cell (scrolled into view), its findings show
    browser.evaluate(
        "JSON.stringify(document.querySelector('td[data-cell=\"AM7\"]')"
        '.scrollIntoView({block: "center", inline: "center"}))'
    )
    _, _, _, _, _, x, y = next(c for c in browser.evaluate(MEASURE)["cells"] if c[0] == "AM7")
    browser.page("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
    hovered = browser.evaluate(TIP)
    assert hovered["hidden"] is False and hovered["text"].startswith("AM7 · highest: medium")
    assert "FX02" in hovered["text"] and "VLOOKUP uses approximate match" in hovered["text"]
    # When the keyboard moves focus there: AM7 focused, then Shift+Tab to the flagged cell before it
    browser.evaluate("JSON.stringify(document.querySelector('td[data-cell=\"AM7\"]').focus())")
    for kind in ("rawKeyDown", "keyUp"):
        browser.page("Input.dispatchKeyEvent", type=kind, key="Tab", code="Tab", windowsVirtualKeyCode=9, modifiers=8)
    focused = browser.evaluate(TIP)
    assert focused["focused"] == "AH5" and focused["hidden"] is False
    assert focused["text"].startswith("AH5 · highest: critical") and "FX14" in focused["text"]
    assert focused["right"] <= 375


def test_in_print_the_page_fits_its_width(page: str, site: tuple[_Site, str], browser: Browser) -> None:
    state, url = site
    state.body, state.policy = page.encode(), content_security_policy()
    # When chromium lays the page out for print at an A4 page's printable width (96 dpi)
    browser.open(url, 718, 1000, media="print")
    result = browser.evaluate(MEASURE)
    # Then nothing is wider than the page, the grid included (it no longer scrolls: it fits)
    assert result["innerWidth"] == 718 and result["scrollWidth"] == 718
    assert result["boxRight"] <= 718 and result["boxScrolls"] is False
    assert {c[0]: c[2] for c in result["cells"]} == {"AH5": COLOURS["critical"], "AM7": COLOURS["medium"]}


def _pixels(png: bytes) -> set[tuple[int, int, int]]:
    """The distinct colours of an 8-bit RGB or RGBA, non-interlaced PNG (as chromium writes)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at, data, width, height, bpp = 8, b"", 0, 0, 0
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at : at + 8])
        chunk = png[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and colour in (2, 6) and interlace == 0
            bpp = 4 if colour == 6 else 3
        elif kind == b"IDAT":
            data += chunk
        at += 12 + length
    raw, stride, previous, colours = zlib.decompress(data), width * bpp, bytearray(width * bpp), set()
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        colours.update(tuple(line[i : i + 3]) for i in range(0, stride, bpp))  # type: ignore[misc]
        previous = line
    return colours


def test_a_screenshot_shows_the_severity_colours(page: str, site: tuple[_Site, str], browser: Browser) -> None:
    state, url = site
    state.body, state.policy = page.encode(), content_security_policy()
    # When chromium takes a screenshot of the whole page, 375 px wide
    browser.open(url, 375, 800)
    shot = base64.b64decode(browser.page("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"])
    # Then it holds the critical, high and medium colours (legend, charts, map), and is kept
    assert {(127, 0, 0), (215, 48, 31), (252, 141, 89)} <= _pixels(shot)
    assert state.requests == ["/report.html"]
    saved = Path(__file__).parents[2] / ".pytest-artifacts"
    saved.mkdir(exist_ok=True)
    (saved / "report-375.png").write_bytes(shot)
