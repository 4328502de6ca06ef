"""What a `tidings run` loads and starts is what its work needs: a pass over a small feed whose
items are all stored already loads neither the language model (spaCy) nor the charts
(matplotlib), hashes no password and starts no parser process; every pass makes one synchronous
Prefect API client, not one per task run (each reads the CA bundle). Each run is the real command in
a fresh process, against a Prefect server and a feed on 127.0.0.1; nothing is timed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from data.config import load_config
from flows.server import prefect_server
from tests.services import TIMEOUT, write_config

FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>'
    b"<item><title>Nimbus Notes 4.2 is out</title><link>http://127.0.0.1/1</link>"
    b"<guid>1</guid><pubDate>Wed, 25 Nov 2026 10:00:00 GMT</pubDate>"
    b"<description>Nimbus Notes syncs faster.</description></item></channel></rss>"
)

# The run, then what its process holds: modules imported, parser processes, hashes made.
RUN = """
import json, sys
from prefect.client.orchestration import SyncPrefectClient
clients = []
made = SyncPrefectClient.__init__
SyncPrefectClient.__init__ = lambda self, *a, **k: clients.append(1) or made(self, *a, **k)
from flows.cli import main
code = main(["--config", sys.argv[1], "run", "--all"])
from collectors import offload
users = sys.modules.get("data.users")
print(json.dumps({
    "code": code,
    "modules": sorted(m for m in ("spacy", "matplotlib") if m in sys.modules),
    "parser_processes": offload._pool is not None,
    "hashed": bool(users and users._dummy_hash.cache_info().currsize),
    "api_clients": len(clients),
}))
"""


# A scheduled pass as `tidings serve` runs it: the deployment's flow, called in a fresh process.
SCHEDULED = """
import asyncio, json, sys
from prefect.client.orchestration import SyncPrefectClient
clients = []
made = SyncPrefectClient.__init__
SyncPrefectClient.__init__ = lambda self, *a, **k: clients.append(1) or made(self, *a, **k)
from flows.deployments import scheduled_pass
line = asyncio.run(scheduled_pass(sys.argv[1]))
print(json.dumps({"line": line, "api_clients": len(clients)}))
"""


def run_and_tell(config: Path, script: str = RUN) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script, str(config)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_pass_with_nothing_new_loads_no_model_and_starts_no_parser(httpserver, tmp_path):
    httpserver.expect_request("/feed.xml").respond_with_data(
        FEED, content_type="application/rss+xml"
    )
    config = write_config(tmp_path, {"blog": httpserver.url_for("/feed.xml")})
    with prefect_server(load_config(config), long_lived=True):
        first = run_and_tell(config)  # the item is new: scoring it needs the model
        again = run_and_tell(config)  # stored already: nothing to score
    assert first["code"] == 0 and first["modules"] == ["spacy"]
    assert again == {
        "code": 0,
        "modules": [],
        "parser_processes": False,
        "hashed": False,
        "api_clients": 1,
    }
    assert first["api_clients"] == 1


def test_a_scheduled_pass_makes_one_api_client(httpserver, tmp_path):
    """The served deployment's pass takes its host limits and runs its tasks on one client.
    Prefect's engine makes one more as the flow run starts (it asks the server for its default
    result storage), which Tidings cannot share: two in all, not one per step."""
    httpserver.expect_request("/feed.xml").respond_with_data(
        FEED, content_type="application/rss+xml"
    )
    config = write_config(tmp_path, {"blog": httpserver.url_for("/feed.xml")})
    with prefect_server(load_config(config), long_lived=True):
        told = run_and_tell(config, SCHEDULED)
    assert told["line"].endswith("1 new"), told
    assert told["api_clients"] == 2
