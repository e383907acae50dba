-- What the deployment's parts last said about themselves, for the launch checklist: the
-- consent pull (did Operator Connect answer) and each edge process (alive, and what it serves).
-- One row per component and node, replaced at each report. Observations, not changes: they
-- have no audit events. Additive only.
CREATE TABLE component_reports (
    component  TEXT NOT NULL,
    node       TEXT NOT NULL,
    ok         BOOLEAN NOT NULL,
    detail     TEXT NOT NULL,
    at         TEXT NOT NULL,
    PRIMARY KEY (component, node)
);
