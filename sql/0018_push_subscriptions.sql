-- Web push: browsers subscribed to their organization's usage-threshold notifications, and each
-- delivery of a notification to one of them (the history's per-channel status).
--
-- A subscription is a push service's capability URL plus the browser's keys. The endpoint is
-- unique across organizations: a browser subscribes once, for one user in one organization.
-- It goes with its user or organization (hard deletes cascade; the soft deletes of Clerk sync
-- delete it explicitly, sheetbrain.db.tenancy_repo), and only its own user (or the system
-- login, for a push service's 404/410 and for Clerk sync) may change or delete it.
CREATE TABLE push_subscriptions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id     text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint   text NOT NULL CHECK (length(endpoint) BETWEEN 1 AND 2048),
    p256dh     bytea NOT NULL CHECK (length(p256dh) = 65),  -- uncompressed P-256 point
    auth       bytea NOT NULL CHECK (length(auth) = 16),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT push_subscriptions_endpoint_key UNIQUE (endpoint)
);
CREATE INDEX push_subscriptions_org_user_idx ON push_subscriptions (org_id, user_id);
SELECT enable_tenant_rls('push_subscriptions');
-- The second lock behind the application's own WHERE user_id = ...: within an organization,
-- a user changes and deletes only their own subscriptions.
CREATE POLICY push_subscriptions_own_update ON push_subscriptions AS RESTRICTIVE FOR UPDATE
    USING (app_is_system() OR user_id = app_current_user());
CREATE POLICY push_subscriptions_own_delete ON push_subscriptions AS RESTRICTIVE FOR DELETE
    USING (app_is_system() OR user_id = app_current_user());

-- One row per (notification, subscription), made with the notification (the fan-out of
-- notifications_repo.insert_crossings), sent by the alerts task with the outbox's lease and
-- backoff. status: pending, sent, failed (a refusal, or attempts used up), gone (the push
-- service answered 404/410: the subscription was deleted). A pending row whose subscription
-- was deleted (subscription_id NULL) is never sent and reads as cancelled.
CREATE TABLE notification_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notification_id bigint NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    org_id          text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    subscription_id uuid REFERENCES push_subscriptions (id) ON DELETE SET NULL,
    channel         text NOT NULL DEFAULT 'webpush' CHECK (channel IN ('webpush')),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'gone')),
    attempts        integer NOT NULL DEFAULT 0,
    http_status     integer,
    last_error      text,
    claimed_until   timestamptz,  -- a sender's lease, then the backoff before the next attempt
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (notification_id, subscription_id)
);
CREATE INDEX notification_deliveries_pending_idx ON notification_deliveries (created_at, id) WHERE status = 'pending';
CREATE INDEX notification_deliveries_subscription_idx ON notification_deliveries (subscription_id);
SELECT enable_tenant_rls('notification_deliveries');

-- The history, newest first, per organization.
CREATE INDEX notifications_org_created_idx ON notifications (org_id, created_at DESC, id DESC);

-- When a failed attempt (the attempts-th, counting from 0) may be retried: 1, 2, 4... minutes,
-- at most 6 hours. The one backoff of both outboxes (EventBridge events and web push).
CREATE FUNCTION notification_retry_at(p_attempts integer) RETURNS timestamptz
    LANGUAGE sql STABLE
    AS $$ SELECT now() + least(interval '6 hours', interval '1 minute' * 2 ^ least(p_attempts, 20)) $$;
