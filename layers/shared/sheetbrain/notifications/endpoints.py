"""Which push endpoints the server may POST to: the SSRF rules of web push.

An endpoint is a URL a browser gave us (through a member's request), and the alerts task POSTs
to it from inside our network. So it must be ``https`` on the default port, to a host on the
allow-list of push services, and every address that host resolves to must be public (not
private, loopback, link-local, shared, reserved or multicast). The sender then connects to the
address that was checked (``PushTarget`` + ``resolve``), never resolving the name a second
time, so a DNS answer that changes between the check and the connection (rebinding) cannot
take it elsewhere. ``allow_http`` (WEBPUSH_ALLOW_HTTP, refused in AWS by the settings) admits
``http://127.0.0.1`` for a push-service stand-in in local tests, and nothing else.

The rules are pure functions of their inputs; ``resolve`` takes the resolver as a parameter.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sheetbrain.errors import ValidationError

# The push services of the browsers that support Web Push (the default of WEBPUSH_ALLOWED_HOSTS):
# Chrome and other Chromium browsers (Firebase Cloud Messaging), Firefox (Mozilla's autopush),
# Safari (Apple), Edge (Windows Push Notification Services, one host per region: wns2-*).
DEFAULT_PUSH_HOSTS = (
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "web.push.apple.com",
    "*.notify.windows.com",
)
MAX_ENDPOINT_CHARS = 2048
LOCAL_HTTP_HOST = "127.0.0.1"

Resolver = Callable[..., Sequence[tuple[Any, ...]]]


class EndpointRefusedError(ValidationError):
    """A push endpoint the server will not POST to (422 when subscribing)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"The push endpoint is not allowed: {reason}.", details={"field": "body.endpoint"})
        self.reason = reason


@dataclass(frozen=True)
class PushTarget:
    """An endpoint that passed the URL rules: where to connect, and what to ask for."""

    scheme: str
    host: str  # lower case, as checked against the allow-list (the TLS server name)
    port: int
    path: str  # path and query, as sent in the request line

    @property
    def origin(self) -> str:
        """The endpoint's origin (RFC 6454), the VAPID JWT's ``aud`` (RFC 8292 section 2)."""
        default = 443 if self.scheme == "https" else 80
        return f"{self.scheme}://{self.host}" + ("" if self.port == default else f":{self.port}")

    @property
    def is_local_http(self) -> bool:
        return self.scheme == "http"


def allowed_hosts(setting: str | None) -> tuple[str, ...]:
    """The allow-list: WEBPUSH_ALLOWED_HOSTS (comma-separated) when set, else the defaults."""
    if setting is None or not setting.strip():
        return DEFAULT_PUSH_HOSTS
    return tuple(h.strip().lower().rstrip(".") for h in setting.split(",") if h.strip())


def host_allowed(host: str, allow_list: Sequence[str]) -> bool:
    """``host`` equals an entry, or is a subdomain of a ``*.domain`` entry (not the domain itself)."""
    for entry in allow_list:
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and len(host) > len(entry) - 1:
                return True
        elif host == entry:
            return True
    return False


def parse_endpoint(url: str, *, allow_list: Sequence[str], allow_http: bool) -> PushTarget:
    """The endpoint's target when its URL passes the rules, else EndpointRefusedError."""
    if len(url) > MAX_ENDPOINT_CHARS:
        raise EndpointRefusedError(f"longer than {MAX_ENDPOINT_CHARS} characters")
    if any(ord(c) <= 0x20 or ord(c) >= 0x7F for c in url):
        raise EndpointRefusedError("it holds spaces, control or non-ASCII characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EndpointRefusedError("not a URL") from exc
    host = (parts.hostname or "").rstrip(".")
    if parts.username is not None or parts.password is not None:
        raise EndpointRefusedError("credentials in the URL")
    if parts.fragment:
        raise EndpointRefusedError("a fragment in the URL")
    if not host:
        raise EndpointRefusedError("no host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "http" and allow_http:
        if host != LOCAL_HTTP_HOST:
            raise EndpointRefusedError(f"http is allowed only to {LOCAL_HTTP_HOST} (WEBPUSH_ALLOW_HTTP)")
        return PushTarget("http", host, port or 80, path)
    if parts.scheme != "https":
        raise EndpointRefusedError("not https")
    if port not in (None, 443):
        raise EndpointRefusedError("a port other than 443")
    if not host_allowed(host, allow_list):
        raise EndpointRefusedError(f"{host} is not a known push service (WEBPUSH_ALLOWED_HOSTS)")
    return PushTarget("https", host, 443, path)


def address_allowed(address: str) -> bool:
    """Whether an address may be connected to: public unicast only (an IPv4-mapped IPv6
    address is judged as its IPv4 address)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(target: PushTarget, resolver: Resolver = socket.getaddrinfo) -> str:
    """The address to connect to: the host's first address, when every address it resolves to
    is allowed (a name with one private answer among public ones is refused whole)."""
    if target.is_local_http:
        return LOCAL_HTTP_HOST
    try:
        answers = resolver(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise EndpointRefusedError(f"{target.host} does not resolve") from exc
    addresses = [str(a[4][0]) for a in answers]
    if not addresses:
        raise EndpointRefusedError(f"{target.host} does not resolve")
    refused = [a for a in addresses if not address_allowed(a)]
    if refused:
        raise EndpointRefusedError(f"{target.host} resolves to a non-public address ({refused[0]})")
    return addresses[0]
