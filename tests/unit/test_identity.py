"""Identity comes from verified claims only, in the shapes API Gateway passes them."""

import pytest
from sheetbrain.errors import ForbiddenError, UnauthorizedError
from sheetbrain.tenancy.identity import (
    Identity,
    active_org_id,
    clerk_role,
    identity_from_claims,
    personal_org_id,
    require_admin,
)


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


def test_another_users_personal_org_cannot_be_claimed() -> None:
    # Given an org claim naming someone else's personal organization (not an org id's shape)
    identity = identity_from_claims({"sub": "u", "org_id": "personal_someone_else", "org_role": "org:admin"})
    # Then the caller is in their own personal organization
    assert (identity.org_id, identity.personal) == ("personal_u", True)


@pytest.mark.parametrize(
    "raw_org_id",
    [
        pytest.param(None, id="json-null"),
        pytest.param("", id="empty"),
        pytest.param("None", id="python-none"),
        pytest.param("null", id="null-text"),
        pytest.param("<nil>", id="go-nil"),
        pytest.param("undefined", id="undefined"),
        pytest.param("12345", id="number-text"),
        pytest.param(12345, id="number"),
        pytest.param(True, id="bool"),
        pytest.param("org_", id="prefix-only"),
        pytest.param("org_" + "a" * 65, id="too-long"),
        pytest.param(" org_1", id="leading-blank"),
        pytest.param("org_1\n", id="trailing-newline"),
        pytest.param("org_1 x", id="inner-blank"),
        pytest.param("org_é", id="non-ascii"),
        pytest.param("ORG_1", id="upper-prefix"),
        pytest.param("acme", id="a-name"),
        pytest.param("map[id:org_1]", id="flattened-object"),
    ],
)
def test_an_org_claim_not_shaped_like_an_org_id_means_the_personal_org(raw_org_id: object) -> None:
    # Given a token whose org claim names no organization, with a role beside it
    claims = {"sub": "user_5", "org_id": raw_org_id, "org_role": "org:member", "org_slug": "s"}
    # When
    identity = identity_from_claims(claims)
    # Then the caller works in their own personal organization, as its admin
    assert identity == Identity(user_id="user_5", org_id="personal_user_5", role="admin", personal=True)
    assert active_org_id(raw_org_id) is None


@pytest.mark.parametrize("raw_org_id", ["org_1", "org_2Ab9xYz", "org_a-b_c", "org_" + "z" * 64])
def test_an_org_claim_shaped_like_an_org_id_names_that_org(raw_org_id: str) -> None:
    identity = identity_from_claims({"sub": "u", "org_id": raw_org_id, "org_role": "org:member"})
    assert (identity.org_id, identity.role, identity.personal) == (raw_org_id, "member", False)


def test_org_role_is_ignored_without_a_valid_org_id() -> None:
    # Given a member role beside a null org id (flat), and beside a null o.id (v2 object)
    flat = identity_from_claims({"sub": "u", "org_id": "<nil>", "org_role": "org:member"})
    nested = identity_from_claims({"sub": "u", "o": {"id": None, "rol": "member", "slg": "x"}})
    # Then neither names an org nor lends its role: both are the personal org's admin
    assert flat == nested == Identity(user_id="u", org_id="personal_u", role="admin", personal=True)


def test_a_role_is_never_borrowed_across_the_flat_and_nested_claims() -> None:
    # Given a valid nested org beside an invalid flat org id that carries an admin role
    identity = identity_from_claims(
        {"sub": "u", "org_id": "null", "org_role": "org:admin", "o": {"id": "org_7", "rol": "member"}}
    )
    # Then the nested org applies with its own role only
    assert (identity.org_id, identity.role) == ("org_7", "member")


@pytest.mark.parametrize("raw_id", [None, "null", "None", "<nil>", "", 7])
def test_v2_object_id_follows_the_same_rule(raw_id: object) -> None:
    identity = identity_from_claims({"sub": "u", "o": {"id": raw_id, "rol": "admin"}})
    assert identity.org_id == "personal_u"


def test_member_is_refused_admin_actions() -> None:
    with pytest.raises(ForbiddenError):
        require_admin(identity_from_claims({"sub": "u", "org_id": "org_1", "org_role": "org:member"}))


def test_the_refusal_of_an_admin_action_names_the_role_it_needs() -> None:
    # Given a member; When an admin action is asked; Then 403 naming the admin role
    with pytest.raises(ForbiddenError) as refused:
        require_admin(Identity(user_id="user_1", org_id="org_1", role="member"))
    assert (refused.value.code, refused.value.status) == ("forbidden", 403)
    assert refused.value.message == "This action needs the admin role in the organization."
    assert refused.value.details == {"required_role": "admin"}
    require_admin(Identity(user_id="user_1", org_id="org_1", role="admin"))


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        (None, "A valid bearer token is required."),
        ({}, "A valid bearer token is required."),
        ({"sub": "  "}, "The token has no subject."),
        ({"org_id": "org_1"}, "The token has no subject."),
        ({"sub": "user_\x001"}, "The token carries an unusable claim."),
        ({"sub": "user_1", "org_id": "org_1", "org_slug": "a\x00b"}, "The token carries an unusable claim."),
    ],
)
def test_each_unusable_token_is_refused_saying_why(claims: dict[str, str] | None, message: str) -> None:
    # Given claims that name no usable user; When read; Then 401 with the reason
    with pytest.raises(UnauthorizedError) as refused:
        identity_from_claims(claims)
    assert (refused.value.code, refused.value.status, refused.value.message) == ("unauthorized", 401, message)
