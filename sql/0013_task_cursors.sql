-- Where a scheduled task's scan over organizations stopped when its time budget ran out. The
-- next run goes on from there and wraps around to the start, so once a full scan takes more
-- than one run every organization still has its turn (a scan restarted from the first org
-- each run would never reach the last ones). Only the system login (the cleanup function's)
-- keeps them.
CREATE TABLE task_cursors (
    task       text PRIMARY KEY,
    position   jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON task_cursors FROM sheetbrain_app;
GRANT SELECT, INSERT, UPDATE ON task_cursors TO sheetbrain_system;
