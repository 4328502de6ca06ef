"""The Act side attacked as the real world would: hostile addresses, SMTP servers that refuse
some recipients, ask for a password we get wrong or answer slowly, beside good mail; a real
SMTP server on 127.0.0.1 (aiosmtpd), a real DuckDB file, the real web endpoint. Each attack
stands beside a good mail, which must arrive exactly once."""

import socket
from datetime import timedelta

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from notify.email import send_pending
from tests.conftest import Inbox, make_config
from tests.test_mail_faults import NOW, arrivals, enqueue, mail, smtp_section, statuses


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class running:
    """An aiosmtpd server on 127.0.0.1 with options of its own (authentication, no
    SMTPUTF8), as a context manager yielding its handler (with `.port`)."""

    def __init__(self, handler: Inbox, **options):
        self.handler, self.options = handler, options

    def __enter__(self) -> Inbox:
        self.handler.port = free_port()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.handler.port, **self.options
        )
        self.controller.start()
        return self.handler

    def __exit__(self, *exc) -> None:
        self.controller.stop()


# --- the server refuses our password -------------------------------------------------------


def test_a_wrong_smtp_password_holds_the_mail_and_the_right_one_sends_it(tmp_path, monkeypatch):
    """A password that expired (or a variable lost in a restart) is the operator's to fix: the
    mail waits, and goes once the password is right, with no one editing the database."""

    def authenticate(server, session, envelope, mechanism, auth_data):
        # handled=False: refused with a 535 reply, as a real server does (else no reply at all)
        return AuthResult(success=auth_data.password == b"right-pw", handled=False)

    with running(Inbox(), authenticator=authenticate, auth_require_tls=False) as server:
        config = make_config(
            tmp_path, [], smtp={**smtp_section(server.port), "username": "tidings"}
        )
        enqueue(config, mail("a"), mail("b"))
        monkeypatch.setenv("TIDINGS_SMTP_PASSWORD", "wrong-pw")

        refused = send_pending(config, NOW)

        assert (refused.sent, refused.retrying, refused.failed) == (0, 2, 0)
        assert "535" in refused.error and "wrong-pw" not in refused.error
        assert {s for s, _ in statuses(config).values()} == {"pending"}
        monkeypatch.setenv("TIDINGS_SMTP_PASSWORD", "right-pw")
        assert send_pending(config, NOW + timedelta(hours=1)).sent == 2
        assert send_pending(config, NOW + timedelta(days=1)).sent == 0
        assert arrivals(server) == {"a": 1, "b": 1}
        stored = " ".join(str(e) for _, e in statuses(config).values())
        assert "pw" not in stored
