"""Run: the Prefect flows, their schedule, and the `tidings` command line."""

import os

# Prefect's telemetry heartbeat logs errors at shutdown on a machine without internet, and a
# self-hosted tool should not phone home by default. Users can still override both.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
