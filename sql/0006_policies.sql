-- Policy documents, their chunks with vectors (pgvector) and full text, and the ingestion log.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE policies (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id       text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    category     text CHECK (length(category) <= 100),
    content      text NOT NULL,
    format       text NOT NULL,
    size_bytes   integer NOT NULL,
    content_sha256 text NOT NULL,
    rules        jsonb NOT NULL DEFAULT '[]'::jsonb,     -- clauses mapped to audit checks
    unmatched    jsonb NOT NULL DEFAULT '[]'::jsonb,     -- clauses kept for retrieval and AI review
    profile      jsonb NOT NULL DEFAULT '{}'::jsonb,     -- the audit PolicyProfile these rules make
    created_by   text REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX policies_org_created_idx ON policies (org_id, created_at DESC, id DESC);

-- Vectors of any model: the model and dimension travel with each row, and one partial HNSW
-- index per supported model (its dimension fixed by the index expression) serves search.
CREATE TABLE policy_chunks (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    policy_id       uuid NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    org_id          text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    ordinal         integer NOT NULL,
    clause          text,
    heading_path    text[] NOT NULL DEFAULT '{}',
    heading         text NOT NULL DEFAULT '',  -- heading_path joined, for full-text weighting
    text            text NOT NULL,
    start_offset    integer NOT NULL,
    end_offset      integer NOT NULL,
    tsv             tsvector GENERATED ALWAYS AS (
                        setweight(to_tsvector('english', heading), 'A')
                        || setweight(to_tsvector('english', text), 'B')) STORED,
    embedding       vector,
    embedding_model text,
    embedding_dim   integer,
    CHECK ((embedding IS NULL) = (embedding_model IS NULL)),
    CHECK (embedding IS NULL OR vector_dims(embedding) = embedding_dim),
    UNIQUE (policy_id, ordinal)
);
CREATE INDEX policy_chunks_org_idx ON policy_chunks (org_id);
CREATE INDEX policy_chunks_tsv_idx ON policy_chunks USING gin (tsv);
CREATE INDEX policy_chunks_minilm_hnsw ON policy_chunks
    USING hnsw ((embedding::vector(384)) vector_cosine_ops)
    WHERE embedding_model = 'sentence-transformers/all-MiniLM-L6-v2';
CREATE INDEX policy_chunks_titan_hnsw ON policy_chunks
    USING hnsw ((embedding::vector(1024)) vector_cosine_ops)
    WHERE embedding_model = 'amazon.titan-embed-text-v2:0';

CREATE TABLE ingestion_logs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id           text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id          text REFERENCES users (id) ON DELETE SET NULL,
    policy_id        uuid REFERENCES policies (id) ON DELETE SET NULL,
    filename         text,
    content_type     text,
    size_bytes       integer NOT NULL,
    chunks           integer NOT NULL DEFAULT 0,
    vectors_upserted integer NOT NULL DEFAULT 0,
    duration_ms      integer NOT NULL,
    success          boolean NOT NULL,
    error_code       text,
    error_message    text,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ingestion_logs_org_idx ON ingestion_logs (org_id, created_at DESC);

SELECT enable_tenant_rls('policies', 'policy_chunks', 'ingestion_logs');
