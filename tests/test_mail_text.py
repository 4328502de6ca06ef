"""The plain-text part of alert mails, as a person reads it in a mail client."""

from datetime import UTC, datetime

from notify.email import render
from notify.rules import Condition
from tests.conftest import make_config

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def text_of(tmp_path, *mentions: dict) -> list[str]:
    config = make_config(tmp_path, [])
    condition = Condition(
        "open-complaints", "m1:remind", "Reminder", "assigned 30 h ago", ("sam@example.com",),
        mentions,
    )  # fmt: skip
    mail = render(config, "reminder", "open-complaints", "Reminder", [condition], ["sam@x.example"],
                  NOW, NOW)  # fmt: skip
    return mail.text_body.splitlines()


def test_each_mention_line_ends_before_its_links(tmp_path):
    lines = text_of(
        tmp_path,
        {"id": "m1", "title": "Sync lost my notes", "url": "https://f.example/1", "author": "ana",
         "reach": 0},
        {"id": "m2", "title": "No author, no reach", "url": "https://f.example/2"},
        {"id": "m3", "title": "Reach only", "url": "https://f.example/3", "reach": 1200},
    )  # fmt: skip
    assert "  - Sync lost my notes — ana (reach 0)" in lines
    assert "  - No author, no reach" in lines
    assert "  - Reach only (reach 1,200)" in lines
    originals = [line for line in lines if "Original:" in line]
    assert originals == [
        "    Original:  https://f.example/1",
        "    Original:  https://f.example/2",
        "    Original:  https://f.example/3",
    ]


def test_digest_text_keeps_source_line_text_and_link_apart(tmp_path):
    from data.clients import Client
    from notify.digest import Pick
    from notify.push import render_digest

    config = make_config(tmp_path, [])
    client = Client(id="harbor", name="Harbor", email="office@harbor.example",
                    interests=["bookkeeping"], token="t0k")  # fmt: skip
    article = {"id": "a1", "title": "Cloud bookkeeping", "url": "https://news.example/1",
               "source": "technews", "author": "Chris P.", "text": "Small firms move online."}  # fmt: skip
    from notify.links import Links

    mail = render_digest(config, client, [Pick(article, 1.0, "")], "", NOW, secret=b"k")
    lines = mail.text_body.splitlines()
    at = lines.index("1. Cloud bookkeeping")
    link = Links(config.push.public_url, b"k", client).click("a1")  # the endpoint's redirect
    assert lines[at + 1 : at + 5] == [
        "   technews · Chris P.", "", "   Small firms move online.", f"   {link}",
    ]  # fmt: skip
