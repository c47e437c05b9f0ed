-- Deleting a user keeps the history it took part in, with the user reference nulled. The audit
-- log is append-only, but its user_id is outside the hash (the actor digest is inside), so the
-- one change allowed to a row is setting user_id to NULL; anything else is still refused.
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

DROP TRIGGER audit_log_append_only ON audit_log;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW WHEN (current_setting('app.purge', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION audit_log_guard();

-- The columns a user's deletion nulls are looked up by user.
CREATE INDEX audits_user_idx ON audits (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX audit_log_user_idx ON audit_log (user_id) WHERE user_id IS NOT NULL;
