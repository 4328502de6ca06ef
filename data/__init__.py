"""Keep: records, the config model, the DuckDB store and its migrations."""
