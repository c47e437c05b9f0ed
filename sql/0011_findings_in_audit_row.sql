-- An audit's findings as one document in the audit's row. They are written once, with the
-- audit, and only ever read whole, with it. As rows, each finding paid a foreign-key check, a
-- row-level-security check and a primary-key entry: 5 ms of the 8 ms recording transaction of
-- a 200-finding audit (bench/audit_api.py). It is an array of objects with the keys cell,
-- formula, rule, severity, message, suggestion and policy; an element's position is its
-- ordinal. json, not jsonb: the document is stored and returned whole, never searched inside,
-- and jsonb's conversion of 200 objects took 2.4 ms where json's check takes 1 ms.
ALTER TABLE audits ADD COLUMN finding_list json NOT NULL DEFAULT '[]';

-- The owner is bound by the forced row-level security where it is not a superuser (RDS): lift
-- it for the copy, inside this migration's transaction.
ALTER TABLE audits NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_findings NO FORCE ROW LEVEL SECURITY;

UPDATE audits a SET finding_list = f.list
FROM (SELECT audit_id,
             json_agg(json_build_object('cell', cell, 'formula', formula, 'rule', rule, 'severity', severity,
                                        'message', message, 'suggestion', suggestion, 'policy', policy)
                      ORDER BY ordinal) AS list
      FROM audit_findings GROUP BY audit_id) f
WHERE f.audit_id = a.id;

ALTER TABLE audits FORCE ROW LEVEL SECURITY;
DROP TABLE audit_findings;
