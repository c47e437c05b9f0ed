"""Where Stripe may send the browser back to after checkout or the portal: only to origins the
deployment allows (``ALLOWED_REDIRECT_ORIGINS``), so that a SheetBrain-branded Stripe page never
hands a customer on to a host an attacker chose."""

from __future__ import annotations

import functools
from typing import NamedTuple

from pydantic import AnyHttpUrl, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from sheetbrain.errors import ConfigurationError

_URL = TypeAdapter(AnyHttpUrl)
# Plain http only for a browser on the developer's own machine, and never in AWS.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1"})


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        default = {"https": 443, "http": 80}[self.scheme]
        return f"{self.scheme}://{self.host}" + ("" if self.port == default else f":{self.port}")


def origin_of(url: AnyHttpUrl) -> Origin:
    """scheme, host and port (the scheme's default when the URL names none), as the URL parser
    normalised them: lower case, internationalised names in punycode."""
    return Origin(url.scheme, url.host or "", url.port or (443 if url.scheme == "https" else 80))


def _allowed_scheme(origin: Origin, *, in_aws: bool) -> bool:
    return origin.scheme == "https" or (origin.host in LOCAL_HOSTS and not in_aws)


@functools.lru_cache(maxsize=4)
def parse_origins(text: str, *, in_aws: bool) -> frozenset[Origin]:
    """The allowed origins from a comma-separated list; ConfigurationError for an entry that is
    not a bare origin (a path, query, fragment or user info), or plain http other than local."""
    origins: set[Origin] = set()
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            url = _URL.validate_python(entry)
        except PydanticValidationError:
            raise ConfigurationError(f"ALLOWED_REDIRECT_ORIGINS: {entry!r} is not an http(s) origin.") from None
        origin = origin_of(url)
        if url.username or url.password or url.path not in (None, "", "/") or url.query or url.fragment:
            raise ConfigurationError(
                f"ALLOWED_REDIRECT_ORIGINS: {entry!r} is not a bare origin (scheme://host[:port])."
            )
        if not _allowed_scheme(origin, in_aws=in_aws):
            raise ConfigurationError(f"ALLOWED_REDIRECT_ORIGINS: {entry!r} must be https.")
        origins.add(origin)
    return frozenset(origins)


def check_redirect_url(url: AnyHttpUrl, allowed: frozenset[Origin], *, in_aws: bool) -> AnyHttpUrl:
    """``url`` if its origin is exactly one of ``allowed`` (scheme, host and port), with no user
    info; ValueError otherwise (a 422 naming the field, when raised in a model's validation)."""
    if url.username is not None or url.password is not None:
        raise ValueError("a redirect URL may not carry user info")
    origin = origin_of(url)
    if not _allowed_scheme(origin, in_aws=in_aws):
        raise ValueError("a redirect URL must be https")
    if origin not in allowed:
        raise ValueError(f"{origin} is not an allowed redirect origin")
    return url
