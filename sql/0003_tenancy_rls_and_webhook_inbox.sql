-- Row-level security for tenant rows, and the webhook inbox shared by every provider.
--
-- Two kinds of transaction reach tenant tables:
--   tenant: app.org_id set (SET LOCAL) by the application; sees only that org's rows.
--   system: app.system = 'on' (SET LOCAL), used only by webhook sync and maintenance tasks
--           that must cross organizations (a user deleted everywhere, a purge), and only
--           honoured for a login that is a member of sheetbrain_system. The API functions
--           connect as members of sheetbrain_app alone: setting app.system gets them nothing.
-- The application's roles are not the owner, so these policies bind them; FORCE makes them
-- bind the owner too, outside migrations.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sheetbrain_system') THEN
        CREATE ROLE sheetbrain_system NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
END
$$;
GRANT sheetbrain_app TO sheetbrain_system;  -- the same data privileges, plus crossing orgs

CREATE FUNCTION app_is_system() RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce(current_setting('app.system', true), '') = 'on'
                 AND pg_has_role(current_user, 'sheetbrain_system', 'MEMBER') $$;

-- Retention and purge may remove rows from append-only tables: only a system login that has
-- asked for it in its transaction.
CREATE FUNCTION app_may_purge() RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce(current_setting('app.purge', true), '') = 'on'
                 AND pg_has_role(current_user, 'sheetbrain_system', 'MEMBER') $$;

CREATE FUNCTION app_current_user() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('app.user_id', true), '') $$;

ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY organizations_tenant ON organizations
    USING (app_is_system() OR id = app_current_org())
    WITH CHECK (app_is_system() OR id = app_current_org());

ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY memberships_tenant ON memberships
    USING (app_is_system() OR org_id = app_current_org())
    WITH CHECK (app_is_system() OR org_id = app_current_org());

-- Users belong to no single tenant: a tenant transaction sees the users who are members of
-- its org, and the caller itself (created on first sight before any membership exists).
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_system ON users
    USING (app_is_system()) WITH CHECK (app_is_system());
CREATE POLICY users_tenant_read ON users FOR SELECT
    USING (id = app_current_user()
           OR EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id AND m.org_id = app_current_org()));
CREATE POLICY users_self_insert ON users FOR INSERT
    WITH CHECK (id = app_current_user());

-- One row per delivery id and provider. Recording the event and applying it commit in one
-- transaction, so a crash neither loses nor double-applies an event.
CREATE TABLE webhook_inbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider        text NOT NULL CHECK (provider IN ('clerk', 'stripe')),
    event_id        text NOT NULL CHECK (event_id <> ''),
    event_type      text NOT NULL DEFAULT '',
    status          text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'processed', 'failed', 'ignored')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    payload         jsonb,
    raw_body        text,
    received_at     timestamptz NOT NULL DEFAULT now(),
    processed_at    timestamptz,
    next_attempt_at timestamptz,
    UNIQUE (provider, event_id)
);
CREATE INDEX webhook_inbox_retry_idx ON webhook_inbox (next_attempt_at) WHERE status = 'failed';
CREATE INDEX webhook_inbox_processed_idx ON webhook_inbox (processed_at) WHERE status IN ('processed', 'ignored');

ALTER TABLE webhook_inbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_inbox FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_inbox_system ON webhook_inbox
    USING (app_is_system()) WITH CHECK (app_is_system());
