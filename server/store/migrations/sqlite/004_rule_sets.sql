-- Planner rule sets: every version's files, and the activation history. The active version
-- is the latest activation; workers poll it (cheap) to switch within about a second.

CREATE TABLE rule_sets (
    version    TEXT NOT NULL PRIMARY KEY,   -- hash of the files' content
    files      TEXT NOT NULL,               -- JSON [[name, text], ...] in load order
    created_at TEXT NOT NULL
);

CREATE TABLE rule_activations (
    seq          INTEGER NOT NULL PRIMARY KEY,   -- 1, 2, ... assigned in the writing transaction
    version      TEXT    NOT NULL REFERENCES rule_sets (version),
    action       TEXT    NOT NULL,               -- ACTIVATE or ROLLBACK
    activated_by TEXT    NOT NULL,
    activated_at TEXT    NOT NULL
);
