-- Labelled texts imported with `tidings corrections import FILE`: a team's own labelled
-- history, learned from by `tidings train` beside the corrections made on the dashboard.
-- They are not mentions: they count nowhere on the dashboard. A text imported again
-- replaces its earlier labels.
CREATE TABLE imported_labels (
    text        VARCHAR PRIMARY KEY,
    sentiment   VARCHAR,            -- negative | neutral | positive; NULL: the file said nothing
    intents     VARCHAR,            -- comma-separated; '' none; NULL: the file said nothing
    relevant    BOOLEAN,            -- NULL: the file said nothing
    source_file VARCHAR NOT NULL,
    imported_at TIMESTAMP NOT NULL
);
