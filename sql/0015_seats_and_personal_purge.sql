-- Seats enforced at admission, a deleted user's personal organization purged like any deleted
-- organization, and failed webhook payloads found cheaply for redaction.

-- Who holds a seat is a ranking at read time: the earliest-joined live members of the org,
-- by (created_at, user_id), up to the plan's `seats`. Nothing is stored per seat and no
-- membership is ever deleted for it; a member who leaves frees a seat for the next in line.
-- The guard counts the members ranked ahead of the caller (at most `seats` of them) on this
-- index.
CREATE INDEX memberships_join_order_idx ON memberships (org_id, created_at, user_id) WHERE deleted_at IS NULL;

-- A ranking is only stable if no membership can later appear ahead of one already admitted.
-- With created_at = now() (the transaction's start), a membership inserted by a transaction
-- that began earlier but commits later would do just that: both new members could be admitted
-- to the last seat, one of them only until the other's row becomes visible. So a membership
-- takes its join time under a per-organization lock held until commit, from the clock at that
-- moment: join order is commit order, and every new member ranks behind every member already
-- visible. Only membership inserts of the same org wait on each other (rare, short).
CREATE FUNCTION memberships_join_order() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('memberships:' || NEW.org_id, 0));
    NEW.created_at := clock_timestamp();
    RETURN NEW;
END
$$;
CREATE TRIGGER memberships_join_order BEFORE INSERT ON memberships
    FOR EACH ROW EXECUTE FUNCTION memberships_join_order();

-- The guard of every authenticated request (request_guard of 0005, plus seats), in one
-- statement: scope the transaction to the caller's org, create the caller's rows on first
-- sight, refuse deleted tenants, refuse a member of a shared organization beyond the plan's
-- seats (seat_refused; no counter moves), and take one request from the org's and the
-- user's rate limits. A personal organization has one member and no seat check.
-- request_guard itself stays for the code still running while a release rolls over (its
-- result has no seat columns); a later migration drops it.
CREATE FUNCTION request_admission(
    p_org text, p_user text, p_role text, p_personal boolean, p_now timestamptz,
    p_window_s integer DEFAULT 60
) RETURNS TABLE (
    user_deleted boolean, org_deleted boolean, membership_deleted boolean, plan text,
    seats bigint, seat_refused boolean,
    allowed boolean, lim bigint, remaining bigint, reset_s integer
)
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_user_deleted boolean;
    v_org_deleted boolean;
    v_org_personal boolean;
    v_membership_deleted boolean;
    v_joined timestamptz;
    v_plan text;
    v_limits bigint[];
    v_ahead bigint;
BEGIN
    PERFORM set_config('app.org_id', p_org, true), set_config('app.user_id', p_user, true);

    -- The common case, every row known: one read. NULL means "not there yet".
    SELECT (SELECT u.deleted_at IS NOT NULL FROM users u WHERE u.id = p_user),
           CASE WHEN o.id IS NOT NULL THEN o.deleted_at IS NOT NULL END, o.is_personal,
           CASE WHEN m.org_id IS NOT NULL THEN m.deleted_at IS NOT NULL END, m.created_at
      INTO v_user_deleted, v_org_deleted, v_org_personal, v_membership_deleted, v_joined
      FROM (SELECT 1) AS one
      LEFT JOIN organizations o ON o.id = p_org
      LEFT JOIN memberships m ON m.org_id = p_org AND m.user_id = p_user;
    IF v_user_deleted IS NULL OR v_org_deleted IS NULL OR v_membership_deleted IS NULL THEN
        INSERT INTO users (id) VALUES (p_user) ON CONFLICT (id) DO NOTHING;
        -- The slug is left to Clerk's webhook: a token's slug may still be held by another,
        -- renamed org whose update has not arrived, and must not lock this org out. A deleted
        -- user's personal org, first seen with a token still valid, is born deleted, so the
        -- purge takes it with the user's.
        INSERT INTO organizations (id, name, is_personal, personal_owner_id, deleted_at)
            VALUES (p_org, CASE WHEN p_personal THEN 'Personal' ELSE '' END, p_personal,
                    CASE WHEN p_personal THEN p_user END,
                    CASE WHEN p_personal THEN (SELECT u.deleted_at FROM users u WHERE u.id = p_user) END)
            ON CONFLICT (id) DO NOTHING;
        INSERT INTO memberships (org_id, user_id, role) VALUES (p_org, p_user, p_role)
            ON CONFLICT (org_id, user_id) DO NOTHING;
        SELECT (SELECT u.deleted_at IS NOT NULL FROM users u WHERE u.id = p_user),
               o.deleted_at IS NOT NULL, o.is_personal, m.deleted_at IS NOT NULL, m.created_at
          INTO v_user_deleted, v_org_deleted, v_org_personal, v_membership_deleted, v_joined
          FROM organizations o JOIN memberships m ON m.org_id = o.id AND m.user_id = p_user
         WHERE o.id = p_org;
    END IF;
    v_plan := effective_plan(p_org, p_now);

    IF v_user_deleted OR v_org_deleted OR v_membership_deleted THEN
        RETURN QUERY SELECT v_user_deleted, v_org_deleted, v_membership_deleted, v_plan,
                            NULL::bigint, false, false, 0::bigint, 0::bigint, 0;
        RETURN;
    END IF;

    v_limits := entitlement_values(p_org, ARRAY['requests_per_minute', 'user_requests_per_minute', 'seats'],
                                   p_now, v_plan);
    IF NOT v_org_personal AND v_limits[3] >= 0 THEN
        -- Live members who joined before the caller, counted no further than the seats.
        SELECT count(*) INTO v_ahead FROM (
            SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.org_id = p_org AND m.deleted_at IS NULL AND u.deleted_at IS NULL
               AND (m.created_at, m.user_id) < (v_joined, p_user)
             LIMIT v_limits[3]) AS ahead;
        IF v_ahead >= v_limits[3] THEN
            RETURN QUERY SELECT false, false, false, v_plan, v_limits[3], true, false, 0::bigint, 0::bigint, 0;
            RETURN;
        END IF;
    END IF;

    RETURN QUERY
        SELECT false, false, false, v_plan, v_limits[3], false, r.allowed, r.lim, r.remaining, r.reset_s
        FROM rate_limit_take(p_org, ARRAY['org:' || p_org, 'user:' || p_org || ':' || p_user],  -- sorted: 'o' < 'u'
                             ARRAY[coalesce(v_limits[1], -1), coalesce(v_limits[2], -1)], p_window_s, p_now) r;
END
$$;

-- Users deleted before this release: their personal organizations are deleted as of the
-- user's deletion, so the purge task takes them after its grace period.
UPDATE organizations o SET deleted_at = u.deleted_at
  FROM users u
 WHERE o.personal_owner_id = u.id AND u.deleted_at IS NOT NULL AND o.deleted_at IS NULL;

-- Failed deliveries that still hold a payload: the cleanup task redacts them after the
-- inbox's retention. The index shrinks as it does.
CREATE INDEX webhook_inbox_failed_payload_idx ON webhook_inbox (received_at)
    WHERE status = 'failed' AND (payload IS NOT NULL OR raw_body IS NOT NULL);
