"""Chat and webhook URLs (Apprise's: slack://, json://, mailto://, ntfy://…) as the config names
them. Secrets stay out of the config file and the store: a URL carries `${VARIABLE}`
references, replaced by the environment's values only at the moment it is sent."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import urlsplit

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]{0,100})\}")


class MissingVariable(ValueError):
    pass


def references(url: str) -> list[str]:
    """The environment variables a URL refers to, in order."""
    return ENV_REF.findall(url)


def resolve(url: str, environ: Mapping[str, str] | None = None) -> str:
    """The URL with its references replaced; MissingVariable names one that is not set."""
    env = os.environ if environ is None else environ
    for name in references(url):
        if not env.get(name):
            raise MissingVariable(f"environment variable {name} is not set")
    return ENV_REF.sub(lambda m: env[m.group(1)], url)


# Services whose host is a place, not a token: shown in messages. Elsewhere (slack://TokenA/…)
# the host itself may be a secret.
PLACES = {"json", "jsons", "xml", "xmls", "form", "forms", "ntfy", "ntfys", "mailto", "mailtos"}


def shown(url: str) -> str:
    """What may be printed of a URL: its scheme, and the host of a generic webhook. The rest of
    an Apprise URL often is a token (slack://TokenA/TokenB/TokenC), pasted in or not."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "" if parts.scheme.lower() in PLACES else ""
    except ValueError:
        return "(not a URL)"
    return f"{parts.scheme}://{host}/…" if parts.scheme else "(not a URL)"


@contextmanager
def apprise_unheard() -> Iterator[None]:
    """Apprise logs what it rejects, a token among it ("Invalid Slack Token (xoxb-…)"): its
    records stay with its own logger (and a LogCapture on it) while this lasts."""
    log = logging.getLogger("apprise")
    before = log.propagate
    log.propagate = False
    try:
        yield
    finally:
        log.propagate = before


def check(url: str, environ: Mapping[str, str] | None = None) -> None:
    """Raise ValueError, naming what is wrong (never the URL's secrets), unless Apprise can
    send to this URL. Without the variables it refers to set, only its scheme can be checked:
    the service's own token formats need the real values."""
    # Apprise loads its 100+ services when first used: only configs that name a URL pay.
    import apprise

    if "\n" in url or "\r" in url or any(c.isspace() for c in url.strip()):
        raise ValueError("a notify URL is one line without spaces")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if not scheme or scheme not in apprise.NotificationManager().schemas():
        raise ValueError(
            f"{shown(url)}: not a service Apprise knows (e.g. json://, slack://, mailto://, "
            "ntfy://, discord://, workflows:// for Teams)"
        )
    try:
        real = resolve(url, environ)
    except MissingVariable:
        return
    with apprise_unheard():
        plugin = apprise.Apprise.instantiate(real)
    if plugin is None:
        raise ValueError(f"{shown(url)}: Apprise cannot read this URL (check its parts)")
