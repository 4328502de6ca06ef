"""Numbered SQL migrations, applied in order by `data.store.migrate`."""
