"""Hostile or mistaken config files: each gives one line naming the file, the key and what is
wrong, when the config loads, never a traceback at run time."""

import pytest

from data.config import load_config
from data.errors import ConfigError

WEBPAGE = """
[[sources]]
id = "reviews"
kind = "webpage"
url = "https://reviews.example/"
[sources.selectors]
"""


def error_for(tmp_path, toml: str) -> str:
    path = tmp_path / "tidings.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message and message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[smtp]\nsender = "Tidings <t@example.com>\\r\\nBcc: x@example.com"',
            "smtp.sender: must be one address on one line, such as Tidings <tidings@example.com>",
        ),
        ('[smtp]\nsender = "t@example.com, u@example.com"', "smtp.sender: must be one address"),
        ('[smtp]\nsender = "Tidings"', "smtp.sender: must be one address"),
        ('[smtp]\nhost = "mail.example.com\\r\\nRCPT TO:<x@example.com>"', "smtp.host: "),
        ('[smtp]\nusername = "me\\nAUTH"', "smtp.username: "),
        ('[http]\nuser_agent = "Tidings\\r\\nX-Evil: 1"', "http.user_agent: "),
        ('[dashboard]\naddress = "127.0.0.1\\n"', "dashboard.address: "),
    ],
)
def test_a_line_break_or_second_address_in_a_header_or_server_setting_is_refused(
    tmp_path, toml, expected
):
    assert error_for(tmp_path, toml).startswith(expected)


@pytest.mark.parametrize("section", ["dashboard", "push"])
@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://files.example.com",
        "https://",
        "tidings.example.com",
        "https://tidings.example.com/?next=1",
        "https://tidings.example.com/#top",
        "https://user:secret@tidings.example.com",
        "https://tidings.example.com/\\r\\nSet-Cookie: a=b",
        "https://tidings example.com",
    ],
)
def test_a_base_url_must_be_a_plain_http_address(tmp_path, section, url):
    message = error_for(tmp_path, f'[{section}]\nbase_url = "{url}"')
    assert message.startswith(
        f"{section}.base_url: must be an http(s) address such as https://tidings.example.com"
    )


@pytest.mark.parametrize(
    "url", ["https://tidings.example.com", "http://10.0.0.5:8501/", "https://example.com/tidings"]
)
def test_plain_base_urls_are_kept(tmp_path, url):
    path = tmp_path / "tidings.toml"
    path.write_text(f'[dashboard]\nbase_url = "{url}"\n[push]\nbase_url = "{url}"\n')
    config = load_config(path)
    assert config.dashboard.base_url == config.push.base_url == url


def test_an_alert_recipient_with_a_control_character_or_comma_is_refused(tmp_path):
    rule = '[[alerts]]\nname = "a"\nkind = "spike"\nrecipients = ["ops@example.com", "{}"]\n'
    for bad in ("ops@example.com\\u0000", "ops@example.com,x"):
        assert error_for(tmp_path, rule.format(bad)).startswith(
            "alerts[0].recipients[1]: not an email address"
        )


def test_an_address_a_mail_would_read_as_another_is_refused_when_the_config_loads(tmp_path):
    """`a"b(c)d@example.com` matches the pattern, but a header reads it as abd@example.com:
    refused at load, naming the key, not at the first alert's sending."""
    bad = 'a\\"b(c)d@example.com'
    for where, toml in (
        (
            "alerts[0].recipients[0]",
            f'[[alerts]]\nname = "a"\nkind = "spike"\nrecipients = ["{bad}"]\n',
        ),
        (
            "alerts[0].escalate_to[0]",
            f'[[alerts]]\nname = "a"\nkind = "spike"\nrecipients = ["ops@example.com"]\n'
            f'escalate_to = ["{bad}"]\n',
        ),
    ):
        assert error_for(tmp_path, toml).startswith(
            f"{where}: not an email address as written (a mail would read another)"
        )


@pytest.mark.parametrize("field", ["item", "title", "link", "text", "date", "author"])
def test_an_invalid_css_selector_is_refused_when_the_config_loads(tmp_path, field):
    others = "" if field == "item" else 'item = "article"\n'
    message = error_for(tmp_path, f'{WEBPAGE}{others}{field} = "div[[["\n')
    assert message == (
        f"sources[0].selectors.{field}: not a valid CSS selector: "
        "Malformed attribute selector at position 3 (got 'div[[[')"
    )


def test_valid_css_selectors_load(tmp_path):
    path = tmp_path / "tidings.toml"
    path.write_text(f'{WEBPAGE}item = "div.review:not(.ad) > article"\nlink = "a[href^=http]"\n')
    assert load_config(path).sources[0].selectors.item == "div.review:not(.ad) > article"


def test_quiet_hours_whose_ends_are_equal_are_refused(tmp_path):
    rule = (
        '[[alerts]]\nname = "night"\nkind = "spike"\nrecipients = ["ops@example.com"]\n'
        'quiet_hours = "07:00-07:00"\n'
    )
    assert error_for(tmp_path, rule) == (
        "alerts[0]: quiet_hours: 07:00-07:00 starts and ends at the same time "
        "(leave quiet_hours out for none)"
    )
