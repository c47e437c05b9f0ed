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
-- stale, and may quote a deleted policy). Every change of an org's chunks calls it, in the
-- transaction that makes it: a policy's chunks added or removed (with policy_lexemes_apply),
-- their vectors replaced (re-embedding). The corpus row is updated first: an audit remembering
-- answers takes it (FOR SHARE) first too.
CREATE FUNCTION policy_corpus_changed(p_orgs text[]) RETURNS void
    LANGUAGE sql
    AS $$
    UPDATE policy_corpus SET version = version + 1 WHERE org_id = ANY (p_orgs);
    DELETE FROM policy_citations WHERE org_id = ANY (p_orgs);
$$;
