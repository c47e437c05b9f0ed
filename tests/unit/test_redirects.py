"""Redirect URLs for checkout and portal: only to the configured origins, compared exactly."""

from __future__ import annotations

import pytest
from pydantic import AnyHttpUrl, TypeAdapter
from sheetbrain.billing.redirects import Origin, check_redirect_url, parse_origins
from sheetbrain.errors import ConfigurationError

URL = TypeAdapter(AnyHttpUrl)
ALLOWED = "https://docs.google.com, https://app.example.com:8443,http://localhost:3000"


def check(url: str, *, in_aws: bool = False, allowed: str = ALLOWED) -> str:
    return str(check_redirect_url(URL.validate_python(url), parse_origins(allowed, in_aws=in_aws), in_aws=in_aws))


def test_the_configured_origins_are_parsed_into_scheme_host_and_port() -> None:
    assert parse_origins(ALLOWED, in_aws=False) == {
        Origin("https", "docs.google.com", 443),
        Origin("https", "app.example.com", 8443),
        Origin("http", "localhost", 3000),
    }
    assert parse_origins("", in_aws=True) == frozenset()


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        (
            "https://docs.google.com/spreadsheets/d/abc/edit#gid=0",
            "https://docs.google.com/spreadsheets/d/abc/edit#gid=0",
        ),
        ("https://DOCS.google.com/x?y=1", "https://docs.google.com/x?y=1"),  # host names have no case
        ("https://docs.google.com:443/x", "https://docs.google.com/x"),  # the default port is the port
        ("https://app.example.com:8443/billing", "https://app.example.com:8443/billing"),
        ("http://localhost:3000/done", "http://localhost:3000/done"),
    ],
)
def test_a_url_on_an_allowed_origin_is_kept_as_parsed(url: str, kept: str) -> None:
    assert check(url) == kept


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://evil.example/", "https://evil.example is not an allowed redirect origin"),
        (
            "https://docs.google.com.evil.example/",
            "https://docs.google.com.evil.example is not an allowed redirect origin",
        ),
        (
            "https://evil.example/?next=https://docs.google.com",
            "https://evil.example is not an allowed redirect origin",
        ),
        ("https://docs.google.com./x", "https://docs.google.com. is not an allowed redirect origin"),  # another name
        ("http://docs.google.com/", "a redirect URL must be https"),
        ("https://docs.google.com:444/", "https://docs.google.com:444 is not an allowed redirect origin"),
        ("https://app.example.com/", "https://app.example.com is not an allowed redirect origin"),  # 443, not 8443
        ("https://user@docs.google.com/", "a redirect URL may not carry user info"),
        ("https://docs.google.com@evil.example/", "a redirect URL may not carry user info"),
        ("https://evil.example\\@docs.google.com/", "https://evil.example is not an allowed redirect origin"),  # \ is /
        ("http://localhost:3001/", "http://localhost:3001 is not an allowed redirect origin"),
        ("http://127.0.0.1:3000/", "http://127.0.0.1:3000 is not an allowed redirect origin"),  # not localhost's
    ],
)
def test_any_other_url_is_refused(url: str, reason: str) -> None:
    with pytest.raises(ValueError) as refused:
        check(url)
    assert str(refused.value) == reason


def test_plain_http_to_the_local_machine_is_never_allowed_in_aws() -> None:
    # Given the local origin configured in AWS: refused as configuration
    with pytest.raises(ConfigurationError, match="must be https"):
        parse_origins("http://localhost:3000", in_aws=True)
    # and a URL to it refused even when the list allows it
    with pytest.raises(ValueError, match="must be https"):
        check_redirect_url(
            URL.validate_python("http://localhost:3000/"), frozenset({Origin("http", "localhost", 3000)}), in_aws=True
        )


@pytest.mark.parametrize(
    "entry",
    ["https://docs.google.com/path", "https://docs.google.com/?q=1", "https://u@docs.google.com", "ftp://x", "docs"],
)
def test_a_configured_entry_that_is_not_a_bare_https_origin_is_a_configuration_error(entry: str) -> None:
    with pytest.raises(ConfigurationError, match="ALLOWED_REDIRECT_ORIGINS"):
        parse_origins(entry, in_aws=False)
