"""Signing in to the dashboard: local accounts (`tidings users add`) with a signed, expiring
session cookie, and single sign-on through Streamlit's OpenID Connect support (`st.login`)
when `.streamlit/secrets.toml` (or `[sign_in] secrets_file`) has an `[auth]` section.

A person signing in by single sign-on gets the role the users table gives their email, else
the config's [[users]], else `[sign_in] unknown` (viewer, or refused). Without anyone defined
and without single sign-on, the install is single-user: the shared password gate applies.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import streamlit as st

from dashboard import reads
from dashboard.auth import ANYONE, PERSON_KEY, Person, _set_cookie, require_password
from data import store, users
from data.config import Config

COOKIE = "tidings_person"
TOKEN_KEY = "session_token"  # noqa: S105 (a session_state key, not a secret)


@dataclass(frozen=True)
class Team:
    roles: dict[str, str] = field(default_factory=dict)  # email -> role (the users table)
    bindings: dict[str, str] = field(default_factory=dict)  # email -> password hash
    clients: dict[str, frozenset[str]] = field(default_factory=dict)  # agent -> client ids
    secret: bytes = b""


@st.cache_data(ttl=5, show_spinner=False)
def _team(db_path: str, lock_timeout: float) -> Team:
    # Read at most every few seconds: a removed person or a changed role takes effect on
    # their next click after that.
    with store.connect(db_path, lock_timeout) as db:
        people = users.everyone(db)
        return Team(
            {u.email: u.role for u in people},
            {u.email: b for u in people if (b := users.binding(db, u.email))},
            {u.email: frozenset(users.clients_of(db, u.email)) for u in people},
            users.session_secret(db, store.utcnow()),
        )


def team(cfg: Config) -> Team:
    return _team(str(cfg.db_path), min(reads.READ_WAIT, cfg.database.lock_timeout_seconds))


def sso_providers() -> list[str | None]:
    """The single sign-on providers configured in Streamlit's secrets: [None] for an [auth]
    section holding one provider, else the names of its [auth.NAME] sections."""
    if not st.secrets.load_if_toml_exists():
        return []
    section = st.secrets.get("auth") or {}
    if "server_metadata_url" in section:
        return [None]
    return [
        name
        for name, value in section.items()
        if isinstance(value, Mapping) and "server_metadata_url" in value
    ]


def role_for(cfg: Config, known: Team, email: str) -> str | None:
    """A single sign-on person's role: the users table's, the config's [[users]], else
    `[sign_in] unknown` (None: refused)."""
    if email in known.roles:
        return known.roles[email]
    for p in cfg.users:
        if p.email.lower() == email:
            return p.role
    return "viewer" if cfg.sign_in.unknown == "viewer" else None


def assignable(cfg: Config) -> list[str]:
    """The team's people who take inbox work (agents and admins), for the assignee lists."""
    known = team(cfg)
    emails = {e for e, r in known.roles.items() if users.may(r, "inbox")}
    emails |= {p.email.lower() for p in cfg.users if users.may(p.role, "inbox")}
    return sorted(emails)


def sign_in() -> Person:
    """Who uses this session; stops the page with the sign-in form until someone signs in."""
    cfg = reads.config()
    providers = sso_providers()
    known = team(cfg)
    if not known.roles and not cfg.users and not providers:
        require_password()  # a single-user install: the shared password, if one is set
        st.session_state[PERSON_KEY] = ANYONE
        return ANYONE
    who = _signed_in(cfg, known, providers)
    if who is None:
        st.session_state.pop(PERSON_KEY, None)
        _sign_in_page(cfg, known, providers)  # stops
        raise AssertionError("unreachable")
    st.session_state[PERSON_KEY] = who
    if token := st.session_state.pop("new_cookie", None):
        _set_cookie(token, int(cfg.sign_in.session_hours * 3600), COOKIE)
    st.sidebar.text(f"Signed in as {who.email} ({who.role})")
    if st.sidebar.button("Sign out", key="sign-out"):
        _sign_out(who)
        _sign_in_page(cfg, known, providers)
    return who


def _signed_in(cfg: Config, known: Team, providers: list[str | None]) -> Person | None:
    now = time.time()
    # The cookies are those the browser sent when this session began: after "Sign out" the
    # session must not sign itself in again from them.
    cookie = None if st.session_state.get("signed_out") else st.context.cookies.get(COOKIE)
    token = st.session_state.get(TOKEN_KEY) or cookie
    email = users.session_email(token, now)
    bound = known.bindings.get(email or "")
    if email and bound and users.valid_session(token, known.secret, bound, now):
        st.session_state[TOKEN_KEY] = token
        return Person(email, known.roles[email], "password", known.clients.get(email, frozenset()))
    st.session_state.pop(TOKEN_KEY, None)
    if providers and st.user.is_logged_in:
        email = str(st.user.get("email") or "").strip().lower()
        issued = st.user.get("iat")
        if isinstance(issued, int | float) and now - issued > cfg.sign_in.session_hours * 3600:
            st.logout()  # the provider's sign-in is older than a session lasts: ask again
        if not email or st.user.get("email_verified") is False:
            _refused("Your identity provider gave no verified email address.", email)
        role = role_for(cfg, known, email)
        if role is None:
            _refused(
                "This account has no access to this dashboard. Ask an admin to add you "
                "(tidings users add EMAIL --role viewer --no-password).",
                email,
            )
        return Person(email, role or "viewer", "sso", known.clients.get(email, frozenset()))
    return None


def _refused(why: str, email: str) -> None:
    st.title("Tidings")
    st.error(why)
    st.text(f"Signed in at your identity provider as: {email or '(no email)'}")  # as text
    if st.button("Sign out"):
        st.logout()
    st.stop()


def _sign_out(who: Person) -> None:
    st.session_state.pop(TOKEN_KEY, None)
    st.session_state.pop(PERSON_KEY, None)
    st.session_state["signed_out"] = True
    if who.how == "sso":
        st.logout()  # the browser goes to Streamlit's sign-out, which removes its own cookie
    else:
        _set_cookie("", 0, COOKIE)


def _sign_in_page(cfg: Config, known: Team, providers: list[str | None]) -> None:
    st.title("Tidings")
    st.caption("Sign in to see what people say and to act on it.")
    for name in providers:
        label = "Sign in with single sign-on" + (f" ({name})" if name else "")
        if st.button(label, type="primary", key=f"sso-{name}"):
            st.login(name) if name else st.login()
    if known.bindings:
        with st.form("sign-in"):
            email = st.text_input("Email", key="sign-in-email")
            password = st.text_input("Password", type="password", key="sign-in-password")
            submitted = st.form_submit_button("Sign in", type="primary")
        if submitted:
            _check(cfg, known, email, password)
    elif not providers:
        st.info("No one can sign in with a password yet: `tidings users add EMAIL --role admin`.")
    st.stop()


@st.cache_resource
def _failures() -> dict[str, list[float]]:
    """Wrong passwords per email, in this dashboard process (shared by every browser)."""
    return {}


def _check(cfg: Config, known: Team, email: str, password: str) -> None:
    name, now = email.strip().lower()[:200], time.time()
    failures = _failures()
    if users.locked_out(failures.get(name, []), now):
        st.error(
            f"Too many wrong passwords for this email: try again in "
            f"{users.FAILURE_WINDOW // 60} minutes."
        )
        return
    with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
        user = users.check_password(db, email, password)
    if user is None:
        recent = [t for t in failures.get(name, []) if now - t < users.FAILURE_WINDOW]
        failures[name] = [*recent, now]
        st.error("Wrong email or password.")
        return
    failures.pop(name, None)
    _team.clear()  # a person added a moment ago signs in at once
    fresh = team(cfg)
    expires = int(time.time() + cfg.sign_in.session_hours * 3600)
    token = users.session_token(fresh.secret, user.email, expires, fresh.bindings[user.email])
    st.session_state[TOKEN_KEY] = token
    st.session_state["new_cookie"] = token
    st.session_state["signed_out"] = False
    st.session_state.pop("sign-in-password", None)
    st.rerun()
