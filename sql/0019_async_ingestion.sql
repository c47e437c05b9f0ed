-- Asynchronous ingestion (issue 16): a policy's status and progress, the work of ingesting it
-- (one job per policy, its chunks staged until all are embedded), and the local stand-in of the
-- work queue (SQS in AWS).

-- Existing policies were stored whole, in one transaction: they are ready.
ALTER TABLE policies
    ADD COLUMN status text NOT NULL DEFAULT 'ready'
        CHECK (status IN ('awaiting_upload', 'processing', 'ready', 'failed')),
    ADD COLUMN chunks_total integer CHECK (chunks_total >= 0),
    ADD COLUMN chunks_done integer NOT NULL DEFAULT 0 CHECK (chunks_done >= 0),
    ADD COLUMN error_code text CHECK (length(error_code) <= 100),
    ADD COLUMN error_message text CHECK (length(error_message) <= 1000),
    -- A presigned upload: the object key it may write, until when, and at most how many bytes.
    ADD COLUMN upload_key text UNIQUE CHECK (length(upload_key) <= 300),
    ADD COLUMN upload_expires_at timestamptz,
    ADD COLUMN upload_filename text CHECK (length(upload_filename) <= 8192),
    ADD COLUMN upload_content_type text CHECK (length(upload_content_type) <= 200),
    -- The object version (or ETag) the policy is made from: a later upload to the key changes nothing.
    ADD COLUMN source_version text CHECK (length(source_version) <= 1100),
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX policies_awaiting_upload_idx ON policies (upload_expires_at) WHERE status = 'awaiting_upload';

-- The work of ingesting one policy. Its lease says who works on it until when (the API inline,
-- then a worker); a job is done once finished_at is set, and a redelivered message then finds
-- nothing left to do.
CREATE TABLE ingestion_jobs (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id         text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    policy_id      uuid NOT NULL UNIQUE REFERENCES policies (id) ON DELETE CASCADE,
    user_id        text REFERENCES users (id) ON DELETE SET NULL,
    source         text NOT NULL CHECK (source IN ('inline', 'upload')),
    document       bytea,                -- an inline document's bytes, dropped when the job is done
    object_key     text,                 -- an upload's object and version
    object_version text,
    filename       text,
    content_type   text,
    size_bytes     bigint NOT NULL CHECK (size_bytes >= 0),
    lease_until    timestamptz,
    enqueued_at    timestamptz,          -- sent to the queue; null while the API works on it inline
    attempts       integer NOT NULL DEFAULT 0,
    finished_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ingestion_jobs_stalled_idx ON ingestion_jobs (lease_until) WHERE finished_at IS NULL;

-- A processing policy's chunks, embedded batch by batch; moved into policy_chunks (and so into
-- search) in the transaction that makes the policy ready.
CREATE TABLE ingestion_chunks (
    policy_id    uuid NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    org_id       text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    ordinal      integer NOT NULL,
    clause       text,
    heading_path text[] NOT NULL DEFAULT '{}',
    text         text NOT NULL,
    start_offset integer NOT NULL,
    end_offset   integer NOT NULL,
    embedding    vector,
    PRIMARY KEY (policy_id, ordinal)
);
CREATE INDEX ingestion_chunks_pending_idx ON ingestion_chunks (policy_id, ordinal) WHERE embedding IS NULL;

SELECT enable_tenant_rls('ingestion_jobs', 'ingestion_chunks');

-- The local stand-in of SQS (the dev server's queue runner): at-least-once delivery by
-- visibility timeout, receive counts, and a dead-letter queue. Unused in AWS. The API may send;
-- only the system login receives.
CREATE TABLE work_queue (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue         text NOT NULL CHECK (length(queue) <= 80),
    body          text NOT NULL CHECK (length(body) <= 262144),
    receive_count integer NOT NULL DEFAULT 0,
    visible_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX work_queue_visible_idx ON work_queue (queue, visible_at);
ALTER TABLE work_queue ENABLE ROW LEVEL SECURITY;
ALTER TABLE work_queue FORCE ROW LEVEL SECURITY;
CREATE POLICY work_queue_send ON work_queue FOR INSERT WITH CHECK (true);
CREATE POLICY work_queue_system ON work_queue USING (app_is_system()) WITH CHECK (app_is_system());
