-- An audit's findings as one document in the audit's row. They are written once, with the
-- audit, and only ever read whole, with it. As rows, each finding paid a foreign-key check, a
-- row-level-security check and a primary-key entry: 5 ms of the 8 ms recording transaction of
-- a 200-finding audit (bench/audit_api.py). Each element is an object with the keys cell,
-- formula, rule, severity, message, suggestion and policy; its position is its ordinal.
ALTER TABLE audits ADD COLUMN finding_list jsonb NOT NULL DEFAULT '[]'
    CONSTRAINT audits_finding_list_is_array CHECK (jsonb_typeof(finding_list) = 'array');

-- The owner is bound by the forced row-level security where it is not a superuser (RDS): lift
-- it for the copy, inside this migration's transaction.
ALTER TABLE audits NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_findings NO FORCE ROW LEVEL SECURITY;

UPDATE audits a SET finding_list = f.list
FROM (SELECT audit_id,
             jsonb_agg(jsonb_build_object('cell', cell, 'formula', formula, 'rule', rule, 'severity', severity,
                                          'message', message, 'suggestion', suggestion, 'policy', policy)
                       ORDER BY ordinal) AS list
      FROM audit_findings GROUP BY audit_id) f
WHERE f.audit_id = a.id;

ALTER TABLE audits FORCE ROW LEVEL SECURITY;
DROP TABLE audit_findings;
