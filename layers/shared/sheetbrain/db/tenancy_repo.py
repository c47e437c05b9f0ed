"""Organizations, users and memberships: every statement the tenancy domain runs.

Sync writes carry a watermark (the source's ``updated_at`` or the event time): a write applies
only when it is not older than what the row already holds, and never to a deleted row, so
events arriving in any order converge to the same rows.
"""

from datetime import datetime
from typing import NamedTuple

import psycopg
from psycopg.rows import class_row


def org_member_count(conn: psycopg.Connection, org_id: str) -> int:
    """Active members of an organization (deleted users and memberships excluded)."""
    row = conn.execute(
        """SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id
           WHERE m.org_id = %s AND m.deleted_at IS NULL AND u.deleted_at IS NULL""",
        (org_id,),
    ).fetchone()
    return int(row[0]) if row else 0


class UserFields(NamedTuple):
    id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    image_url: str | None


class OrgFields(NamedTuple):
    id: str
    name: str
    slug: str | None
    image_url: str | None


def upsert_user(conn: psycopg.Connection, user: UserFields, watermark: datetime) -> bool:
    """Insert or update a user unless the row is deleted or holds newer data; True if applied.
    Not pipeline-safe: reads ``rowcount``, which a pipelined transaction has only after a sync."""
    cur = conn.execute(
        """
        INSERT INTO users (id, email, first_name, last_name, image_url, source_updated_at)
        VALUES (%s, %s, %s, %s, %s, %s)
        ON CONFLICT (id) DO UPDATE SET
            email = EXCLUDED.email, first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,
            image_url = EXCLUDED.image_url, source_updated_at = EXCLUDED.source_updated_at
        WHERE users.deleted_at IS NULL
          AND (users.source_updated_at IS NULL OR users.source_updated_at <= EXCLUDED.source_updated_at)
        """,
        (user.id, user.email, user.first_name, user.last_name, user.image_url, watermark),
    )
    return cur.rowcount > 0


def delete_user(conn: psycopg.Connection, user_id: str, at: datetime) -> None:
    """Soft-delete a user for good: personal data scrubbed, memberships ended everywhere, the
    user nulled in the history of audits, logs and usage, and the user's personal organization
    deleted as of the same instant (the purge task removes it and its data after its grace
    period, as any deleted organization). A tombstone is written even for a user never seen,
    so a late ``created`` cannot revive it."""
    conn.execute(
        """
        INSERT INTO users (id, deleted_at, source_updated_at) VALUES (%(id)s, %(at)s, %(at)s)
        ON CONFLICT (id) DO UPDATE SET
            deleted_at = coalesce(users.deleted_at, EXCLUDED.deleted_at),
            email = NULL, first_name = NULL, last_name = NULL, image_url = NULL
        """,
        {"id": user_id, "at": at},
    )
    conn.execute(
        "UPDATE memberships SET deleted_at = coalesce(deleted_at, %s) WHERE user_id = %s",
        (at, user_id),
    )
    conn.execute(
        """UPDATE organizations o SET deleted_at = u.deleted_at, slug = NULL FROM users u
           WHERE u.id = %(id)s AND o.personal_owner_id = %(id)s AND o.deleted_at IS NULL""",
        {"id": user_id},
    )
    # History stays; who did it does not (the audit log keeps only its pseudonymous actor).
    for statement in _USER_REFERENCES:
        conn.execute(statement, (user_id,))
    # Their browsers hear nothing more from any organization.
    conn.execute("DELETE FROM push_subscriptions WHERE user_id = %s", (user_id,))


_USER_REFERENCES = (
    "UPDATE audits SET user_id = NULL WHERE user_id = %s",
    "UPDATE audit_log SET user_id = NULL WHERE user_id = %s",
    "UPDATE ai_token_usage SET user_id = NULL WHERE user_id = %s",
    "UPDATE usage_events SET user_id = NULL WHERE user_id = %s",
    "UPDATE policies SET created_by = NULL WHERE created_by = %s",
    "UPDATE ingestion_logs SET user_id = NULL WHERE user_id = %s",
)


def upsert_org(conn: psycopg.Connection, org: OrgFields, watermark: datetime) -> bool:
    """Insert or update an organization unless deleted or newer; True if applied.
    Not pipeline-safe: reads ``rowcount``, which a pipelined transaction has only after a sync."""
    cur = conn.execute(
        """
        INSERT INTO organizations (id, name, slug, image_url, source_updated_at)
        VALUES (%s, %s, %s, %s, %s)
        ON CONFLICT (id) DO UPDATE SET
            name = EXCLUDED.name, slug = EXCLUDED.slug, image_url = EXCLUDED.image_url,
            source_updated_at = EXCLUDED.source_updated_at
        WHERE organizations.deleted_at IS NULL AND NOT organizations.is_personal
          AND (organizations.source_updated_at IS NULL
               OR organizations.source_updated_at <= EXCLUDED.source_updated_at)
        """,
        (org.id, org.name, org.slug, org.image_url, watermark),
    )
    return cur.rowcount > 0


def delete_org(conn: psycopg.Connection, org_id: str, at: datetime) -> None:
    """Soft-delete an organization (its data is purged by the maintenance task; its push
    subscriptions go at once)."""
    conn.execute(
        """
        INSERT INTO organizations (id, deleted_at, source_updated_at) VALUES (%(id)s, %(at)s, %(at)s)
        ON CONFLICT (id) DO UPDATE SET deleted_at = coalesce(organizations.deleted_at, EXCLUDED.deleted_at),
            slug = NULL
        """,
        {"id": org_id, "at": at},
    )
    conn.execute("DELETE FROM push_subscriptions WHERE org_id = %s", (org_id,))


def ensure_placeholders(conn: psycopg.Connection, *, user_id: str, org: OrgFields) -> None:
    """Rows for a membership's user and organization when their own events are still to come;
    the later events fill them in (their watermark is empty, so any event applies)."""
    conn.execute("INSERT INTO users (id) VALUES (%s) ON CONFLICT (id) DO NOTHING", (user_id,))
    conn.execute(
        "INSERT INTO organizations (id, name, slug, image_url) VALUES (%s, %s, NULL, %s) ON CONFLICT (id) DO NOTHING",
        (org.id, org.name, org.image_url),
    )


def upsert_membership(
    conn: psycopg.Connection, *, org_id: str, user_id: str, role: str, clerk_id: str, watermark: datetime
) -> bool:
    """Create or update a membership. Newer wins; a deleted membership comes back only as a new
    Clerk membership (another id, the user re-invited), never through a late event of the old one.
    Not pipeline-safe: reads ``rowcount``, which a pipelined transaction has only after a sync."""
    cur = conn.execute(
        """
        INSERT INTO memberships (org_id, user_id, role, clerk_id, source_updated_at)
        VALUES (%s, %s, %s, %s, %s)
        ON CONFLICT (org_id, user_id) DO UPDATE SET
            role = EXCLUDED.role, clerk_id = EXCLUDED.clerk_id, source_updated_at = EXCLUDED.source_updated_at,
            deleted_at = NULL
        WHERE (memberships.source_updated_at IS NULL OR memberships.source_updated_at <= EXCLUDED.source_updated_at)
          AND (memberships.deleted_at IS NULL OR memberships.clerk_id IS DISTINCT FROM EXCLUDED.clerk_id)
        """,
        (org_id, user_id, role, clerk_id, watermark),
    )
    return cur.rowcount > 0


def delete_membership(conn: psycopg.Connection, *, org_id: str, user_id: str, clerk_id: str, at: datetime) -> bool:
    """End a membership unless a newer one (a re-invitation) replaced it.
    Not pipeline-safe: reads ``rowcount``, which a pipelined transaction has only after a sync."""
    cur = conn.execute(
        """
        INSERT INTO memberships (org_id, user_id, clerk_id, source_updated_at, deleted_at)
        VALUES (%(org)s, %(user)s, %(clerk)s, %(at)s, %(at)s)
        ON CONFLICT (org_id, user_id) DO UPDATE SET
            deleted_at = coalesce(memberships.deleted_at, EXCLUDED.deleted_at),
            source_updated_at = greatest(memberships.source_updated_at, EXCLUDED.source_updated_at)
        WHERE memberships.source_updated_at IS NULL OR memberships.source_updated_at <= EXCLUDED.source_updated_at
        """,
        {"org": org_id, "user": user_id, "clerk": clerk_id, "at": at},
    )
    if cur.rowcount > 0:  # no longer a member: their browsers leave the org's notifications
        conn.execute("DELETE FROM push_subscriptions WHERE org_id = %s AND user_id = %s", (org_id, user_id))
    return cur.rowcount > 0


class OrganizationRow(NamedTuple):
    id: str
    name: str
    slug: str | None
    is_personal: bool
    created_at: datetime
    deleted_at: datetime | None


def get_org(conn: psycopg.Connection, org_id: str) -> OrganizationRow | None:
    """One organization as the current transaction may see it."""
    with conn.cursor(row_factory=class_row(OrganizationRow)) as cur:
        return cur.execute(
            "SELECT id, name, slug, is_personal, created_at, deleted_at FROM organizations WHERE id = %s",
            (org_id,),
        ).fetchone()
