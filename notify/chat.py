"""Chat and webhook messages through Apprise: the outbox's second sender beside SMTP.

A row of the outbox with a `target` is sent here: its subject as the title, its text body as
the message. The URL's ${VARIABLE} references are read from the environment now, and nothing
said about a failure carries their values."""

from __future__ import annotations

import logging
import re

import apprise

from data import outlets
from data.outbox import Mail, Outcome


def send(mail: Mail) -> Outcome:
    """Send one chat message. Apprise says only whether the service took it; a refusal or a
    service out of reach is tried again later with back-off, as mail is."""
    assert mail.target is not None
    where = outlets.shown(mail.target)
    try:
        url = outlets.resolve(mail.target)
    except outlets.MissingVariable as e:
        return Outcome(mail.id, False, f"{where}: {e}")
    with outlets.apprise_unheard(), apprise.LogCapture(level=logging.WARNING) as logs:
        plugin = apprise.Apprise.instantiate(url)
        if plugin is None:
            return Outcome(mail.id, False, f"{where}: Apprise cannot read this URL", True)
        ok = plugin.notify(body=mail.text_body or mail.subject, title=mail.subject)
    if ok:
        return Outcome(mail.id, True)
    return Outcome(mail.id, False, f"{where}: {_reason(logs.getvalue(), url, mail.target)}")


_LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ - [A-Z]+ - ")


def _reason(log: str, url: str, template: str) -> str:
    """Apprise's last warning, one line, with every secret the environment gave it taken out
    (its log may quote the URL or parts of it)."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    text = lines[-1] if lines else "the service did not accept the message"
    text = _LOG_PREFIX.sub("", text)  # the warning itself, not its log line's time and level
    for value in _secrets(url, template):
        text = text.replace(value, "****")
    return text[:300]


def _secrets(url: str, template: str) -> list[str]:
    values = [outlets.resolve(f"${{{name}}}") for name in outlets.references(template)]
    return sorted((v for v in values if v), key=len, reverse=True)
