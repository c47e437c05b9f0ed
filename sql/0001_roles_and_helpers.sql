-- The application's runtime role. Tables are owned by whoever runs migrations; the Lambda
-- functions and the dev server connect as (a login member of) sheetbrain_app, which is neither
-- owner nor superuser, so row-level security really applies to it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sheetbrain_app') THEN
        CREATE ROLE sheetbrain_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO sheetbrain_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO sheetbrain_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO sheetbrain_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO sheetbrain_app;

-- The organization of the current tenant transaction (set with set_config(..., true) by the
-- application), or NULL outside one. Row-level security policies compare against it.
CREATE FUNCTION app_current_org() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('app.org_id', true), '') $$;

CREATE FUNCTION touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
