"""Mail: rendering (Jinja2, plain text + HTML) and sending through the outbox over SMTP.

Text from the internet reaches the HTML part only through Jinja2's autoescape, and links only
if they are http(s) (the collectors drop anything else).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

import idna
from jinja2 import Environment, PackageLoader, select_autoescape

from data import database, outbox, store
from data.config import SMTP_PASSWORD_ENV, Config, Smtp
from data.errors import StoreLockedError
from data.outbox import Mail, Outcome
from data.text import safe_url
from notify import chat
from notify.rules import Condition

templates = Environment(
    loader=PackageLoader("notify", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
)
# A stored link as mail may show it: http(s) only, else "" (a store restored from files may
# hold a javascript: link, which a click would run).
templates.filters["web_link"] = safe_url


def dashboard_url(config: Config) -> str:
    """Where people reach the dashboard, for links in mail: `[dashboard] base_url`, else its
    address and port. A dashboard listening on every interface (0.0.0.0) is linked by this
    machine's name, since no one can browse to 0.0.0.0."""
    d = config.dashboard
    if d.base_url:
        return d.base_url.rstrip("/")
    host = socket.getfqdn() if d.address in ("0.0.0.0", "::", "") else d.address  # noqa: S104
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{d.port}"


def render(
    config: Config,
    kind: str,
    rule: str,
    subject: str,
    conditions: Sequence[Condition],
    recipients: Sequence[str],
    not_before: datetime,
    fired_at: datetime,
) -> Mail:
    """One mail about some conditions. Its id is a digest of what it carries and when it
    fired, so queuing the same firing twice stores it once, and the same words firing again
    later (a spike back another day, a daily digest of the same alerts) are a mail of their
    own, never taken for one already queued."""
    context = {
        "heading": subject,
        "conditions": conditions,
        "rule": rule,
        "dashboard": dashboard_url(config),
    }
    ident = hashlib.blake2b(
        "\x1f".join(
            [
                kind,
                rule,
                *sorted(f"{c.rule}/{c.key}" for c in conditions),
                subject,
                fired_at.isoformat(),
            ]  # fmt: skip
        ).encode(),
        digest_size=16,
    ).hexdigest()
    return Mail(
        id=ident,
        kind=kind,
        rule=rule,
        recipients=tuple(dict.fromkeys(recipients)),
        subject=subject,
        text_body=templates.get_template("alert.txt.j2").render(context),
        html_body=templates.get_template("alert.html.j2").render(context),
        not_before=not_before,
    )


# RFC 5322 field names: printable ASCII except the colon.
HEADER_NAME = re.compile(r"[!-9;-~]+")
# What may not stand in a header even once lines are joined: control characters, marks that
# reorder text (a subject could read backwards) and lone surrogates (which cannot be encoded).
_UNPRINTABLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def header_value(text: str) -> str:
    """A header value as one line: every run of white space (line breaks included) becomes one
    space and control characters go. Text from the internet (an author, a title) reaches the
    Subject, and a line break there would start a header of its own."""
    return " ".join(_UNPRINTABLE.sub("", " ".join(text.split())).split())


def envelope_address(address: str) -> str:
    """The address as SMTP carries it: an internationalised domain in its ASCII form (IDNA
    2008, `xn--…`, the same domain, which every server takes), the mailbox name as it is.
    Raises ValueError for text that is not one address as written: a mail's To header would
    read `a"b(c)d@example.com` as abd@example.com, someone else."""
    if parseaddr(address)[1] != address or address.count("@") != 1:
        raise ValueError("not an email address")
    local, _, domain = address.partition("@")
    if domain.isascii():
        return address
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode()}"
    except idna.IDNAError as e:
        raise ValueError(f"not an email address ({e})") from None


def envelope(recipients: Sequence[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Each recipient as SMTP carries it, and why each of the others cannot be sent to."""
    to, unusable = {}, {}
    for r in recipients:
        try:
            to[r] = envelope_address(r)
        except ValueError as e:
            unusable[r] = str(e)
    return to, unusable


def message(mail: Mail, sender: str) -> EmailMessage:
    """The mail as it goes out; every header passes through `header_value` here. Raises
    ValueError for a mail that cannot be built."""
    to, unusable = envelope(mail.recipients)
    if not to and mail.recipients:
        raise ValueError("; ".join(f"{r}: {why}" for r, why in unusable.items()))
    address = parseaddr(sender)[1]
    try:  # an internationalised domain in its ASCII form, as for recipients
        sender = sender.replace(address, envelope_address(address))
    except ValueError:
        pass  # the config checked it is one address; the server says what it makes of it
    headers = [
        ("From", sender),
        ("To", ", ".join(to.values())),
        ("Subject", mail.subject),
        ("Date", formatdate(usegmt=True)),
        # Stable per outbox row: if a crash ever makes us send a mail twice, clients see one.
        ("Message-ID", f"<{mail.id}@tidings>"),
        ("Auto-Submitted", "auto-generated"),
        *mail.headers.items(),
    ]
    msg = EmailMessage()
    for name, value in headers:
        if not HEADER_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a header name")
        msg[name] = header_value(value)
    msg.set_content(mail.text_body)
    html, images = inline_images(mail.html_body, mail.id)
    msg.add_alternative(html, subtype="html")
    html_part = msg.get_payload()[-1]
    for cid, data in images:  # multipart/related: shown by mail clients that block data: URIs
        html_part.add_related(data, "image", "png", cid=f"<{cid}>")
    return msg


DATA_PNG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def inline_images(html: str, mail_id: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The HTML with each PNG written inline (data: URI, as the outbox keeps it) pointing at a
    part of the mail instead (cid:), and those parts' ids and bytes."""
    images: list[tuple[str, bytes]] = []

    def to_cid(match: re.Match[str]) -> str:
        cid = f"image{len(images) + 1}.{mail_id}@tidings"
        images.append((cid, base64.b64decode(match.group(1))))
        return f'src="cid:{cid}"'

    return DATA_PNG.sub(to_cid, html), images


def _connect(smtp: Smtp) -> smtplib.SMTP:
    if smtp.security == "tls":
        try:
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=smtp.timeout_seconds,
                context=ssl.create_default_context(),
            )  # fmt: skip
        except ssl.SSLError as e:
            if e.reason != "WRONG_VERSION_NUMBER":  # e.g. a certificate: said as it is
                raise
            raise ConnectionError(
                'the server does not speak TLS on this port (smtp.security = "tls")'
            ) from None
    else:
        server = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
    try:
        if smtp.security == "starttls":
            server.ehlo_or_helo_if_needed()
            if not server.has_extn("starttls"):
                raise smtplib.SMTPNotSupportedError(
                    'the server does not offer STARTTLS (smtp.security = "starttls")'
                )
            server.starttls(context=ssl.create_default_context())
        if smtp.username:
            server.login(smtp.username, os.environ.get(SMTP_PASSWORD_ENV, ""))
    except BaseException:
        server.close()
        raise
    return server


BATCH = 200  # mails sent by one run at most; the next run sends the rest


@dataclass(frozen=True, slots=True)
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    error: str | None = None  # why the server could not be used at all, if it could not


def send_pending(config: Config, now: datetime | None = None) -> SendReport:
    """Send what the outbox holds and is due. The database is not held during SMTP work; what
    became of each mail is stored as soon as it is known, in a transaction of its own, so a
    mail the server accepted is never sent again, whatever happens to the rest of the batch.

    Mails are claimed one at a time, just before each is sent: a claim left 'sending' for
    STUCK_AFTER (a crash) is taken up by the next run, and with one claimed at a time that is
    only ever the mail in flight, however slow the server, never the rest of a long batch
    that this run is still sending."""
    now = now or store.utcnow()
    counts = {"sent": 0, "pending": 0, "failed": 0}
    session = _Session(config.smtp)
    try:
        for _ in range(BATCH):
            claimed = database.retry_conflicts(lambda: _claim_due(config, now, 1))
            if not claimed:
                break
            mail, held = claimed[0]
            if held:
                outcome = Outcome(mail.id, False, held, permanent=True)
                _tally(counts, outcome, _record(config, outcome, now))
                continue
            if mail.target is not None:  # a chat or webhook message: Apprise sends it
                outcome = chat.send(mail)
                _tally(counts, outcome, _record(config, outcome, now))
                continue
            try:
                msg = message(mail, config.smtp.sender)
            except (ValueError, MessageError) as e:
                outcome = Outcome(mail.id, False, f"cannot build this mail: {e}", permanent=True)
            else:
                outcome = session.send(mail, msg)
            _tally(counts, outcome, _record(config, outcome, now))
    finally:
        session.close()
    return SendReport(counts["sent"], counts["pending"], counts["failed"], session.error)


def _tally(counts: dict[str, int], outcome: Outcome, status: str) -> None:
    """Count a mail by what this run did: one that failed here but that another run sent
    meanwhile (its claim ran out) is not this run's to count."""
    if outcome.sent or status != "sent":
        counts[status] += 1


def _claim_due(config: Config, now: datetime, limit: int) -> list[tuple[Mail, str | None]]:
    """The mails due now, marked 'sending', each with why it must not go after all (a client
    unsubscribed while it waited), if so. Of two workers claiming at once, the second to
    commit conflicts and claims again: what the first took is no longer due."""
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        db.begin()
        mails = outbox.claim_due(db, now, limit)
        if mails:
            database.claim_writes(db)
        held = [outbox.held_back(db, m) for m in mails]
        db.commit()
    return list(zip(mails, held, strict=True))


def _record(config: Config, outcome: Outcome, now: datetime) -> str:
    """What became of a mail, stored at once (again, after a conflict with another writer)."""

    def record() -> str:
        with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
            db.begin()
            status = outbox.record_outcome(db, outcome, now, config.smtp.max_attempts)
            db.commit()
        return status

    # A mail the server accepted is sent again after STUCK_AFTER unless this is stored: wait up
    # to half that for a store another process holds (a rescore, an export), not give up.
    patience = time.monotonic() + (outbox.STUCK_AFTER.total_seconds() / 2 if outcome.sent else 0)
    while True:
        try:
            return database.retry_conflicts(record)
        except StoreLockedError:
            if time.monotonic() >= patience:
                raise


class _Session:
    """The SMTP connection of one batch: opened when the first mail needs it, opened again
    after the server drops it; once it cannot be opened, the rest of the batch waits."""

    def __init__(self, smtp: Smtp):
        self.smtp = smtp
        self.server: smtplib.SMTP | None = None
        self.error: str | None = None  # why the server could not be used at all

    def send(self, mail: Mail, msg: EmailMessage) -> Outcome:
        """Send to the recipients that are addresses and that the server can take; the others
        are refused here, as a server refuses, with the reason."""
        mail_id = mail.id
        if self.server is None and self.error is None:
            try:
                self.server = _connect(self.smtp)
            except (OSError, smtplib.SMTPException) as e:
                # A refused login (a password that expired or was not set) is the operator's
                # to fix, as a server that is down: the mail waits for it, never failed for it.
                self.error = f"{self.smtp.host}:{self.smtp.port}: {_describe(e)}"
        if self.server is None:
            return Outcome(mail_id, False, self.error, tried=False)
        try:
            to, unusable = envelope(mail.recipients)
            self.server.ehlo_or_helo_if_needed()
            if not self.server.has_extn("smtputf8"):
                for r in [r for r, address in to.items() if not address.isascii()]:
                    unusable[r] = "the server does not take non-ASCII addresses (no SMTPUTF8)"
                    del to[r]
            if not to:
                why = "; ".join(f"{r}: {w}" for r, w in unusable.items())
                return Outcome(mail_id, False, f"recipients refused: {why}", permanent=True)
            refused = self.server.send_message(msg, to_addrs=list(to.values()))
        except smtplib.SMTPRecipientsRefused as e:
            codes = [code for code, _ in e.recipients.values()]
            return Outcome(mail_id, False, f"recipients refused: {_describe(e)}", min(codes) >= 500)
        except smtplib.SMTPSenderRefused as e:
            if e.smtp_code < 500 or e.smtp_code == 552:  # for now, or this mail's size
                return Outcome(mail_id, False, _describe(e), e.smtp_code >= 500)
            # The server takes no mail from our sender (the account may not send as it): the
            # operator's to fix, as a wrong password; this mail and the rest of the run wait.
            self.error = f"{self.smtp.host}:{self.smtp.port}: sender refused: {_describe(e)}"
            self.close()
            return Outcome(mail_id, False, self.error, tried=False)
        except smtplib.SMTPResponseException as e:  # a reply: the session goes on
            return Outcome(mail_id, False, _describe(e), e.smtp_code >= 500)
        except (ValueError, MessageError) as e:  # raised while flattening, before any command
            return Outcome(mail_id, False, f"cannot build this mail: {e}", permanent=True)
        except (OSError, smtplib.SMTPException) as e:
            # Dropped or timed out: whether the server kept the mail is unknown, and it is
            # sent again later (same Message-ID). The next mail gets a new connection.
            self.close()
            return Outcome(mail_id, False, _describe(e))
        if refused or unusable:
            why = [*(f"{r}: {w}" for r, w in unusable.items()), _describe_refused(refused)]
            # A mailbox refused for now (4xx) gets the mail later, in a mail of its own: the
            # others have theirs and must not get it twice.
            later = {address for address, (code, _) in refused.items() if code < 500}
            return Outcome(
                mail_id, True, f"some recipients refused: {'; '.join(w for w in why if w)}",
                retry_to=tuple(r for r, address in to.items() if address in later),
            )  # fmt: skip
        return Outcome(mail_id, True)

    def close(self) -> None:
        if self.server is None:
            return
        try:
            self.server.quit()
        except (OSError, smtplib.SMTPException):
            self.server.close()
        self.server = None


def _describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        text = (
            error.smtp_error.decode(errors="replace")
            if isinstance(error.smtp_error, bytes)
            else str(error.smtp_error)
        )
        return f"SMTP {error.smtp_code} {text}".strip()
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return _describe_refused(error.recipients)
    return str(error) or type(error).__name__


def _describe_refused(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{r}: {c}" for r, (c, _) in refused.items())
