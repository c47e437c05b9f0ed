-- Audits with their findings, the tamper-evident audit log, AI-token usage and notifications.

CREATE TABLE audits (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id           text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id          text REFERENCES users (id) ON DELETE SET NULL,
    sheet_name       text,
    sheet_range      text,
    spreadsheet_id   text,
    purpose          text,
    formulas         integer NOT NULL,
    findings         integer NOT NULL,
    compliant        integer NOT NULL,
    score            integer NOT NULL CHECK (score BETWEEN 0 AND 100),
    by_severity      jsonb NOT NULL,
    duration_ms      integer NOT NULL,
    rag_used         boolean NOT NULL,
    clauses_used     integer NOT NULL DEFAULT 0,
    ai_review        jsonb,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audits_org_created_idx ON audits (org_id, created_at DESC, id DESC);
CREATE INDEX audits_user_idx ON audits (user_id) WHERE user_id IS NOT NULL;

-- org_id repeats the audit's for row-level security; its integrity comes with the audit (no
-- second foreign key to check for each of an audit's hundreds of findings).
CREATE TABLE audit_findings (
    audit_id   uuid NOT NULL REFERENCES audits (id) ON DELETE CASCADE,
    org_id     text NOT NULL,
    ordinal    integer NOT NULL,
    cell       text,
    formula    text NOT NULL,
    rule       text NOT NULL,
    severity   text NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low', 'info')),
    message    text NOT NULL,
    suggestion text,
    policy     jsonb,
    PRIMARY KEY (audit_id, ordinal)
);

-- Append-only and hash-chained per organization: each row's hash covers the previous row's
-- hash and this row's content, so changing or removing a row breaks every later link. The
-- actor is a digest, not the user id, so deleting a user (user_id set NULL) leaves the chain
-- intact. audit_log_heads holds each org's last link; appends lock it, so they serialise.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id      text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq         bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    event       text NOT NULL,
    audit_id    uuid,
    user_id     text REFERENCES users (id) ON DELETE SET NULL,
    actor       text NOT NULL,
    payload     text NOT NULL,   -- canonical JSON (sorted keys, no spaces), exactly as hashed
    prev_hash   text NOT NULL,
    hash        text NOT NULL,
    UNIQUE (org_id, seq)
);
CREATE INDEX audit_log_org_created_idx ON audit_log (org_id, created_at);
CREATE INDEX audit_log_user_idx ON audit_log (user_id) WHERE user_id IS NOT NULL;

CREATE TABLE audit_log_heads (
    org_id    text PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    seq       bigint NOT NULL,
    hash      text NOT NULL,
    -- Rows before this sequence number were archived and deleted by the retention task;
    -- anchor_hash is the hash of the last archived row, where the chain now starts.
    anchor_seq  bigint NOT NULL DEFAULT 0,
    anchor_hash text NOT NULL DEFAULT repeat('0', 64)
);

-- Deleting a user keeps the history with the user reference nulled: user_id is outside the
-- hash (the actor digest is inside), so setting it to NULL is the one change allowed to a row.
CREATE FUNCTION audit_log_guard() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.user_id IS NULL
       AND (NEW.id, NEW.org_id, NEW.seq, NEW.created_at, NEW.event, NEW.audit_id, NEW.actor, NEW.payload,
            NEW.prev_hash, NEW.hash)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.org_id, OLD.seq, OLD.created_at, OLD.event, OLD.audit_id, OLD.actor, OLD.payload,
            OLD.prev_hash, OLD.hash) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW WHEN (NOT app_may_purge())
    EXECUTE FUNCTION audit_log_guard();

-- The text a row's hash covers; sheetbrain verify-audit-log rebuilds it the same way.
CREATE FUNCTION audit_log_digest(
    p_prev text, p_org text, p_seq bigint, p_at timestamptz, p_event text, p_audit uuid, p_actor text, p_payload text
) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT encode(sha256(convert_to(
        p_prev || '|' || p_org || '|' || p_seq::text || '|' || (extract(epoch FROM p_at) * 1000000)::bigint::text
        || '|' || p_event || '|' || coalesce(p_audit::text, '') || '|' || p_actor || '|' || p_payload, 'UTF8')), 'hex')
$$;

CREATE FUNCTION audit_log_append(
    p_org text, p_event text, p_audit uuid, p_user text, p_actor text, p_payload text, p_at timestamptz
) RETURNS TABLE (seq bigint, hash text)
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_seq bigint;
    v_prev text;
    v_hash text;
BEGIN
    INSERT INTO audit_log_heads (org_id, seq, hash) VALUES (p_org, 0, repeat('0', 64))
        ON CONFLICT (org_id) DO NOTHING;
    SELECT h.seq + 1, h.hash INTO v_seq, v_prev FROM audit_log_heads h WHERE h.org_id = p_org FOR UPDATE;
    v_hash := audit_log_digest(v_prev, p_org, v_seq, p_at, p_event, p_audit, p_actor, p_payload);
    INSERT INTO audit_log (org_id, seq, created_at, event, audit_id, user_id, actor, payload, prev_hash, hash)
        VALUES (p_org, v_seq, p_at, p_event, p_audit, p_user, p_actor, p_payload, v_prev, v_hash);
    UPDATE audit_log_heads h SET seq = v_seq, hash = v_hash WHERE h.org_id = p_org;
    RETURN QUERY SELECT v_seq, v_hash;
END
$$;

-- Every model call: tokens, cost (micro-dollars from the price table in code), who and why.
CREATE TABLE ai_token_usage (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id        text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id       text REFERENCES users (id) ON DELETE SET NULL,
    audit_id      uuid REFERENCES audits (id) ON DELETE SET NULL,
    model         text NOT NULL,
    input_tokens  integer NOT NULL CHECK (input_tokens >= 0),
    output_tokens integer NOT NULL CHECK (output_tokens >= 0),
    cost_micros   bigint NOT NULL CHECK (cost_micros >= 0),
    outcome       text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ai_token_usage_org_idx ON ai_token_usage (org_id, created_at DESC);

-- Per-org thresholds (percent of a monthly limit) that notify once per period.
CREATE TABLE usage_thresholds (
    org_id   text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    feature  text NOT NULL,
    percents integer[] NOT NULL CHECK (cardinality(percents) > 0),
    PRIMARY KEY (org_id, feature)
);

-- Notification history and outbox: unique per (org, kind, threshold, period) so each
-- threshold notifies once; delivered_at is set when the EventBridge event was accepted.
CREATE TABLE notifications (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id       text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind         text NOT NULL,
    feature      text NOT NULL,
    threshold    integer NOT NULL,
    period       date NOT NULL,
    used         bigint NOT NULL,
    lim          bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    claimed_until timestamptz,  -- a sender's lease: the event is being sent outside any transaction
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text,
    UNIQUE (org_id, kind, feature, threshold, period)
);
CREATE INDEX notifications_undelivered_idx ON notifications (created_at) WHERE delivered_at IS NULL;

SELECT enable_tenant_rls('audits', 'audit_findings', 'audit_log', 'audit_log_heads', 'ai_token_usage', 'usage_thresholds',
                         'notifications');
