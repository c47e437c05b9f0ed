-- How many of an org's policy chunks contain each lexeme, kept current as policies come and go.
-- Full-text search ORs the query's lexemes; with them, the ones present in most of the org's
-- chunks ("formula", "spreadsheet"...) are left out of the query: they match nearly everything,
-- discriminate nothing, and made ranking scan the whole corpus (bench/ingest.py: 49 ms p50
-- over 10,000 chunks).
CREATE TABLE policy_lexemes (
    org_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    lexeme text NOT NULL,
    chunks integer NOT NULL,
    PRIMARY KEY (org_id, lexeme)
);

CREATE TABLE policy_corpus (
    org_id text PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    chunks integer NOT NULL
);

SELECT enable_tenant_rls('policy_lexemes', 'policy_corpus');

-- Add (p_sign 1, after its chunks are written) or remove (p_sign -1, before they are deleted)
-- one policy's chunks from its org's statistics.
CREATE FUNCTION policy_lexemes_apply(p_org text, p_policy uuid, p_sign integer) RETURNS void
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
    IF p_sign < 0 THEN
        DELETE FROM policy_lexemes WHERE org_id = p_org AND chunks <= 0;
    END IF;
END
$$;

INSERT INTO policy_lexemes (org_id, lexeme, chunks)
    SELECT c.org_id, l, count(*)::integer FROM policy_chunks c, unnest(tsvector_to_array(c.tsv)) AS l
    GROUP BY c.org_id, l;
INSERT INTO policy_corpus (org_id, chunks) SELECT org_id, count(*)::integer FROM policy_chunks GROUP BY org_id;
