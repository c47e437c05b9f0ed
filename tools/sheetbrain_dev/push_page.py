"""The web push example page of ``sheetbrain serve`` (issue 19): ``/dev/push/`` and its files.

Served by the local server only, like its S3 stand-in: it is no route of template.yaml, so API
Gateway answers it with a 404, and nothing of it is in the layer. The page subscribes the
browser (a secure context: ``http://localhost`` or ``http://127.0.0.1``) with the server's VAPID
key and registers the subscription through the API, with a bearer token pasted into it (the
output of ``sheetbrain token``). The server mints no token for it: a page handing out tokens
would hand them to anything that can reach the port (another local process, or a web page
through DNS rebinding), and the token also says which user and organization subscribe.

Only the files named here are served, each with its content type and a Content-Security-Policy
that allows the page's own scripts, styles, API calls and service worker, and nothing else.
"""

from __future__ import annotations

from pathlib import Path

PAGE_PATH = "/dev/push"
PREFIX = PAGE_PATH + "/"
STATIC_DIR = Path(__file__).parent / "static" / "push"

PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; worker-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
    "require-trusted-types-for 'script'; trusted-types sheetbrain-push"
)
# A service worker is governed by its script's own policy; it fetches nothing.
WORKER_POLICY = "default-src 'none'"
_JS = "text/javascript; charset=utf-8"

# path → (file, content type, policy). The page is /dev/push/, inside its service worker's
# scope, so that the worker controls it (``navigator.serviceWorker.ready`` waits for that).
FILES: dict[str, tuple[str, str, str]] = {
    PREFIX: ("index.html", "text/html; charset=utf-8", PAGE_POLICY),
    PREFIX + "page.js": ("page.js", _JS, PAGE_POLICY),
    PREFIX + "page.css": ("page.css", "text/css; charset=utf-8", PAGE_POLICY),
    PREFIX + "sw.js": ("sw.js", _JS, WORKER_POLICY),
    PREFIX + "icon.svg": ("icon.svg", "image/svg+xml", WORKER_POLICY),
}


def serves(path: str) -> bool:
    """Whether ``path`` is the page's (answered here, or with API Gateway's 404 when unknown)."""
    return path == PAGE_PATH or path.startswith(PREFIX)


def respond(path: str) -> tuple[int, dict[str, str], bytes] | None:
    """The file at ``path`` with its headers, or None for a path that names none of them."""
    if path == PAGE_PATH:
        return 308, {"Location": PREFIX, "Cache-Control": "no-store"}, b""
    found = FILES.get(path)
    if found is None:
        return None
    name, content_type, policy = found
    body = (STATIC_DIR / name).read_bytes()  # read per request: an edited file shows on reload
    headers = {
        "Content-Type": content_type,
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
    return 200, headers, body
