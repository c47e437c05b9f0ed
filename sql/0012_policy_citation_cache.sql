-- Which clause retrieval cites for each check, per organization, remembered until its policies
-- change. An audit cites by searching each check's fixed description in the org's policies:
-- three searches cost 10 ms of every audit (bench/audit_api.py), for an answer that changes with
-- the corpus. policy_corpus.version counts the corpus's changes; a remembered answer counts only
-- while its version is the current one (an audit that read an older version can neither use nor
-- overwrite a newer answer). query_key is a digest of what was searched (the embedder, the
-- check's description, the retrieval settings and the search's own version), so a deploy that
-- changes any of them searches afresh. citation is NULL where nothing was close enough.
ALTER TABLE policy_corpus ADD COLUMN version bigint NOT NULL DEFAULT 0;

CREATE TABLE policy_citations (
    org_id         text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    rule           text NOT NULL,
    query_key      text NOT NULL,
    corpus_version bigint NOT NULL,
    citation       jsonb,
    PRIMARY KEY (org_id, rule)
);

SELECT enable_tenant_rls('policy_citations');

-- A new version of these orgs' corpora, and what was remembered for the old ones goes (it is
-- stale, and may quote a deleted policy). Every change of an org's chunks calls it: a policy's
-- added or removed (policy_lexemes_apply below), their vectors replaced (re-embedding). The
-- corpus row is updated first: an audit remembering answers takes it (FOR SHARE) first too.
CREATE FUNCTION policy_corpus_changed(p_orgs text[]) RETURNS void
    LANGUAGE sql
    AS $$
    UPDATE policy_corpus SET version = version + 1 WHERE org_id = ANY (p_orgs);
    DELETE FROM policy_citations WHERE org_id = ANY (p_orgs);
$$;

-- As in 0009, and each call is a change of the org's corpus.
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
    PERFORM policy_corpus_changed(ARRAY[p_org]);
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
