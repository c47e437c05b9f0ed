-- Tenants and people, mirrored from Clerk. Ids are Clerk's (org_..., user_...); a personal
-- organization, made for a user on first sight, has id 'personal_' || user id.
-- source_updated_at is the watermark of the newest Clerk event applied to the row, so an older
-- event arriving late is ignored; deleted_at makes deletes soft and final.

CREATE TABLE organizations (
    id                text PRIMARY KEY CHECK (id <> ''),
    name              text NOT NULL DEFAULT '',
    slug              text,
    image_url         text,
    is_personal       boolean NOT NULL DEFAULT false,
    personal_owner_id text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    source_updated_at timestamptz,
    deleted_at        timestamptz,
    CHECK (is_personal = (personal_owner_id IS NOT NULL))
);
CREATE UNIQUE INDEX organizations_slug_key ON organizations (slug)
    WHERE slug IS NOT NULL AND deleted_at IS NULL;
CREATE UNIQUE INDEX organizations_personal_owner_key ON organizations (personal_owner_id)
    WHERE personal_owner_id IS NOT NULL;
CREATE INDEX organizations_deleted_at_idx ON organizations (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE TRIGGER organizations_touch BEFORE UPDATE ON organizations
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE users (
    id                text PRIMARY KEY CHECK (id <> ''),
    email             text,
    first_name        text,
    last_name         text,
    image_url         text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    source_updated_at timestamptz,
    deleted_at        timestamptz
);
CREATE INDEX users_email_idx ON users (lower(email));
CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE memberships (
    org_id            text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id           text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role              text NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member')),
    clerk_id          text UNIQUE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    source_updated_at timestamptz,
    deleted_at        timestamptz,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user_id_idx ON memberships (user_id);
CREATE TRIGGER memberships_touch BEFORE UPDATE ON memberships
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
