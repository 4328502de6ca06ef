"""The Prefect server every flow run reports to.

`tidings serve` starts one long-lived server on `[prefect] address:port` (its UI shows the
deployments, their schedules, every run and its logs) and stops it when it stops. `tidings run`
and `push` use that server when it answers, else a temporary one of their own on a free port,
stopped when they end. A server named by `PREFECT_API_URL` is always used as it is, never
started or stopped.

We start the server ourselves rather than through Prefect's ephemeral mode: its start-up
time-out is ours to set (a loaded two-core machine needs a minute), its output goes to a log
file beside the database rather than into the console (a server stopping while a run's last
events are in flight prints tracebacks though all went well), and it runs in its own process
group, so that a terminal's Ctrl-C reaches Tidings, which stops it in order.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from data.config import Config
from data.errors import TidingsError

API_ENV = "PREFECT_API_URL"


@dataclass(frozen=True, slots=True)
class PrefectServer:
    api_url: str  # e.g. http://127.0.0.1:4200/api
    started: bool  # whether this process started it (and stops it)

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/").removesuffix("/api")


def prefect_ui_url(config: Config) -> str:
    """Where people open the Prefect UI: the server named by PREFECT_API_URL, else the one
    `tidings serve` starts; an address that means every interface is shown by this host's
    name, as the dashboard's own."""
    api = os.environ.get(API_ENV) or config.prefect.api_url
    if config.prefect.address in ("0.0.0.0", "::") and not os.environ.get(API_ENV):  # noqa: S104
        api = f"http://{socket.getfqdn()}:{config.prefect.port}/api"
    return PrefectServer(api, started=False).ui_url


def api_client() -> AbstractContextManager[object]:
    """One synchronous Prefect API client for everything in the block (host limits, the
    pass's task runs): Prefect otherwise makes one for each, each reading the CA bundle."""
    from prefect.context import SyncClientContext

    return SyncClientContext.get_or_create()


def prefect_home(config: Config) -> Path:
    """Where the servers Tidings starts keep their database and logs: beside the store, so that
    the run history of `tidings run` and `tidings serve` is one."""
    return config.db_path.parent / "prefect"


def answers(api_url: str, timeout: float = 5.0) -> bool:
    """Whether a Prefect server answers its health check at this API address."""
    # Certificates are read only for HTTPS: reading the CA bundle costs about 40 ms a client.
    verify = api_url.lower().startswith("https:")
    try:
        r = httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout, verify=verify)
    except httpx.HTTPError:
        return False
    return r.status_code == 200


def configured_api_url() -> str | None:
    """The Prefect API named by the environment, or by Prefect's settings when something in
    this process (a test harness) has set them."""
    if url := os.environ.get(API_ENV):
        return url
    if "prefect.settings" in sys.modules:
        from prefect.settings import PREFECT_API_URL

        return PREFECT_API_URL.value() or None
    return None


def free_port(address: str) -> int:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def port_in_use(address: str, port: int, what: str) -> bool:
    """Whether something listens on `port`; an address this machine cannot listen on fails,
    naming `what` (the setting that gave it)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as s:
        # As the servers themselves bind: a port left in TIME_WAIT by a past run is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return True
            raise TidingsError(f"{what}: cannot listen on {address}: {e.strerror}") from None
    return False


def start_server(config: Config, port: int, what: str) -> subprocess.Popen:
    """Start `prefect server start` on the configured address and `port`, and wait until it
    answers (at most `[prefect] startup_timeout_seconds`)."""
    home = prefect_home(config)
    home.mkdir(parents=True, exist_ok=True)
    log = home / "server.log"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    # A pass every few minutes is hundreds of runs a day: the server forgets the old ones.
    env.setdefault("PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED", "events,flow_runs")
    env.setdefault(
        "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD",
        str(config.prefect.keep_runs_days * 86400),
    )
    env.pop(API_ENV, None)
    address = config.prefect.address
    cmd = [
        sys.executable, "-m", "prefect", "server", "start",
        "--host", address, "--port", str(port), "--analytics-off",
    ]  # fmt: skip
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    host = f"[{address}]" if ":" in address else address
    api = f"http://{host}:{port}/api"
    timeout = config.prefect.startup_timeout_seconds
    deadline = time.monotonic() + timeout
    try:
        while not answers(api):
            if proc.poll() is not None:
                raise TidingsError(f"the {what} stopped as it started; its log is {log}")
            if time.monotonic() > deadline:
                raise TidingsError(
                    f"the {what} did not answer within {timeout:g} s (raise "
                    f"[prefect] startup_timeout_seconds in {config.path}); its log is {log}"
                )
            time.sleep(0.25)
    except BaseException:  # Ctrl-C while it starts included: never leave it behind
        stop_server(proc)
        raise
    return proc


def stop_server(proc: subprocess.Popen | None) -> None:
    """Stop a server this process started, and whatever it started, within a bounded time."""
    if proc is None or proc.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def use_api(api_url: str) -> Iterator[None]:
    """Point Prefect in this process, and the processes it starts, at this API."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    before = os.environ.get(API_ENV)
    os.environ[API_ENV] = api_url
    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            yield
    finally:
        if before is None:
            os.environ.pop(API_ENV, None)
        else:
            os.environ[API_ENV] = before


def drain_prefect_clients() -> None:
    """Send the logs and events still queued in this process while their server is up: stopped
    later, they end in "Error flushing events" tracebacks though the run went well."""
    if "prefect" not in sys.modules:
        return
    from prefect._internal.concurrency.services import QueueService

    QueueService.drain_all(timeout=10, at_exit=False)


AUTH_ENV = "PREFECT_SERVER_API_AUTH_STRING"
LOCAL = {"127.0.0.1", "localhost", "::1"}


def require_auth_off_localhost(config: Config) -> None:
    """A Prefect server anyone on the network reaches runs flows for them: it needs a password
    (Prefect's basic auth, `user:password` in PREFECT_SERVER_API_AUTH_STRING), which this
    process's own clients then use too."""
    if config.prefect.address in LOCAL:
        return
    auth = os.environ.get(AUTH_ENV)
    if not auth:
        raise TidingsError(
            f"{config.path}: prefect.address is {config.prefect.address!r}, which other "
            f"machines can reach; set {AUTH_ENV} (user:password) to protect the Prefect server"
        )
    os.environ.setdefault("PREFECT_API_AUTH_STRING", auth)


@contextmanager
def prefect_server(config: Config, *, long_lived: bool) -> Iterator[PrefectServer]:
    """The Prefect server to run flows on, for the duration of the block.

    `long_lived` (`tidings serve`): the server at `[prefect] address:port`, started now unless
    one answers there already. Otherwise (`run`, `push`): the one there if it answers, else a
    temporary one on a free port. `PREFECT_API_URL`, when set, wins in both cases."""
    named = configured_api_url()
    if named:
        if not answers(named, timeout=10):
            raise TidingsError(f"{API_ENV}={named}: no Prefect server answers there")
        with use_api(named):
            yield PrefectServer(named, started=False)
        return
    settings = config.prefect
    api = settings.api_url
    proc = None
    if not answers(api):
        if long_lived:
            require_auth_off_localhost(config)
            if port_in_use(settings.address, settings.port, f"{config.path}: prefect.address"):
                raise TidingsError(
                    f"{config.path}: prefect.port {settings.port} is already in use on "
                    f"{settings.address} by something that is not a Prefect server: stop it, or "
                    "set another [prefect] port"
                )
            proc = start_server(config, settings.port, "Prefect server")
        else:
            port = free_port(settings.address)
            proc = start_server(config, port, "temporary Prefect server")
            host = f"[{settings.address}]" if ":" in settings.address else settings.address
            api = f"http://{host}:{port}/api"
    try:
        with use_api(api):
            try:
                yield PrefectServer(api, started=proc is not None)
            finally:
                if proc is not None:
                    drain_prefect_clients()
    finally:
        stop_server(proc)
