"""Act: alert rules, email rendering and sending through an outbox, knowledge-feed digests.

Nothing lives here yet; alerts and digests arrive with their own issues and build on `data`
and `nlp` only.
"""
