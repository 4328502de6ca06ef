"""People, roles, passwords and sessions (data.users), and `tidings users …`."""

import io
import time

import pytest

from data import store, users
from data.errors import TidingsError
from flows.cli import main
from flows.people import read_password


@pytest.fixture
def db(tmp_path):
    with store.connect(tmp_path / "t.duckdb") as db:
        yield db


def test_a_password_is_kept_only_as_an_argon2_hash_and_checked(db):
    now = store.utcnow()
    users.add(db, "Ana@Example.com", "admin", "correct horse battery", now)
    (stored,) = db.execute("SELECT password_hash FROM users").fetchone()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert users.check_password(db, "ana@example.com", "correct horse battery").role == "admin"
    assert users.check_password(db, "ANA@example.com ", "correct horse battery") is not None
    assert users.check_password(db, "ana@example.com", "wrong horse battery") is None
    assert users.check_password(db, "nobody@example.com", "correct horse battery") is None
    assert users.check_password(db, "not an email", "x") is None


def test_sso_only_people_cannot_sign_in_with_a_password(db):
    users.add(db, "sso@example.com", "viewer", None, store.utcnow())
    assert users.check_password(db, "sso@example.com", "") is None
    assert users.binding(db, "sso@example.com") is None


def test_bad_people_commands_say_what_is_wrong(db):
    now = store.utcnow()
    with pytest.raises(users.UserError, match="at least 10"):
        users.add(db, "a@example.com", "agent", "short", now)
    with pytest.raises(users.UserError, match="not an email"):
        users.add(db, "nobody", "agent", None, now)
    with pytest.raises(users.UserError, match="one of viewer, agent, admin"):
        users.add(db, "a@example.com", "boss", None, now)
    users.add(db, "a@example.com", "agent", None, now)
    with pytest.raises(users.UserError, match="already a user"):
        users.add(db, "A@example.com", "admin", None, now)
    with pytest.raises(users.UserError, match="no such user"):
        users.set_role(db, "b@example.com", "admin", now)
    with pytest.raises(users.UserError, match="no such client"):
        users.set_clients(db, "a@example.com", ["acme"])


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("viewer", set()),
        (None, set()),
        ("agent", {"inbox", "correct", "curate"}),
        ("admin", set(users.ACTIONS)),
    ],
)
def test_each_role_may_do_only_its_actions(role, allowed):
    for action in users.ACTIONS:
        assert users.may(role, action) == (action in allowed)
        if action not in allowed:
            with pytest.raises(users.Forbidden, match="Not allowed"):
                users.require(role, action)


def test_an_agent_curates_only_the_clients_assigned_to_them():
    assert users.may_curate("agent", {"acme"}, "acme")
    assert not users.may_curate("agent", {"acme"}, "globex")
    assert users.may_curate("admin", set(), "globex")
    assert not users.may_curate("viewer", {"acme"}, "acme")


def test_a_session_token_is_signed_expires_and_ends_with_a_new_password(db):
    secret = users.session_secret(db, store.utcnow())
    assert users.session_secret(db, store.utcnow()) == secret  # made once, kept
    now = time.time()
    token = users.session_token(secret, "ana@example.com", int(now) + 60, "hash-1")
    assert set(token) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    assert users.valid_session(token, secret, "hash-1", now) == "ana@example.com"
    assert users.valid_session(token, secret, "hash-2", now) is None  # password changed
    assert users.valid_session(token, b"other", "hash-1", now) is None
    assert users.valid_session(token, secret, "hash-1", now + 61) is None  # expired
    who, expires, mac = token.split(".")
    forged = users.session_token(b"guess", "boss@example.com", int(now) + 60, "hash-1")
    assert users.valid_session(forged, secret, "hash-1", now) is None
    assert users.valid_session(f"{who}.{int(now) + 9999}.{mac}", secret, "hash-1", now) is None
    assert users.valid_session("garbage", secret, "", now) is None


def test_the_session_secret_comes_from_the_environment_when_set(db, monkeypatch):
    monkeypatch.setenv(users.SESSION_SECRET_ENV, "from-the-env-0123456789")
    assert users.session_secret(db, store.utcnow()) == b"from-the-env-0123456789"


def test_a_password_is_read_from_the_environment_or_stdin():
    assert read_password(io.StringIO("pw-from-stdin\n"), {}) == "pw-from-stdin"
    assert read_password(io.StringIO(""), {users.PASSWORD_ENV: "pw-env"}) == "pw-env"
    with pytest.raises(TidingsError, match="no password on stdin"):
        read_password(io.StringIO(""), {})


def test_users_commands_add_list_set_role_and_remove(tmp_path, capsys, monkeypatch):
    config = tmp_path / "tidings.toml"
    config.write_text(f'[database]\npath = "{tmp_path / "t.duckdb"}"\n')
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert (
        main(["--config", str(config), "users", "add", "Ana@Example.com", "--role", "admin"]) == 0
    )
    assert main(["--config", str(config), "users", "add", "bo@example.com", "--role", "viewer",
                 "--no-password"]) == 0  # fmt: skip
    assert main(["--config", str(config), "users", "set-role", "bo@example.com", "agent"]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "users", "list"]) == 0
    out = capsys.readouterr().out
    assert "ana@example.com\tadmin\tpassword" in out
    assert "bo@example.com\tagent\tsingle sign-on" in out
    assert main(["--config", str(config), "users", "remove", "nobody@example.com"]) == 2
    assert "nobody@example.com: no such user" in capsys.readouterr().err
    assert main(["--config", str(config), "users", "remove", "bo@example.com"]) == 0
    with store.connect(tmp_path / "t.duckdb") as db:
        assert [u.email for u in users.everyone(db)] == ["ana@example.com"]
        assert [a[2] for a in users.audit(db)] == [
            "user.remove",
            "user.role",
            "user.add",
            "user.add",
        ]
        (stored,) = db.execute("SELECT password_hash FROM users").fetchone()
    assert "a long password" not in stored


def test_a_team_is_defined_by_people_in_the_store_or_the_config(tmp_path):
    from data.config import parse_config
    from flows.people import secrets_args, team_defined

    base = {"database": {"path": str(tmp_path / "t.duckdb")}}
    alone = parse_config(base, tmp_path / "tidings.toml")
    assert not team_defined(alone) and secrets_args(alone) == []
    mapped = parse_config(
        {**base, "users": [{"email": "a@example.com", "role": "agent"}]}, tmp_path / "tidings.toml"
    )
    assert team_defined(mapped)
    with store.connect(alone.db_path) as db:
        users.add(db, "b@example.com", "viewer", None, store.utcnow())
    assert team_defined(alone)
    sso = parse_config({**base, "sign_in": {"secrets_file": "s.toml"}}, tmp_path / "tidings.toml")
    with pytest.raises(TidingsError, match=r"sign_in.secrets_file: no such file: .*s\.toml"):
        secrets_args(sso)
    (tmp_path / "s.toml").write_text("[auth]\n")
    assert secrets_args(sso) == ["--secrets.files", str(tmp_path / "s.toml")]


def test_a_public_dashboard_without_people_or_password_is_refused(tmp_path):
    from data.config import parse_config
    from flows.cli import start_dashboard

    config = parse_config(
        {"database": {"path": str(tmp_path / "t.duckdb")}, "dashboard": {"address": "0.0.0.0"}},
        tmp_path / "tidings.toml",
    )
    with pytest.raises(TidingsError, match="or add people with `tidings users add`"):
        start_dashboard(config)


def test_single_sign_on_roles_come_from_the_store_then_the_config_then_the_default(tmp_path):
    from dashboard.signin import Team, role_for
    from data.config import parse_config

    raw = {"users": [{"email": "Cy@Example.com", "role": "agent"}]}
    known = Team(roles={"ad@example.com": "admin"})
    lenient = parse_config(raw)
    strict = parse_config({**raw, "sign_in": {"unknown": "refuse"}})
    assert role_for(strict, known, "ad@example.com") == "admin"
    assert role_for(strict, known, "cy@example.com") == "agent"
    assert role_for(lenient, known, "stranger@example.com") == "viewer"
    assert role_for(strict, known, "stranger@example.com") is None
