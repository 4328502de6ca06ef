"""Run: the Prefect flows, their schedule, and the `tidings` command line."""

import logging
import os

# Prefect's telemetry heartbeat logs errors at shutdown on a machine without internet, and a
# self-hosted tool should not phone home by default. Users can still override both.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Prefect's temporary server gets 20 s to start by default; on a loaded two-core machine it
# takes longer, and the whole command then failed ("Timed out while attempting to connect").
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# Tidings' own log lines (a rule skipped, and why) go to the run's logs in the Prefect UI too.
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "tidings")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")  # outside a run
logging.getLogger("tidings").setLevel(logging.INFO)
