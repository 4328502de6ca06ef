"""Keep: records, the config model, the DuckDB store and its migrations."""

import os

# Arrow's default allocator (mimalloc) keeps what the store's batches freed, for reuse: about
# 40 MB more held by a pass's process at the end of a large pass. The system allocator gives it
# back. Arrow reads this when it is first imported (data.store imports it); set it to another
# pool to override.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
