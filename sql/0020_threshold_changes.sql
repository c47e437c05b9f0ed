-- A threshold change applies from the next crossing (issue 19): a threshold an admin adds when
-- this period's usage already reaches it is not notified this period. The change records it
-- here, in the transaction that changes the thresholds, and the crossings skip it like one
-- already notified (sheetbrain.db.notifications_repo.insert_crossings). A threshold notified
-- this period is never recorded here: its notifications row already keeps it from a second one.
-- used and lim are the usage and the limit it was judged against, for the record. Rows of past
-- periods mean nothing; the next change of the org's thresholds deletes them.
CREATE TABLE threshold_suppressions (
    org_id     text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    feature    text NOT NULL,
    period     date NOT NULL,
    threshold  integer NOT NULL CHECK (threshold BETWEEN 1 AND 100),
    used       bigint NOT NULL,
    lim        bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, feature, period, threshold)
);
SELECT enable_tenant_rls('threshold_suppressions');
