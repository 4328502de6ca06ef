"""Per-host politeness as Prefect global concurrency limits.

Each host the sources fetch from has a limit named `tidings-host:<host>` on the Prefect server,
created with `[http] per_host` slots (or the host's own `[http] hosts` entry) when missing and
never overwritten: the Prefect UI's Concurrency page shows them, and a value changed there (or
with `prefect gcl update`) applies from the next pass, with no restart. Deactivating one there
brings back the configured cap.

A pass reads the limits once, and its HTTP client (collectors.http) holds each host to its
value for every request, in the process. Acquiring the limit's slots from the server around
every request would cost far more than the request itself: measured here on a loaded two-core
machine, 0.34 s per acquire-and-release, and 40 requests of 10 ms under a limit of 2 took
14.6 s instead of 0.2 s (Prefect polls for a freed slot). With the embedded DuckDB store,
passes never overlap (the pass lock), so one process's cap is the host's cap.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from data.config import Config

PREFIX = "tidings-host:"
PAGE = 200


def source_hosts(config: Config) -> set[str]:
    """The hosts the configured sources name (their `url` or `base_url`)."""
    hosts = set()
    for s in config.sources:
        for url in (s.url, s.base_url):
            if url is not None and (host := urlsplit(str(url)).hostname):
                hosts.add(host.lower())
    return hosts


def with_prefect_host_limits(config: Config) -> Config:
    """The config with each host's cap as its Prefect limit says (creating missing limits)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists

    http = config.http
    with get_client(sync_client=True) as client:
        existing = {}
        while True:  # the server pages its answer
            page = client.read_global_concurrency_limits(limit=PAGE, offset=len(existing))
            existing |= {limit.name: limit for limit in page}
            if len(page) < PAGE:
                break
        existing = {name: limit for name, limit in existing.items() if name.startswith(PREFIX)}
        for host in sorted(source_hosts(config)):
            name = PREFIX + host
            if name not in existing:
                cap = http.hosts.get(host, http.per_host)
                try:
                    client.create_global_concurrency_limit(
                        GlobalConcurrencyLimitCreate(name=name, limit=cap)
                    )
                except ObjectAlreadyExists:  # created meanwhile by another process
                    pass
    caps = dict(http.hosts)
    for name, limit in existing.items():
        if limit.active:
            caps[name.removeprefix(PREFIX)] = max(1, limit.limit)
    return config.model_copy(update={"http": http.model_copy(update={"hosts": caps})})
