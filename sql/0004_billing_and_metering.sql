-- Plans and entitlements (data, changeable without a deploy), subscriptions mirrored from
-- Stripe, plan history, an append-only billing ledger, rate-limit buckets and usage metering.

CREATE TABLE plans (
    code          text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]*$'),
    name          text NOT NULL,
    rank          integer NOT NULL UNIQUE,           -- ordering for upgrades/downgrades
    grace_days    integer NOT NULL DEFAULT 7 CHECK (grace_days >= 0),  -- past_due keeps the plan this long
    active        boolean NOT NULL DEFAULT true
);

-- Numbers: -1 means unlimited. Flags: 1 on, 0 off.
CREATE TABLE plan_features (
    plan_code text NOT NULL REFERENCES plans (code) ON DELETE CASCADE,
    feature   text NOT NULL CHECK (feature ~ '^[a-z][a-z0-9_]*$'),
    value     bigint NOT NULL CHECK (value >= -1),
    PRIMARY KEY (plan_code, feature)
);

INSERT INTO plans (code, name, rank, grace_days) VALUES
    ('free', 'Free', 0, 0), ('pro', 'Pro', 10, 7), ('business', 'Business', 20, 14), ('enterprise', 'Enterprise', 30, 30);

INSERT INTO plan_features (plan_code, feature, value) VALUES
    ('free', 'audits_per_month', 10), ('free', 'policies', 3), ('free', 'ai_tokens_per_month', 0),
    ('free', 'seats', 3), ('free', 'requests_per_minute', 60), ('free', 'user_requests_per_minute', 30),
    ('free', 'audit_retention_days', 30), ('free', 'ai_review', 0),
    ('pro', 'audits_per_month', 1000), ('pro', 'policies', 50), ('pro', 'ai_tokens_per_month', 2000000),
    ('pro', 'seats', 10), ('pro', 'requests_per_minute', 300), ('pro', 'user_requests_per_minute', 120),
    ('pro', 'audit_retention_days', 365), ('pro', 'ai_review', 1),
    ('business', 'audits_per_month', 10000), ('business', 'policies', 500),
    ('business', 'ai_tokens_per_month', 20000000), ('business', 'seats', 50),
    ('business', 'requests_per_minute', 1200), ('business', 'user_requests_per_minute', 300),
    ('business', 'audit_retention_days', 730), ('business', 'ai_review', 1),
    ('enterprise', 'audits_per_month', -1), ('enterprise', 'policies', -1),
    ('enterprise', 'ai_tokens_per_month', -1), ('enterprise', 'seats', -1),
    ('enterprise', 'requests_per_minute', 6000), ('enterprise', 'user_requests_per_minute', 1200),
    ('enterprise', 'audit_retention_days', -1), ('enterprise', 'ai_review', 1);

-- Plans are reference data: the application reads them, operators change them.
REVOKE INSERT, UPDATE, DELETE ON plans, plan_features FROM sheetbrain_app;

-- Per-organization overrides replace the plan's value; grants add to it for a while.
CREATE TABLE entitlement_overrides (
    org_id     text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    feature    text NOT NULL,
    value      bigint NOT NULL CHECK (value >= -1),
    reason     text NOT NULL,
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, feature)
);

CREATE TABLE entitlement_grants (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id      text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    feature     text NOT NULL,
    amount      bigint NOT NULL CHECK (amount > 0),
    valid_from  timestamptz NOT NULL DEFAULT now(),
    valid_until timestamptz NOT NULL,
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_until > valid_from)
);
CREATE INDEX entitlement_grants_org_idx ON entitlement_grants (org_id, feature, valid_until);

-- One billing account per organization: the Stripe customer and its current subscription.
CREATE TABLE subscriptions (
    org_id                 text PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    stripe_customer_id     text UNIQUE,
    stripe_subscription_id text UNIQUE,
    plan_code              text NOT NULL DEFAULT 'free' REFERENCES plans (code),
    status                 text NOT NULL DEFAULT 'none'
        CHECK (status IN ('none', 'incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due',
                          'canceled', 'unpaid', 'paused')),
    current_period_start   timestamptz,
    current_period_end     timestamptz,
    cancel_at_period_end   boolean NOT NULL DEFAULT false,
    canceled_at            timestamptz,
    past_due_since         timestamptz,
    source_event_created   timestamptz,  -- watermark: Stripe's event.created of the newest applied event
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER subscriptions_touch BEFORE UPDATE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE plan_changes (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id         text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    from_plan      text NOT NULL,
    to_plan        text NOT NULL,
    from_status    text NOT NULL,
    to_status      text NOT NULL,
    reason         text NOT NULL,
    effective_at   timestamptz NOT NULL,
    source_event   text,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX plan_changes_org_idx ON plan_changes (org_id, effective_at DESC);

-- Append-only: every money-related provider event, once.
CREATE TABLE billing_ledger (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    source_event_id text NOT NULL UNIQUE,
    kind            text NOT NULL,
    amount_cents    bigint NOT NULL DEFAULT 0,
    currency        text NOT NULL DEFAULT 'usd',
    stripe_object   text,
    occurred_at     timestamptz NOT NULL,
    details         jsonb NOT NULL DEFAULT '{}'::jsonb,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX billing_ledger_org_idx ON billing_ledger (org_id, occurred_at DESC);

CREATE FUNCTION forbid_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER billing_ledger_append_only BEFORE UPDATE OR DELETE ON billing_ledger
    FOR EACH ROW WHEN (NOT app_may_purge())
    EXECUTE FUNCTION forbid_change();

-- Sliding-window rate limiting: one row per key and window. The counters of the last two
-- minutes may start from zero after a crash (at worst one window of extra allowance), so they
-- skip the WAL: a request's guard then writes nothing that waits for a disk flush. Quotas and
-- usage, which must survive, stay logged.
CREATE UNLOGGED TABLE rate_limit_buckets (
    org_id       text NOT NULL,
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    count        integer NOT NULL DEFAULT 0,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_limit_buckets_expires_idx ON rate_limit_buckets (expires_at);

-- Usage: raw events (idempotent) and aggregates kept current as events are written.
CREATE TABLE usage_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         text REFERENCES users (id) ON DELETE SET NULL,
    metric          text NOT NULL CHECK (metric ~ '^[a-z][a-z0-9_]*$'),
    quantity        bigint NOT NULL CHECK (quantity > 0),
    idempotency_key text NOT NULL,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, idempotency_key)
);
CREATE INDEX usage_events_org_metric_time_idx ON usage_events (org_id, metric, occurred_at);

CREATE TABLE usage_daily (
    org_id   text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    metric   text NOT NULL,
    day      date NOT NULL,
    quantity bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, metric, day)
);

CREATE TABLE usage_monthly (
    org_id   text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    metric   text NOT NULL,
    month    date NOT NULL CHECK (extract(day FROM month) = 1),
    quantity bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, metric, month)
);

-- Tenant isolation for tables with an org_id column: the second lock behind each query's own
-- WHERE org_id = ... (tenant transactions see their org; system transactions, everything).
CREATE FUNCTION enable_tenant_rls(VARIADIC p_tables text[]) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY p_tables LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON %I USING (app_is_system() OR org_id = app_current_org()) '
                       'WITH CHECK (app_is_system() OR org_id = app_current_org())', t || '_tenant', t);
    END LOOP;
END
$$;
REVOKE EXECUTE ON FUNCTION enable_tenant_rls(text[]) FROM PUBLIC, sheetbrain_app;

SELECT enable_tenant_rls('entitlement_overrides', 'entitlement_grants', 'subscriptions', 'plan_changes', 'billing_ledger',
                         'rate_limit_buckets', 'usage_events', 'usage_daily', 'usage_monthly');

-- The plan an organization is entitled to now: its subscription's plan while active or
-- trialing, or past_due within the plan's grace period; otherwise free. (PL/pgSQL rather than
-- SQL functions: their plans are cached per session, SQL functions' are rebuilt per call.)
CREATE FUNCTION effective_plan(p_org text, p_now timestamptz DEFAULT now()) RETURNS text
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    v_plan text;
BEGIN
    SELECT s.plan_code INTO v_plan FROM subscriptions s JOIN plans p ON p.code = s.plan_code
        WHERE s.org_id = p_org
          AND (s.status IN ('active', 'trialing')
               OR (s.status = 'past_due' AND s.past_due_since + make_interval(days => p.grace_days) > p_now));
    RETURN coalesce(v_plan, 'free');
END
$$;

-- The limits of features for an organization, in the order asked: an unexpired override,
-- else the plan's value, plus active grants (unlimited, -1, stays unlimited); NULL for a
-- feature that does not exist. Plain index lookups per feature (plans cached by PL/pgSQL). A
-- caller that already knows the effective plan passes it (p_plan) to save the lookup.
CREATE FUNCTION entitlement_values(p_org text, p_features text[], p_now timestamptz, p_plan text DEFAULT NULL)
    RETURNS bigint[]
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    v_plan text := coalesce(p_plan, effective_plan(p_org, p_now));
    v_values bigint[] := ARRAY[]::bigint[];
    v_value bigint;
    v_granted bigint;
BEGIN
    FOR i IN 1..coalesce(cardinality(p_features), 0) LOOP
        v_value := NULL;
        SELECT o.value INTO v_value FROM entitlement_overrides o
            WHERE o.org_id = p_org AND o.feature = p_features[i] AND (o.expires_at IS NULL OR o.expires_at > p_now);
        IF v_value IS NULL THEN
            SELECT f.value INTO v_value FROM plan_features f WHERE f.plan_code = v_plan AND f.feature = p_features[i];
        END IF;
        IF v_value >= 0 THEN
            SELECT coalesce(sum(g.amount), 0) INTO v_granted FROM entitlement_grants g
                WHERE g.org_id = p_org AND g.feature = p_features[i] AND p_now >= g.valid_from AND p_now < g.valid_until;
            v_value := v_value + v_granted;
        END IF;
        v_values := v_values || v_value;
    END LOOP;
    RETURN v_values;
END
$$;

-- One feature's limit (see entitlement_values).
CREATE FUNCTION entitlement(p_org text, p_feature text, p_now timestamptz DEFAULT now()) RETURNS bigint
    LANGUAGE sql STABLE
    AS $$ SELECT (entitlement_values(p_org, ARRAY[p_feature], p_now))[1] $$;

-- Consume metered usage against a limit, atomically: the month's row is locked first, so
-- concurrent consumers are serialised on it and none can pass the limit; a repeated
-- idempotency key counts once. Returns (accepted, used_after, duplicate).
CREATE FUNCTION usage_consume(
    p_org text, p_user text, p_metric text, p_quantity bigint, p_key text, p_limit bigint, p_now timestamptz
) RETURNS TABLE (accepted boolean, used bigint, duplicate boolean)
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_month date := date_trunc('month', p_now AT TIME ZONE 'UTC')::date;
    v_used bigint;
BEGIN
    INSERT INTO usage_monthly (org_id, metric, month, quantity) VALUES (p_org, p_metric, v_month, 0)
        ON CONFLICT (org_id, metric, month) DO NOTHING;
    SELECT m.quantity INTO v_used FROM usage_monthly m
        WHERE m.org_id = p_org AND m.metric = p_metric AND m.month = v_month FOR UPDATE;
    IF EXISTS (SELECT 1 FROM usage_events e WHERE e.org_id = p_org AND e.idempotency_key = p_key) THEN
        RETURN QUERY SELECT true, v_used, true;
        RETURN;
    END IF;
    IF p_limit >= 0 AND v_used + p_quantity > p_limit THEN
        RETURN QUERY SELECT false, v_used, false;
        RETURN;
    END IF;
    INSERT INTO usage_events (org_id, user_id, metric, quantity, idempotency_key, occurred_at)
        VALUES (p_org, p_user, p_metric, p_quantity, p_key, p_now);
    UPDATE usage_monthly m SET quantity = m.quantity + p_quantity
        WHERE m.org_id = p_org AND m.metric = p_metric AND m.month = v_month;
    INSERT INTO usage_daily (org_id, metric, day, quantity)
        VALUES (p_org, p_metric, (p_now AT TIME ZONE 'UTC')::date, p_quantity)
        ON CONFLICT (org_id, metric, day) DO UPDATE SET quantity = usage_daily.quantity + EXCLUDED.quantity;
    RETURN QUERY SELECT true, v_used + p_quantity, false;
END
$$;

-- Sliding-window rate limit over several keys at once (org and user); p_keys sorted, a
-- negative limit meaning unlimited (that key is skipped). The estimate weights the previous
-- window by the part of it still inside the sliding window. It counts first and gives the
-- count back when a limit is passed: the upsert locks each key's current row (in key order)
-- until commit, so concurrent requests see each other's counts, and a rejected request
-- leaves every counter as it found it.
CREATE FUNCTION rate_limit_take(
    p_org text, p_keys text[], p_limits bigint[], p_window_s integer, p_now timestamptz
) RETURNS TABLE (allowed boolean, lim bigint, remaining bigint, reset_s integer)
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_window timestamptz := to_timestamp(floor(extract(epoch FROM p_now) / p_window_s) * p_window_s);
    v_prev timestamptz := v_window - make_interval(secs => p_window_s);
    v_weight double precision := 1 - extract(epoch FROM (p_now - v_window)) / p_window_s;
    v_reset integer := greatest(1, ceil(extract(epoch FROM (v_window + make_interval(secs => p_window_s) - p_now)))::integer);
    v_keys text[] := ARRAY[]::text[];
    v_limits bigint[] := ARRAY[]::bigint[];
    v_allowed boolean := true;
    v_lim bigint := -1;
    v_remaining bigint := -1;
    v_estimate double precision;
    v_left bigint;
    v_prev_count bigint;
    rec record;
BEGIN
    FOR i IN 1..coalesce(cardinality(p_keys), 0) LOOP
        IF p_limits[i] >= 0 THEN
            v_keys := v_keys || p_keys[i];
            v_limits := v_limits || p_limits[i];
        END IF;
    END LOOP;
    IF cardinality(v_keys) = 0 THEN
        RETURN QUERY SELECT true, -1::bigint, -1::bigint, v_reset;
        RETURN;
    END IF;
    FOR rec IN
        INSERT INTO rate_limit_buckets AS b (org_id, key, window_start, count, expires_at)
            SELECT p_org, k.key, v_window, 1, v_window + make_interval(secs => 2 * p_window_s)
            FROM unnest(v_keys) WITH ORDINALITY AS k(key, ord) ORDER BY k.key
        ON CONFLICT (key, window_start) DO UPDATE SET count = b.count + 1
        RETURNING b.key, b.count
    LOOP
        SELECT coalesce((SELECT p.count FROM rate_limit_buckets p WHERE p.key = rec.key AND p.window_start = v_prev), 0)
            INTO v_prev_count;
        -- rec.count already includes this request.
        v_estimate := v_prev_count * v_weight + rec.count;
        IF v_estimate > v_limits[array_position(v_keys, rec.key)] THEN
            v_allowed := false;
        END IF;
        v_left := greatest(0, floor(v_limits[array_position(v_keys, rec.key)] - v_estimate))::bigint;
        IF v_lim < 0 OR v_left < v_remaining THEN
            v_remaining := v_left;
            v_lim := v_limits[array_position(v_keys, rec.key)];
        END IF;
    END LOOP;
    IF NOT v_allowed THEN
        UPDATE rate_limit_buckets b SET count = b.count - 1 WHERE b.key = ANY (v_keys) AND b.window_start = v_window;
        v_remaining := 0;
    END IF;
    RETURN QUERY SELECT v_allowed, v_lim, v_remaining, v_reset;
END
$$;

