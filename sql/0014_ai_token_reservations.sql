-- AI tokens are reserved before the model is called, and settled after. A check before the
-- call alone let two audits racing at the limit both pass, and a call's tokens are only known
-- once it has answered: so each call first holds an upper bound of what it can spend (its
-- prompt's bound plus the answer's maxTokens), in the statement that checks the allowance, and
-- the audit's transaction swaps the hold for the tokens the model reported.
--
-- A hold lives until the invocation that took it is surely over (its Lambda's remaining time
-- plus a grace). One still here after that belongs to an invocation that died during the call,
-- which Bedrock bills: the next reservation of the org charges it its input tokens' bound, as
-- a timed-out call is charged, and removes it.
CREATE TABLE ai_token_reservations (
    id                uuid PRIMARY KEY,  -- the audit's id; its usage event's key is 'ai:' || id
    org_id            text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    month             date NOT NULL CHECK (extract(day FROM month) = 1),
    tokens            bigint NOT NULL CHECK (tokens > 0),  -- held: input bound + maxTokens
    input_tokens      bigint NOT NULL CHECK (input_tokens > 0 AND input_tokens <= tokens),
    input_cost_micros bigint NOT NULL CHECK (input_cost_micros >= 0),
    model             text NOT NULL,
    reserved_at       timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    CHECK (expires_at > reserved_at)
);
CREATE INDEX ai_token_reservations_org_idx ON ai_token_reservations (org_id, month);
SELECT enable_tenant_rls('ai_token_reservations');

-- Hold p_tokens of the org's monthly AI-token allowance for one model call, or refuse. The
-- month's usage row is locked first (as usage_consume locks it), so reservations and
-- settlements of an org are serialised on it: the usage counted plus every hold plus this one
-- never passes the limit. A plan without the feature has no allowance (refused, not
-- unlimited). Returns (accepted, used, reserved: the holds before this one, lim).
CREATE FUNCTION ai_tokens_reserve(
    p_org text, p_id uuid, p_tokens bigint, p_input_tokens bigint, p_input_cost_micros bigint, p_model text,
    p_now timestamptz, p_reserved_at timestamptz, p_expires_at timestamptz
) RETURNS TABLE (accepted boolean, used bigint, reserved bigint, lim bigint)
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_month date := date_trunc('month', p_now AT TIME ZONE 'UTC')::date;
    v_limit bigint := entitlement(p_org, 'ai_tokens_per_month', p_now);
    v_used bigint;
    v_reserved bigint;
    r record;
BEGIN
    INSERT INTO usage_monthly (org_id, metric, month, quantity) VALUES (p_org, 'ai_tokens', v_month, 0)
        ON CONFLICT (org_id, metric, month) DO NOTHING;
    PERFORM 1 FROM usage_monthly m
        WHERE m.org_id = p_org AND m.metric = 'ai_tokens' AND m.month = v_month FOR UPDATE;
    -- Holds whose invocation is over: the call was made and billed, its tokens never reported.
    FOR r IN DELETE FROM ai_token_reservations x WHERE x.org_id = p_org AND x.expires_at <= p_reserved_at
             RETURNING x.* LOOP
        INSERT INTO ai_token_usage (org_id, user_id, audit_id, model, input_tokens, output_tokens, cost_micros, outcome)
            VALUES (r.org_id, NULL, NULL, r.model, r.input_tokens, 0, r.input_cost_micros,
                    'unavailable: lapsed (input tokens estimated)');
        PERFORM usage_consume(r.org_id, NULL, 'ai_tokens', r.input_tokens, 'ai:' || r.id, -1, r.reserved_at);
    END LOOP;
    SELECT m.quantity INTO v_used FROM usage_monthly m
        WHERE m.org_id = p_org AND m.metric = 'ai_tokens' AND m.month = v_month;
    SELECT coalesce(sum(x.tokens), 0) INTO v_reserved FROM ai_token_reservations x
        WHERE x.org_id = p_org AND x.month = v_month;
    IF v_limit IS NULL OR (v_limit >= 0 AND v_used + v_reserved + p_tokens > v_limit) THEN
        RETURN QUERY SELECT false, v_used, v_reserved, v_limit;
        RETURN;
    END IF;
    INSERT INTO ai_token_reservations (id, org_id, month, tokens, input_tokens, input_cost_micros, model,
                                       reserved_at, expires_at)
        VALUES (p_id, p_org, v_month, p_tokens, p_input_tokens, p_input_cost_micros, p_model, p_reserved_at,
                p_expires_at);
    RETURN QUERY SELECT true, v_used, v_reserved, v_limit;
END
$$;

-- Swap a hold for the tokens the call spent (0: nothing was spent, the hold is released):
-- they are spent whatever the allowance says now, so counted without a limit, once per key.
-- Returns (used: the month's usage after it, spent: what this settlement added).
CREATE FUNCTION ai_tokens_settle(p_org text, p_user text, p_id uuid, p_tokens bigint, p_now timestamptz)
    RETURNS TABLE (used bigint, spent bigint)
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_month date := date_trunc('month', p_now AT TIME ZONE 'UTC')::date;
    c record;
BEGIN
    IF p_tokens > 0 THEN
        -- Locks the month's row before the hold goes: a reservation meanwhile sees both or neither.
        SELECT * INTO c FROM usage_consume(p_org, p_user, 'ai_tokens', p_tokens, 'ai:' || p_id, -1, p_now);
        DELETE FROM ai_token_reservations x WHERE x.org_id = p_org AND x.id = p_id;
        RETURN QUERY SELECT c.used, CASE WHEN c.duplicate THEN 0::bigint ELSE p_tokens END;
        RETURN;
    END IF;
    DELETE FROM ai_token_reservations x WHERE x.org_id = p_org AND x.id = p_id;
    RETURN QUERY SELECT coalesce((SELECT m.quantity FROM usage_monthly m
                                  WHERE m.org_id = p_org AND m.metric = 'ai_tokens' AND m.month = v_month), 0),
                        0::bigint;
END
$$;
