"""Identity comes from verified claims only, in the shapes API Gateway passes them."""

import pytest
from sheetbrain.errors import ForbiddenError, UnauthorizedError
from sheetbrain.tenancy.identity import clerk_role, identity_from_claims, personal_org_id, require_admin


def test_flat_org_claims_give_org_and_role() -> None:
    # Given claims from the "sheetbrain" JWT template
    claims = {"sub": "user_1", "org_id": "org_9", "org_role": "org:admin", "org_slug": "acme"}
    # When
    identity = identity_from_claims(claims)
    # Then
    assert (identity.user_id, identity.org_id, identity.role, identity.org_slug) == (
        "user_1",
        "org_9",
        "admin",
        "acme",
    )
    assert not identity.personal


@pytest.mark.parametrize(
    ("raw_role", "expected"),
    [
        ("org:admin", "admin"),
        ("admin", "admin"),
        ("org:member", "member"),
        ("basic_member", "member"),
        ("", "member"),
    ],
)
def test_roles_are_normalised_with_least_privilege(raw_role: str, expected: str) -> None:
    identity = identity_from_claims({"sub": "u", "org_id": "org_1", "org_role": raw_role})
    assert identity.role == expected


@pytest.mark.parametrize(
    ("raw_role", "expected"),
    [
        ("org:admin", "admin"),
        ("ORG:Admin", "admin"),
        (" admin ", "admin"),
        ("org:member", "member"),
        ("org:admin_assistant", "member"),
        ("", "member"),
        (None, "member"),
        (1, "member"),
    ],
)
def test_one_role_mapping_serves_tokens_and_webhooks(raw_role: object, expected: str) -> None:
    assert clerk_role(raw_role) == expected
    if isinstance(raw_role, str):
        assert identity_from_claims({"sub": "u", "org_id": "org_1", "org_role": raw_role}).role == expected


def test_v2_org_object_is_used_when_it_arrives_intact() -> None:
    as_dict = identity_from_claims({"sub": "u", "o": {"id": "org_2", "rol": "admin", "slg": "x"}})
    as_json = identity_from_claims({"sub": "u", "o": '{"id": "org_2", "rol": "admin", "slg": "x"}'})
    assert as_dict == as_json
    assert (as_dict.org_id, as_dict.role, as_dict.org_slug) == ("org_2", "admin", "x")


def test_api_gateway_flattened_org_object_is_not_misread() -> None:
    # Given the string API Gateway makes of a nested object
    identity = identity_from_claims({"sub": "u", "o": "map[id:org_2 rol:admin]"})
    # Then the caller falls back to the personal organization rather than guessing
    assert identity.org_id == personal_org_id("u")


def test_no_active_org_means_personal_org_as_admin() -> None:
    identity = identity_from_claims({"sub": "user_7"})
    assert identity.personal and identity.org_id == "personal_user_7" and identity.is_admin


@pytest.mark.parametrize("claims", [None, {}, {"sub": ""}, {"org_id": "org_1"}])
def test_missing_subject_is_unauthorized(claims: dict[str, str] | None) -> None:
    with pytest.raises(UnauthorizedError):
        identity_from_claims(claims)


def test_reserved_personal_prefix_cannot_be_claimed_as_org() -> None:
    with pytest.raises(UnauthorizedError):
        identity_from_claims({"sub": "u", "org_id": "personal_someone_else"})


def test_member_is_refused_admin_actions() -> None:
    with pytest.raises(ForbiddenError):
        require_admin(identity_from_claims({"sub": "u", "org_id": "org_1", "org_role": "org:member"}))
