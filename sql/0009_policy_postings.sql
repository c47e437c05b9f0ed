-- Full-text candidates through a lexeme → chunk table instead of the GIN index on tsv.
-- Under row-level security a query's own conditions may reach an index only if their
-- operators are leakproof, and tsvector @@ tsquery is not: for the application's role the GIN
-- index was never used, and every full-text search scanned and matched all of the org's chunks
-- (bench/ingest.py: 69 ms p50 over 10,000 chunks, 5 ms for the same query as the table owner).
-- Text equality is leakproof, so (org_id, lexeme) lookups here use the primary key, and the
-- chunks they name are fetched by id for ts_rank.
-- weight: the lexeme's occurrences in the chunk, each counted as ts_rank weighs it (heading A 1.0,
-- text B 0.4), so a shortlist drawn from the postings favours the chunks ts_rank would.
CREATE TABLE policy_postings (
    org_id   text NOT NULL,
    lexeme   text NOT NULL,
    chunk_id bigint NOT NULL REFERENCES policy_chunks (id) ON DELETE CASCADE,
    weight   real NOT NULL,
    PRIMARY KEY (org_id, lexeme, chunk_id)
);
CREATE INDEX policy_postings_chunk_idx ON policy_postings (chunk_id);  -- for the cascade

SELECT enable_tenant_rls('policy_postings');

-- Unusable for the application's role (see above); dropping it also lightens ingestion.
DROP INDEX policy_chunks_tsv_idx;

-- ts_rank's default weights (D 0.1, C 0.2, B 0.4, A 1.0), summed over a lexeme's occurrences.
CREATE FUNCTION policy_posting_weight(p_weights text[]) RETURNS real
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(sum(CASE w WHEN 'A' THEN 1.0 WHEN 'B' THEN 0.4 WHEN 'C' THEN 0.2 ELSE 0.1 END), 0)::real
          FROM unnest(p_weights) AS w $$;

-- The postings follow the statistics of 0008: written after a policy's chunks, and removed
-- with them by the cascade.
CREATE OR REPLACE FUNCTION policy_lexemes_apply(p_org text, p_policy uuid, p_sign integer) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO policy_lexemes (org_id, lexeme, chunks)
        SELECT p_org, l, p_sign * count(*)::integer
        FROM policy_chunks c, unnest(tsvector_to_array(c.tsv)) AS l
        WHERE c.org_id = p_org AND c.policy_id = p_policy
        GROUP BY l
        ON CONFLICT (org_id, lexeme) DO UPDATE SET chunks = policy_lexemes.chunks + EXCLUDED.chunks;
    INSERT INTO policy_corpus (org_id, chunks)
        SELECT p_org, p_sign * count(*)::integer FROM policy_chunks c WHERE c.org_id = p_org AND c.policy_id = p_policy
        HAVING count(*) > 0  -- nothing visible (no such policy here): nothing to change
        ON CONFLICT (org_id) DO UPDATE SET chunks = policy_corpus.chunks + EXCLUDED.chunks;
    IF p_sign > 0 THEN
        INSERT INTO policy_postings (org_id, lexeme, chunk_id, weight)
            SELECT p_org, t.lexeme, c.id, policy_posting_weight(t.weights)
            FROM policy_chunks c, unnest(c.tsv) AS t
            WHERE c.org_id = p_org AND c.policy_id = p_policy;
    ELSE
        DELETE FROM policy_lexemes WHERE org_id = p_org AND chunks <= 0;
    END IF;
END
$$;

INSERT INTO policy_postings (org_id, lexeme, chunk_id, weight)
    SELECT c.org_id, t.lexeme, c.id, policy_posting_weight(t.weights) FROM policy_chunks c, unnest(c.tsv) AS t;
