-- The guard every authenticated request passes, in one statement (one round trip, one commit):
-- scope the transaction to the caller's org, create the caller's rows on first sight, refuse
-- deleted tenants, and take one request from the org's and the user's rate limits.
CREATE FUNCTION request_guard(
    p_org text, p_user text, p_role text, p_personal boolean, p_now timestamptz,
    p_window_s integer DEFAULT 60
) RETURNS TABLE (
    user_deleted boolean, org_deleted boolean, membership_deleted boolean, plan text,
    allowed boolean, lim bigint, remaining bigint, reset_s integer
)
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_user_deleted boolean;
    v_org_deleted boolean;
    v_membership_deleted boolean;
    v_plan text;
    v_limits bigint[];
BEGIN
    PERFORM set_config('app.org_id', p_org, true), set_config('app.user_id', p_user, true);

    -- The common case, every row known: one read. NULL means "not there yet".
    SELECT (SELECT u.deleted_at IS NOT NULL FROM users u WHERE u.id = p_user),
           (SELECT o.deleted_at IS NOT NULL FROM organizations o WHERE o.id = p_org),
           (SELECT m.deleted_at IS NOT NULL FROM memberships m WHERE m.org_id = p_org AND m.user_id = p_user),
           effective_plan(p_org, p_now)
      INTO v_user_deleted, v_org_deleted, v_membership_deleted, v_plan;
    IF v_user_deleted IS NULL OR v_org_deleted IS NULL OR v_membership_deleted IS NULL THEN
        INSERT INTO users (id) VALUES (p_user) ON CONFLICT (id) DO NOTHING;
        -- The slug is left to Clerk's webhook: a token's slug may still be held by another,
        -- renamed org whose update has not arrived, and must not lock this org out.
        INSERT INTO organizations (id, name, is_personal, personal_owner_id)
            VALUES (p_org, CASE WHEN p_personal THEN 'Personal' ELSE '' END, p_personal,
                    CASE WHEN p_personal THEN p_user END)
            ON CONFLICT (id) DO NOTHING;
        INSERT INTO memberships (org_id, user_id, role) VALUES (p_org, p_user, p_role)
            ON CONFLICT (org_id, user_id) DO NOTHING;
        v_user_deleted := coalesce(v_user_deleted, false);
        v_org_deleted := coalesce(v_org_deleted, false);
        v_membership_deleted := coalesce(v_membership_deleted, false);
    END IF;

    IF v_user_deleted OR v_org_deleted OR v_membership_deleted THEN
        RETURN QUERY SELECT v_user_deleted, v_org_deleted, v_membership_deleted, v_plan,
                            false, 0::bigint, 0::bigint, 0;
        RETURN;
    END IF;

    v_limits := entitlement_values(p_org, ARRAY['requests_per_minute', 'user_requests_per_minute'], p_now, v_plan);
    RETURN QUERY
        SELECT false, false, false, v_plan, r.allowed, r.lim, r.remaining, r.reset_s
        FROM rate_limit_take(p_org, ARRAY['org:' || p_org, 'user:' || p_org || ':' || p_user],  -- sorted: 'o' < 'u'
                             ARRAY[coalesce(v_limits[1], -1), coalesce(v_limits[2], -1)], p_window_s, p_now) r;
END
$$;
