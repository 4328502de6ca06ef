"""A small OpenID Connect provider on 127.0.0.1, for the tests: a discovery document, an
authorize endpoint that approves at once (as `email`, which a test sets), a token endpoint
issuing an RS256 id_token signed with a key made for the run, and its JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "tidings-test"
CLIENT_SECRET = "provider-test-secret"  # noqa: S105 (a test provider's made-up secret)


class Provider:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig"})
        self.email = "someone@example.com"
        self.codes: dict[str, dict] = {}
        self.tokens_issued = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Provider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def discovery(self) -> dict:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
        }

    def authorize(self, query: dict[str, str]) -> str:
        """Approve at once: where to send the browser back, with a one-time code."""
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            raise ValueError("unknown client or response type")
        code = secrets.token_urlsafe(16)
        self.codes[code] = {**query, "email": self.email}
        back = {"code": code, "state": query.get("state", "")}
        return f"{query['redirect_uri']}?{urlencode(back)}"

    def token(self, form: dict[str, str], basic: str | None) -> dict:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if basic:
            client_id, _, client_secret = base64.b64decode(basic).decode().partition(":")
        if (client_id, client_secret) != (CLIENT_ID, CLIENT_SECRET):
            raise ValueError("invalid_client")
        asked = self.codes.pop(form.get("code", ""), None)
        if asked is None or asked["redirect_uri"] != form.get("redirect_uri"):
            raise ValueError("invalid_grant")
        if "code_challenge" in asked:
            verifier = form.get("code_verifier", "").encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
            if digest.decode() != asked["code_challenge"]:
                raise ValueError("invalid_grant")
        now = int(time.time())
        claims = {
            "iss": self.url, "sub": asked["email"], "aud": CLIENT_ID, "iat": now,
            "exp": now + 300, "email": asked["email"], "email_verified": True,
            "name": asked["email"].split("@")[0],
        }  # fmt: skip
        if "nonce" in asked:
            claims["nonce"] = asked["nonce"]
        self.tokens_issued += 1
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key)
        return {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                "expires_in": 300, "id_token": id_token}  # fmt: skip

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _json(self, body: dict, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/.well-known/openid-configuration":
                    return self._json(provider.discovery())
                if parts.path == "/jwks":
                    return self._json({"keys": [provider.key.as_dict(private=False)]})
                if parts.path == "/authorize":
                    try:
                        back = provider.authorize(query)
                    except (ValueError, KeyError) as e:
                        return self._json({"error": str(e)}, 400)
                    self.send_response(302)
                    self.send_header("Location", back)
                    self.end_headers()
                    return None
                if parts.path == "/userinfo":
                    return self._json({"sub": provider.email, "email": provider.email})
                return self._json({"error": "not found"}, 404)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                auth = self.headers.get("Authorization", "")
                basic = auth[6:] if auth.startswith("Basic ") else None
                if urlsplit(self.path).path != "/token":
                    return self._json({"error": "not found"}, 404)
                try:
                    return self._json(provider.token(form, basic))
                except ValueError as e:
                    return self._json({"error": str(e)}, 400)

        return Handler
