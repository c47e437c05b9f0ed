"""The web push rules as pure functions: which endpoints and addresses may be contacted, what
a push service's answer means, the thresholds' shape, and WEBPUSH_ALLOW_HTTP refused in AWS."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from sheetbrain.config import Settings
from sheetbrain.errors import ValidationError
from sheetbrain.notifications.endpoints import (
    DEFAULT_PUSH_HOSTS,
    EndpointRefusedError,
    PushTarget,
    address_allowed,
    allowed_hosts,
    parse_endpoint,
    resolve,
)
from sheetbrain.notifications.service import check_thresholds, reached_when_added
from sheetbrain.notifications.webpush import urgency, verdict


@pytest.mark.parametrize(
    ("url", "target"),  # target: host and path
    [
        ("https://fcm.googleapis.com/fcm/send/abc:def", ("fcm.googleapis.com", "/fcm/send/abc:def")),
        ("https://updates.push.services.mozilla.com/wpush/v2/g", ("updates.push.services.mozilla.com", "/wpush/v2/g")),
        ("https://web.push.apple.com/QGuX?x=1", ("web.push.apple.com", "/QGuX?x=1")),
        ("https://wns2-par02p.notify.windows.com/w/?token=BQY", ("wns2-par02p.notify.windows.com", "/w/?token=BQY")),
        ("https://FCM.googleapis.com:443/x", ("fcm.googleapis.com", "/x")),
    ],
)  # fmt: skip
def test_endpoints_of_the_known_push_services_pass(url: str, target: tuple[str, str]) -> None:
    host, path = target
    assert parse_endpoint(url, allow_list=DEFAULT_PUSH_HOSTS, allow_http=False) == PushTarget("https", host, 443, path)


UNKNOWN = "{} is not a known push service (WEBPUSH_ALLOWED_HOSTS)"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://fcm.googleapis.com/fcm/send/x", "not https"),
        ("ftp://fcm.googleapis.com/x", "not https"),
        ("https://fcm.googleapis.com.evil.example/x", UNKNOWN.format("fcm.googleapis.com.evil.example")),
        ("https://notify.windows.com/x", UNKNOWN.format("notify.windows.com")),
        ("https://evilnotify.windows.com/x", UNKNOWN.format("evilnotify.windows.com")),
        ("https://169.254.169.254/latest/meta-data", UNKNOWN.format("169.254.169.254")),
        ("https://fcm.googleapis.com:444/x", "a port other than 443"),
        ("https://a:b@fcm.googleapis.com/x", "credentials in the URL"),
        ("https://fcm.googleapis.com/x#frag", "a fragment in the URL"),
        ("https://fcm.googleapis.com/x y", "it holds spaces, control or non-ASCII characters"),
        ("https://fcm.googleapis.com/\u00e9", "it holds spaces, control or non-ASCII characters"),
        ("https:///x", "no host"),
        ("https://fcm.googleapis.com:99999/x", "not a URL"),
        ("https://fcm.googleapis.com/" + "a" * 2100, "longer than 2048 characters"),
        ("http://127.0.0.1:8080/push", "not https"),
    ],
)  # fmt: skip
def test_endpoints_outside_the_rules_are_refused(url: str, reason: str) -> None:
    with pytest.raises(EndpointRefusedError) as refused:
        parse_endpoint(url, allow_list=DEFAULT_PUSH_HOSTS, allow_http=False)
    assert refused.value.reason == reason
    assert isinstance(refused.value, ValidationError) and refused.value.details == {"field": "body.endpoint"}


def test_allow_http_admits_only_http_to_127_0_0_1() -> None:
    assert parse_endpoint("http://127.0.0.1:8080/p?q", allow_list=(), allow_http=True) == PushTarget(
        "http", "127.0.0.1", 8080, "/p?q"
    )
    for url in ("http://localhost:8080/p", "http://10.0.0.1/p", "http://[::1]:8080/p", "http://127.0.0.2/p"):
        with pytest.raises(EndpointRefusedError) as refused:
            parse_endpoint(url, allow_list=("localhost",), allow_http=True)
        assert refused.value.reason == "http is allowed only to 127.0.0.1 (WEBPUSH_ALLOW_HTTP)"


def test_the_origin_is_the_vapid_audience() -> None:
    assert PushTarget("https", "fcm.googleapis.com", 443, "/x").origin == "https://fcm.googleapis.com"
    assert PushTarget("http", "127.0.0.1", 8080, "/x").origin == "http://127.0.0.1:8080"
    assert PushTarget("http", "127.0.0.1", 80, "/x").origin == "http://127.0.0.1"


def test_the_allow_list_setting_replaces_the_defaults() -> None:
    assert allowed_hosts(None) == DEFAULT_PUSH_HOSTS
    assert allowed_hosts("  ") == DEFAULT_PUSH_HOSTS
    assert allowed_hosts("Push.Example.com., *.push.example.net") == ("push.example.com", "*.push.example.net")
    hosts = allowed_hosts("*.push.example.net")
    assert (
        parse_endpoint("https://eu.push.example.net/x", allow_list=hosts, allow_http=False).host
        == "eu.push.example.net"
    )
    with pytest.raises(EndpointRefusedError):
        parse_endpoint("https://fcm.googleapis.com/x", allow_list=hosts, allow_http=False)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("142.250.185.10", True),
        ("2a00:1450:4001:82b::200a", True),
        ("10.0.0.7", False),
        ("172.16.3.4", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.7", False),
        ("::ffff:142.250.185.10", True),
        ("not an address", False),
    ],
)
def test_only_public_unicast_addresses_may_be_contacted(address: str, allowed: bool) -> None:
    assert address_allowed(address) is allowed


def answers(*addresses: str) -> Any:
    """A resolver that answers ``addresses`` as getaddrinfo would (an in-memory DNS)."""

    def resolver(host: str, port: int, type: int = 0) -> list[tuple[Any, ...]]:
        family = socket.AF_INET6 if ":" in addresses[0] else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    return resolver


FCM = PushTarget("https", "fcm.googleapis.com", 443, "/fcm/send/x")


def test_the_checked_address_is_the_one_returned() -> None:
    assert resolve(FCM, answers("142.250.185.10", "142.250.185.11")) == "142.250.185.10"


@pytest.mark.parametrize("bad", ["10.1.2.3", "127.0.0.1", "169.254.169.254"])
def test_a_name_with_any_private_answer_is_refused_whole(bad: str) -> None:
    with pytest.raises(EndpointRefusedError) as refused:
        resolve(FCM, answers("142.250.185.10", bad))
    assert refused.value.reason == f"fcm.googleapis.com resolves to a non-public address ({bad})"


def test_a_name_that_does_not_resolve_is_refused() -> None:
    def failing(host: str, port: int, type: int = 0) -> list[tuple[Any, ...]]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(EndpointRefusedError) as refused:
        resolve(FCM, failing)
    assert refused.value.reason == "fcm.googleapis.com does not resolve"


@pytest.mark.parametrize(
    ("status", "expected"),
    [(200, "sent"), (201, "sent"), (202, "sent"), (204, "sent"), (404, "gone"), (410, "gone"), (429, "retry"),
     (500, "retry"), (502, "retry"), (503, "retry"), (400, "failed"), (401, "failed"), (403, "failed"),
     (413, "failed"), (301, "failed")],
)  # fmt: skip
def test_what_a_push_services_answer_means(status: int, expected: str) -> None:
    assert verdict(status) == expected


def test_the_limit_itself_is_urgent() -> None:
    assert [urgency(t) for t in (50, 80, 99, 100)] == ["normal", "normal", "normal", "high"]


def test_thresholds_are_stored_sorted() -> None:
    assert check_thresholds({"audits_per_month": [100, 1, 55], "ai_tokens_per_month": [80]}) == {
        "audits_per_month": [1, 55, 100],
        "ai_tokens_per_month": [80],
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"audits": [50]}, "Unknown metric 'audits'; metered: audits_per_month, ai_tokens_per_month."),
        ({"audits_per_month": []}, "Give 1 to 5 thresholds per metric."),
        ({"audits_per_month": [1, 2, 3, 4, 5, 6]}, "Give 1 to 5 thresholds per metric."),
        ({"audits_per_month": [0]}, "Thresholds are whole percentages from 1 to 100."),
        ({"audits_per_month": [101]}, "Thresholds are whole percentages from 1 to 100."),
        ({"audits_per_month": [True]}, "Thresholds are whole percentages from 1 to 100."),
        ({"audits_per_month": [80, 80]}, "A threshold is given twice."),
    ],
)
def test_thresholds_outside_the_rules_are_refused(values: dict[str, list[int]], message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        check_thresholds(values)
    assert refused.value.message == message


@pytest.mark.parametrize(
    ("before", "after", "used", "limit", "passed"),
    [
        ((50, 80, 100), (30, 50, 70, 100), 6, 10, [30]),  # 30 added and reached; 70 added, not reached
        ((50, 80, 100), (50, 80, 100), 9, 10, []),  # nothing added: kept ones keep their crossings
        ((100,), (50, 80, 100), 9, 10, [50, 80]),  # added back after being removed
        ((50,), (60,), 6, 10, [60]),  # exactly reached: a crossing would count it (60 % of 10 = 6)
        ((50,), (61,), 6, 10, []),  # 61 % of 10 is 6.1: not reached by 6
        ((50,), (1, 99), 0, 10, []),  # no usage reaches nothing
        ((50,), (1, 100), 10**12, -1, []),  # unlimited: nothing is ever crossed
        ((50,), (1, 100), 5, 0, []),  # a zero limit notifies nothing, so nothing to pass
        ((50,), (3, 1), 3, 100, [1, 3]),  # in order
    ],
)
def test_a_change_passes_the_added_thresholds_the_usage_already_reaches(
    before: tuple[int, ...], after: tuple[int, ...], used: int, limit: int, passed: list[int]
) -> None:
    assert reached_when_added(before, after, used=used, limit=limit) == passed


def test_plain_http_push_is_refused_when_the_settings_say_aws() -> None:
    assert Settings.model_validate({"environment": "local", "webpush_allow_http": "true"}).webpush_allow_http
    assert not Settings.model_validate({"environment": "aws"}).webpush_allow_http
    with pytest.raises(ValueError, match="WEBPUSH_ALLOW_HTTP is for local testing and is refused when ENVIRONMENT=aws"):
        Settings.model_validate({"environment": "aws", "webpush_allow_http": "true"})


def test_the_vapid_key_reads_as_raw_or_pem_and_advertises_its_point() -> None:
    # Given a P-256 key, as the base64url raw scalar (local) and as PKCS#8 PEM (openssl's)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from sheetbrain.notifications.webpush import b64url_encode, vapid_public_key
    from sheetbrain_dev.vapid import raw_private_key

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)

    # Then both forms advertise the key's uncompressed point, base64url without padding
    assert vapid_public_key(raw_private_key(key)) == vapid_public_key(pem) == b64url_encode(point)
    assert len(b64url_encode(point)) == 87
