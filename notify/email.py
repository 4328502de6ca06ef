"""Mail: rendering (Jinja2, plain text + HTML) and sending through the outbox over SMTP.

Text from the internet reaches the HTML part only through Jinja2's autoescape, and links only
if they are http(s) (the collectors drop anything else).
"""

from __future__ import annotations

import hashlib
import os
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate

from jinja2 import Environment, PackageLoader, select_autoescape

from data import outbox, store
from data.config import SMTP_PASSWORD_ENV, Config, Smtp
from data.outbox import Mail, Outcome
from notify.rules import Condition

templates = Environment(
    loader=PackageLoader("notify", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
)


def dashboard_url(config: Config) -> str:
    d = config.dashboard
    return (d.base_url or f"http://{d.address}:{d.port}").rstrip("/")


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
    fired, so queuing the same firing twice stores it once."""
    context = {
        "heading": subject,
        "conditions": conditions,
        "rule": rule,
        "dashboard": dashboard_url(config),
    }
    ident = hashlib.blake2b(
        "\x1f".join(
            [kind, rule, *sorted(f"{c.rule}/{c.key}" for c in conditions), subject]
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


def message(mail: Mail, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(mail.recipients)
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(usegmt=True)
    # Stable per outbox row: if a crash ever makes us send a mail twice, clients see one.
    msg["Message-ID"] = f"<{mail.id}@tidings>"
    msg["Auto-Submitted"] = "auto-generated"
    for name, value in mail.headers.items():
        msg[name] = value
    msg.set_content(mail.text_body)
    msg.add_alternative(mail.html_body, subtype="html")
    return msg


def _connect(smtp: Smtp) -> smtplib.SMTP:
    if smtp.security == "tls":
        server: smtplib.SMTP = smtplib.SMTP_SSL(
            smtp.host, smtp.port, timeout=smtp.timeout_seconds, context=ssl.create_default_context()
        )
    else:
        server = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
        if smtp.security == "starttls":
            server.starttls(context=ssl.create_default_context())
    if smtp.username:
        server.login(smtp.username, os.environ.get(SMTP_PASSWORD_ENV, ""))
    return server


@dataclass(frozen=True, slots=True)
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    error: str | None = None  # why the server could not be used at all, if it could not


def send_pending(config: Config, now: datetime | None = None) -> SendReport:
    """Send what the outbox holds and is due. The database is not held during SMTP work."""
    now = now or store.utcnow()
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        db.begin()
        mails = outbox.claim_due(db, now)
        db.commit()
    if not mails:
        return SendReport()
    outcomes: list[Outcome] = []
    server_error = None
    try:
        server = _connect(config.smtp)
    except (OSError, smtplib.SMTPException) as e:
        server_error = f"{config.smtp.host}:{config.smtp.port}: {_describe(e)}"
        permanent = isinstance(e, smtplib.SMTPAuthenticationError)
        outcomes = [Outcome(m.id, False, server_error, permanent) for m in mails]
    else:
        with server:
            for m in mails:
                outcomes.append(_send_one(server, m, config.smtp.sender))
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        db.begin()
        outbox.record_outcomes(db, outcomes, now, config.smtp.max_attempts)
        db.commit()
        (failed,) = db.execute(
            "SELECT count(*) FROM outbox WHERE status = 'failed' AND list_contains(?, id)",
            [[o.mail_id for o in outcomes]],
        ).fetchone()
    sent = sum(o.sent for o in outcomes)
    return SendReport(sent, len(outcomes) - sent - failed, failed, server_error)


def _send_one(server: smtplib.SMTP, mail: Mail, sender: str) -> Outcome:
    try:
        refused = server.send_message(message(mail, sender))
    except smtplib.SMTPRecipientsRefused as e:
        codes = [code for code, _ in e.recipients.values()]
        return Outcome(mail.id, False, f"recipients refused: {_describe(e)}", min(codes) >= 500)
    except smtplib.SMTPResponseException as e:
        return Outcome(mail.id, False, _describe(e), e.smtp_code >= 500)
    except (OSError, smtplib.SMTPException) as e:
        return Outcome(mail.id, False, _describe(e))
    if refused:
        return Outcome(mail.id, True, f"some recipients refused: {', '.join(refused)}")
    return Outcome(mail.id, True)


def _describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        text = (
            error.smtp_error.decode(errors="replace")
            if isinstance(error.smtp_error, bytes)
            else str(error.smtp_error)
        )
        return f"SMTP {error.smtp_code} {text}".strip()
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{r}: {c}" for r, (c, _) in error.recipients.items())
    return str(error) or type(error).__name__
