"""Policies, their chunks (vectors + full text), the ingestion log, and hybrid search."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import psycopg
from psycopg import sql
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from sheetbrain.db.connection import Pending
from sheetbrain.db.pgvector import vector_literal


# Against the plan's limit of policies counts every policy but a failed one: one awaiting its
# upload or still processing holds its place.
def lock_org_policy_count(conn: psycopg.Connection, org_id: str) -> int:
    """Lock the org's row (so concurrent ingests count one after the other) and count the
    policies that hold a place in the plan (all but failed ones)."""
    conn.execute("SELECT 1 FROM organizations WHERE id = %s FOR UPDATE", (org_id,))
    row = conn.execute("SELECT count(*) FROM policies WHERE org_id = %s AND status <> 'failed'", (org_id,)).fetchone()
    return int(row[0]) if row else 0


class ChunkRow(NamedTuple):
    ordinal: int
    clause: str | None
    heading_path: tuple[str, ...]
    text: str
    start: int
    end: int
    embedding: Sequence[float] | None


def log_ingestion(
    conn: psycopg.Connection,
    *,
    org_id: str,
    user_id: str | None,
    policy_id: uuid.UUID | None,
    filename: str | None,
    content_type: str | None,
    size_bytes: int,
    chunks: int,
    vectors: int,
    duration_ms: int,
    success: bool,
    error_code: str | None,
    error_message: str | None,
) -> None:
    conn.execute(
        """INSERT INTO ingestion_logs (org_id, user_id, policy_id, filename, content_type, size_bytes, chunks,
                                       vectors_upserted, duration_ms, success, error_code, error_message)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            org_id, user_id, policy_id, filename, content_type, size_bytes, chunks, vectors, duration_ms, success,
            error_code, error_message,
        ),
    )  # fmt: skip


class PolicySummary(NamedTuple):
    id: uuid.UUID
    title: str
    category: str | None
    format: str
    size_bytes: int
    chunks: int
    created_at: datetime
    status: str


class PolicyDetail(NamedTuple):
    id: uuid.UUID
    title: str
    category: str | None
    format: str
    size_bytes: int
    content: str
    rules: list[dict[str, Any]]
    unmatched: list[dict[str, Any]]
    profile: dict[str, Any]
    created_at: datetime
    status: str
    chunks_total: int | None
    chunks_done: int
    error_code: str | None
    error_message: str | None


def list_policies(
    conn: psycopg.Connection, org_id: str, *, limit: int, before: tuple[datetime, uuid.UUID] | None
) -> list[PolicySummary]:
    """Newest first; ``before`` is the (created_at, id) of the last row of the previous page."""
    with conn.cursor(row_factory=class_row(PolicySummary)) as cur:
        return cur.execute(
            """SELECT p.id, p.title, p.category, p.format, p.size_bytes,
                      (SELECT count(*) FROM policy_chunks c WHERE c.policy_id = p.id)::int AS chunks, p.created_at,
                      p.status
               FROM policies p
               WHERE p.org_id = %(org)s AND (%(at)s::timestamptz IS NULL OR (p.created_at, p.id) < (%(at)s, %(id)s))
               ORDER BY p.created_at DESC, p.id DESC LIMIT %(limit)s""",
            {"org": org_id, "at": before[0] if before else None, "id": before[1] if before else None, "limit": limit},
        ).fetchall()


def get_policy(conn: psycopg.Connection, org_id: str, policy_id: uuid.UUID) -> PolicyDetail | None:
    with conn.cursor(row_factory=class_row(PolicyDetail)) as cur:
        return cur.execute(
            """SELECT id, title, category, format, size_bytes, content, rules, unmatched, profile, created_at,
                      status, chunks_total, chunks_done, error_code, error_message
               FROM policies WHERE org_id = %s AND id = %s""",
            (org_id, policy_id),
        ).fetchone()


def policy_count(conn: psycopg.Connection, org_id: str) -> int:
    """The org's policies that hold a place in the plan, read without a lock (an early refusal;
    lock_org_policy_count decides)."""
    row = conn.execute("SELECT count(*) FROM policies WHERE org_id = %s AND status <> 'failed'", (org_id,)).fetchone()
    return int(row[0]) if row else 0


def corpus_apply(conn: psycopg.Connection, org_id: str, policy_id: uuid.UUID, sign: int) -> None:
    """Add (1, after its chunks are written) or remove (-1, before they are deleted) a policy's
    chunks from its org's lexeme statistics; either is a new version of the org's corpus."""
    conn.execute("SELECT policy_lexemes_apply(%s, %s, %s)", (org_id, policy_id, sign))
    conn.execute("SELECT policy_corpus_changed(ARRAY[%s])", (org_id,))


def delete_policy(conn: psycopg.Connection, org_id: str, policy_id: uuid.UUID) -> bool:
    """Delete a policy; its chunks and vectors go by cascade (a ready one's after leaving the
    org's lexeme statistics, under the org lock ingestion takes too). False when it does not
    exist.
    Not pipeline-safe: reads ``rowcount``, which a pipelined transaction has only after a sync."""
    conn.execute("SELECT 1 FROM organizations WHERE id = %s FOR UPDATE", (org_id,))
    row = conn.execute(
        "SELECT status FROM policies WHERE org_id = %s AND id = %s FOR UPDATE", (org_id, policy_id)
    ).fetchone()
    if row is None:
        return False
    if row[0] == "ready":
        # Only a ready policy's chunks are in the statistics: one still processing already has
        # chunks in policy_chunks (moved batch by batch) that were never added.
        corpus_apply(conn, org_id, policy_id, -1)
    return conn.execute("DELETE FROM policies WHERE org_id = %s AND id = %s", (org_id, policy_id)).rowcount > 0


def org_profiles(conn: psycopg.Connection, org_id: str) -> Pending[list[dict[str, Any]]]:
    """The audit profiles of every ready policy of the org, oldest first."""
    cursor = conn.execute(
        """SELECT profile FROM policies WHERE org_id = %s AND status = 'ready' AND profile <> '{}'::jsonb
           ORDER BY created_at""",
        (org_id,),
    )
    return Pending(cursor, lambda cur: [dict(r[0]) for r in cur.fetchall()])


class SearchHit(NamedTuple):
    chunk_id: int
    policy_id: uuid.UUID
    title: str
    clause: str | None
    heading_path: list[str]
    text: str
    similarity: float | None  # cosine similarity to the query, when the vector side found it
    vector_rank: int | None
    text_rank: int | None
    fused: float


# A query lexeme found in more than this share of an org's chunks (and in more than this many)
# is too common to search by.
COMMON_TERM_SHARE = 0.05
COMMON_TERM_MIN_CHUNKS = 10
# ts_rank runs on at most this many chunks per full-text candidate wanted.
TEXT_SHORTLIST_PER_RESULT = 5
# The shortlist is drawn from at most this many postings per shortlisted chunk for each query
# lexeme, the heaviest first.
POSTINGS_PER_SHORTLISTED = 2
# Names the hybrid search as it is (the SQL below, these constants, the candidate pool of
# policies.service.retrieve): change it with any of them, and every citation remembered from
# the old search is searched again (sql/0012).
SEARCH_VERSION = "hybrid-2"


def prepare_search(conn: psycopg.Connection, *, pool: int) -> None:
    """Once per transaction before ``send_hybrid_search``: the HNSW scan filters by org (and
    leaves out policies not ready) after the fact, so its candidate list is widened for a tenant
    with few chunks among many others to still get its own nearest neighbours; with pgvector
    >= 0.8 the scan also goes on (iteratively) until enough candidates pass those filters."""
    conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(max(40, pool * 4)),))
    # Set only where the setting exists: pgvector before 0.8 reserves the prefix and refuses it.
    conn.execute(
        """SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true) FROM pg_extension
           WHERE extname = 'vector' AND string_to_array(extversion, '.')::int[] >= '{0,8,0}'"""
    )


def send_hybrid_search(
    conn: psycopg.Connection,
    *,
    org_id: str,
    query: str,
    vector: Sequence[float] | None,
    model: str,
    dim: int,
    k: int,
    pool: int,
    min_similarity: float,
    mode: str = "hybrid",
    policy_ids: Sequence[uuid.UUID] | None = None,
) -> psycopg.Cursor[SearchHit]:
    """The search sent, its cursor returned: fetchall() gives the hits. In a pipelined
    transaction several searches travel together.

    Top-k chunks by reciprocal-rank fusion (k=60) of vector (HNSW, cosine) and full-text
    (OR of the query's lexemes, ts_rank over a shortlist of the chunks that hold most of the
    rarer ones) rankings, each over ``pool`` candidates. A chunk
    found only by vector search must reach ``min_similarity``. ``mode`` restricts to one side
    (for evaluation); ``policy_ids`` to those policies' chunks, inside both rankings.

    ts_rank, not ts_rank_cd: cover density rewards lexemes that occur close together, which an
    OR of a description's words rarely has; it then mostly counts repeats of common words. Term
    frequency over the matched lexemes ranks the clause that shares the query's words better
    (bench/retrieval.py: full-text recall@5 0.81 → 0.85, hybrid 0.89 → 0.91)."""
    cast = sql.SQL("vector({})").format(sql.Literal(dim))
    use_vector = vector is not None and mode in ("hybrid", "vector")
    use_text = mode in ("hybrid", "text")

    def vector_branch(exact: bool) -> sql.Composed:
        return sql.SQL(
            """(SELECT c.id, c.embedding::{cast} <=> %(vec)s::{cast} AS dist
                FROM policy_chunks c
                WHERE %(use_vector)s AND c.org_id = %(org)s AND c.embedding_model = %(model)s
                  AND (%(policies)s::uuid[] IS NULL OR c.policy_id = ANY(%(policies)s::uuid[]))
                  AND NOT (c.policy_id::text = ANY ((SELECT ids FROM hidden)::text[])) AND {gate}
                ORDER BY (c.embedding::{cast} <=> %(vec)s::{cast}){order} LIMIT %(pool)s)"""
        ).format(
            cast=cast,
            gate=sql.SQL("(SELECT exact FROM hidden)" if exact else "NOT (SELECT exact FROM hidden)"),
            # "+ 0": an order the HNSW index cannot serve, so the org's chunks are scanned and
            # ranked exactly. Chosen policies are always searched so: filtered after the graph's
            # scan, they could lose all their chunks to nearer ones of others.
            order=sql.SQL(" + 0") if exact or policy_ids is not None else sql.SQL(""),
        )

    query_sql = sql.SQL(
        """
        WITH terms AS (
            SELECT l.lexeme, coalesce(s.chunks, 0) AS df,
                   row_number() OVER (ORDER BY coalesce(s.chunks, 0), l.lexeme) AS rarity
            FROM unnest(tsvector_to_array(to_tsvector('english', %(q)s))) AS l(lexeme)
            LEFT JOIN policy_lexemes s ON s.org_id = %(org)s AND s.lexeme = l.lexeme
        ), kept AS (
            -- The query's lexemes, less those in more than a twentieth of the org's chunks (the three
            -- rarest always stay): common words match everything and rank nothing.
            SELECT t.lexeme, ln((n.chunks + 1.0) / (t.df + 1.0)) AS idf
            FROM terms t, (SELECT coalesce((SELECT chunks FROM policy_corpus WHERE org_id = %(org)s), 0) AS chunks) AS n
            WHERE t.rarity <= 3 OR t.df <= greatest(%(min_df)s, %(max_share)s * n.chunks)
        ), q AS (
            -- The lexemes as they are (to_tsquery would stem them again, and stemming is not idempotent).
            SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery AS tsq FROM kept
        ), hidden AS (
            -- Policies not ready: a processing one's chunks are written into policy_chunks (and its
            -- HNSW index) batch by batch, and are never searched. Where the index scan cannot go on
            -- past the candidates they take (pgvector before 0.8, no iterative scan), vector search
            -- is exact while the org has such chunks (for the minutes a policy processes).
            -- Their ids as text: compared so, the planner has no statistics to estimate how many
            -- chunks they exclude and assumes few (as is the case). Through policy_id's own
            -- statistics, a table holding one or two policies was estimated to lose every row,
            -- and the HNSW index was given up for a scan and sort of the org's chunks.
            SELECT coalesce(array_agg(id::text), '{{}}') AS ids,
                   coalesce(bool_or(chunks_done > 0), false)
                   AND coalesce(current_setting('hnsw.iterative_scan', true), 'off') = 'off' AS exact
            FROM policies WHERE org_id = %(org)s AND status <> 'ready'
        ), vec AS (
            -- Ordered by distance to the parameter itself (not to a column of another relation,
            -- which is a join the HNSW index cannot serve: every org row would be scored and
            -- sorted), and ranked only after the LIMIT. Of the two branches, one runs: the other's
            -- condition on `hidden` is a one-time filter, false before any row is read.
            SELECT n.id, row_number() OVER (ORDER BY n.dist, n.id) AS r, 1 - n.dist AS sim
            FROM ({indexed} UNION ALL {exhaustive}) AS n
        ), shortlist AS (
            -- The chunks holding any kept lexeme, through policy_postings (sql/0009: under row-level
            -- security, tsv @@ tsquery cannot use an index), best first by the query's rarer lexemes
            -- and how much each chunk holds of them: ts_rank costs a heap fetch per chunk, and a
            -- query of common words alone matched thousands.
            -- Only each lexeme's heaviest postings are read (sql/0010): a chunk that holds a common
            -- lexeme once cannot outrank those holding it most.
            SELECT p.chunk_id, sum(kept.idf * ln(1 + p.weight)) AS score
            FROM kept CROSS JOIN LATERAL (
                SELECT chunk_id, weight FROM policy_postings
                WHERE %(use_text)s AND org_id = %(org)s AND lexeme = kept.lexeme
                  AND (%(policies)s::uuid[] IS NULL OR EXISTS (
                      SELECT FROM policy_chunks pc WHERE pc.id = chunk_id AND pc.policy_id = ANY(%(policies)s::uuid[])))
                ORDER BY weight DESC, chunk_id LIMIT %(per_lexeme)s
            ) AS p
            GROUP BY p.chunk_id ORDER BY score DESC, p.chunk_id LIMIT %(shortlist)s
        ), fts AS (
            SELECT c.id, row_number() OVER (ORDER BY ts_rank(c.tsv, q.tsq) DESC, s.score DESC, c.id) AS r
            FROM shortlist s JOIN policy_chunks c ON c.id = s.chunk_id, q
            WHERE q.tsq IS NOT NULL AND c.org_id = %(org)s
              AND NOT (c.policy_id::text = ANY ((SELECT ids FROM hidden)::text[]))
            ORDER BY ts_rank(c.tsv, q.tsq) DESC, s.score DESC, c.id LIMIT %(pool)s
        ), fused AS (
            SELECT coalesce(vec.id, fts.id) AS id, vec.sim, vec.r AS vector_rank, fts.r AS text_rank,
                   coalesce(1.0 / (60 + vec.r), 0) + coalesce(1.0 / (60 + fts.r), 0) AS score
            FROM vec FULL JOIN fts ON fts.id = vec.id
            WHERE fts.id IS NOT NULL OR vec.sim >= %(floor)s
            -- The top k before fetching their text: the planner cannot estimate the full join's
            -- rows, and joined afterwards it paired every chunk of the org with every candidate.
            ORDER BY score DESC, id LIMIT %(k)s
        )
        SELECT c.id AS chunk_id, c.policy_id, p.title, c.clause, c.heading_path, c.text, f.sim AS similarity,
               f.vector_rank::int AS vector_rank, f.text_rank::int AS text_rank, f.score::float8 AS fused
        FROM fused f JOIN policy_chunks c ON c.id = f.id JOIN policies p ON p.id = c.policy_id AND p.status = 'ready'
        ORDER BY f.score DESC, c.id
        """
    ).format(indexed=vector_branch(False), exhaustive=vector_branch(True))
    vec_text = vector_literal(vector) if vector is not None else None
    return conn.cursor(row_factory=class_row(SearchHit)).execute(
        query_sql,
        {
            "vec": vec_text,
            "q": query,
            "org": org_id,
            "model": model,
            "pool": pool,
            "k": k,
            "floor": min_similarity,
            "use_vector": use_vector,
            "use_text": use_text,
            "min_df": COMMON_TERM_MIN_CHUNKS,
            "max_share": COMMON_TERM_SHARE,
            "shortlist": pool * TEXT_SHORTLIST_PER_RESULT,
            "per_lexeme": pool * TEXT_SHORTLIST_PER_RESULT * POSTINGS_PER_SHORTLISTED,
            "policies": list(policy_ids) if policy_ids is not None else None,
        },
        # Never a prepared statement: its generic plan cannot see the org's size (HNSW or the org's
        # own rows, the postings index or not) and, once chosen, took 35-60 ms where a plan for the
        # actual parameters takes 2-10 ms over 10,000 chunks (planning costs ~1 ms).
        prepare=False,
    )


class PolicyRules(NamedTuple):
    id: uuid.UUID
    title: str
    rules: list[dict[str, Any]]
    searchable: bool  # it has chunks to search


def org_rules(
    conn: psycopg.Connection, org_id: str, policy_ids: Sequence[uuid.UUID] | None
) -> Pending[list[PolicyRules]]:
    """Each ready policy's mapped rules (optionally only the given policies), oldest first: one
    still processing is neither searched nor cited."""
    cursor = conn.cursor(row_factory=class_row(PolicyRules)).execute(
        """SELECT p.id, p.title, p.rules,
                  EXISTS (SELECT FROM policy_chunks c WHERE c.policy_id = p.id) AS searchable
           FROM policies p
           WHERE p.org_id = %s AND p.status = 'ready' AND (%s::uuid[] IS NULL OR p.id = ANY(%s::uuid[]))
           ORDER BY p.created_at""",
        (org_id, policy_ids, policy_ids),
    )
    return Pending(cursor, lambda cur: cur.fetchall())


class StaleChunk(NamedTuple):
    id: int
    heading: str
    text: str


def stale_chunks(conn: psycopg.Connection, *, model: str, limit: int) -> list[StaleChunk]:
    """Chunks whose vector is missing or was made by another model than ``model``."""
    with conn.cursor(row_factory=class_row(StaleChunk)) as cur:
        return cur.execute(
            """SELECT id, heading, text FROM policy_chunks
               WHERE embedding_model IS DISTINCT FROM %s ORDER BY id LIMIT %s""",
            (model, limit),
        ).fetchall()


def set_embeddings(
    conn: psycopg.Connection, *, model: str, dim: int, vectors: Sequence[tuple[int, Sequence[float]]]
) -> int:
    """Store new vectors for chunks still stale (a concurrent run may have done them). Each org
    whose chunks changed has a new corpus version, and its remembered citations go (sql/0012).

    The orgs are locked first, in id order, as ingestion and deletion lock the org before its
    corpus row and chunks: locking the chunks first would deadlock against a deletion."""
    ids = [chunk_id for chunk_id, _ in vectors]
    conn.execute(
        """SELECT FROM organizations
           WHERE id IN (SELECT org_id FROM policy_chunks WHERE id = ANY(%s)) ORDER BY id FOR NO KEY UPDATE""",
        (ids,),
    )
    document = [{"id": chunk_id, "v": vector_literal(vector)} for chunk_id, vector in vectors]
    orgs = conn.execute(
        """UPDATE policy_chunks c SET embedding = u.v::vector, embedding_model = %s, embedding_dim = %s
           FROM jsonb_to_recordset(%s::jsonb) AS u(id bigint, v text)
           WHERE c.id = u.id AND c.embedding_model IS DISTINCT FROM %s
           RETURNING c.org_id""",
        (model, dim, Jsonb(document), model),
    ).fetchall()
    conn.execute("SELECT policy_corpus_changed(%s)", (sorted({str(r[0]) for r in orgs}),))
    return len(orgs)


class CitationCache(NamedTuple):
    """What retrieval cited for an org's checks at its current corpus version (sql/0012)."""

    version: int
    # rule -> (query key, citation or None when nothing was close enough)
    entries: dict[str, tuple[str, dict[str, Any] | None]]


def citation_cache(conn: psycopg.Connection, org_id: str) -> Pending[CitationCache | None]:
    """The org's remembered citations; None when it never had a policy to search."""

    def read(cur: psycopg.Cursor[Any]) -> CitationCache | None:
        rows = cur.fetchall()
        if not rows:
            return None
        return CitationCache(int(rows[0][0]), {rule: (key, citation) for _, rule, key, citation in rows if rule})

    cursor = conn.execute(
        """SELECT p.version, c.rule, c.query_key, c.citation
           FROM policy_corpus p
           LEFT JOIN policy_citations c ON c.org_id = p.org_id AND c.corpus_version = p.version
           WHERE p.org_id = %s""",
        (org_id,),
    )
    return Pending(cursor, read)


def remember_citations(
    conn: psycopg.Connection,
    org_id: str,
    version: int,
    entries: Sequence[tuple[str, str, dict[str, Any] | None]],
) -> None:
    """Remember (rule, query key, citation) answers found at corpus ``version``, if it is still
    the current one. The corpus row is held (FOR SHARE) first, as a corpus change updates it
    before deleting what was remembered: a change either came first (nothing is written) or
    waits for this transaction and then deletes what it wrote. Rows lock in rule order."""
    if not entries:
        return
    conn.execute(
        """WITH still AS (
               SELECT version FROM policy_corpus WHERE org_id = %(org)s AND version = %(version)s FOR SHARE
           )
           INSERT INTO policy_citations (org_id, rule, query_key, corpus_version, citation)
           SELECT %(org)s, e->>0, e->>1, still.version, nullif(e->2, 'null'::jsonb)
           FROM still, jsonb_array_elements(%(entries)s::jsonb) AS e ORDER BY e->>0
           ON CONFLICT (org_id, rule) DO UPDATE
               SET query_key = EXCLUDED.query_key, corpus_version = EXCLUDED.corpus_version,
                   citation = EXCLUDED.citation""",
        {"org": org_id, "version": version, "entries": Jsonb(list(entries))},
    )
