-- Alert rules edited on the dashboard. A row here replaces the config file's rule of the
-- same name, or adds a rule; deleting the row brings the config file's version back.
CREATE TABLE alert_rules (
    name       VARCHAR PRIMARY KEY,
    definition VARCHAR NOT NULL,   -- JSON of an AlertRule, validated before it was stored
    updated_at TIMESTAMP NOT NULL,
    updated_by VARCHAR NOT NULL
);
