"""Only viewers read the IOC (issue 13, finding 9): tokens, OIDC bearer tokens, the sign-in page.

The app runs on the fakes of `test_app_on_fakes`; the OIDC issuer's key set is served over real
HTTP by a loopback server in this test, with keys generated here.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ioc_collector.settings import CollectorSettings, OidcSettings
from lgsp_devkit.viewers import VIEWER_HEADERS, VIEWER_TOKEN, viewer_change

from .test_app_on_fakes import (
    FakeConsumer,
    FakeProducer,
    FakeRegistry,
    app_on,
    running,
    settings_in,
)

ISSUER, AUDIENCE = "https://sso.example.gov.vn/realms/tinh", "ioc-dashboard"
DATA_ROUTES = ("/v1/kpis", "/v1/sources/health", "/v1/streams/counts", "/v1/scorecard",
               "/v1/stream", "/v1/reports/2024-09")  # fmt: skip
REVOKED = "lgsp_at_0badc0de_this-token-was-revoked-00000"


class Issuer:
    """An OIDC issuer's signing keys (RSA and EC), and its JWKS served on loopback HTTP."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        keys = []
        for kid, key, alg in (("rsa-1", self.rsa, "RS256"), ("ec-1", self.ec, "ES256")):
            jwk = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": alg})
        self.jwks = json.dumps({"keys": keys}).encode()

    def token(self, kid: str = "rsa-1", **claims: Any) -> str:
        """Sign a token with one of the keys (kid rsa-1 or ec-1; another kid is unknown)."""
        now = int(time.time())
        body = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": "u-42", "iat": now, "exp": now + 300,
            "preferred_username": "lanh.dao", "realm_access": {"roles": ["viewer"]},
        }  # fmt: skip
        key, alg = (self.ec, "ES256") if kid.startswith("ec") else (self.rsa, "RS256")
        return jwt.encode({**body, **claims}, key, algorithm=alg, headers={"kid": kid})


@pytest.fixture(scope="module")
def issuer() -> Iterator[tuple[Issuer, str]]:
    """Serve a fresh issuer's JWKS on a loopback port; yield it with the JWKS URL."""
    made = Issuer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(made.jwks)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield made, f"http://127.0.0.1:{server.server_port}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def with_oidc(settings: CollectorSettings, jwks_url: str) -> CollectorSettings:
    oidc = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_url,
                        role_claim="realm_access.roles")  # fmt: skip
    return settings.model_copy(update={"oidc": oidc})


def app_with_tokens(tmp_path: Path, jwks_url: str | None = None) -> Any:
    settings = settings_in(tmp_path)
    if jwks_url is not None:
        settings = with_oidc(settings, jwks_url)
    registry = FakeRegistry(viewer_change(), viewer_change(REVOKED, revoked=True))
    return app_on(settings, FakeConsumer({}), FakeProducer(), registry)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_every_figure_needs_a_viewer_and_a_revoked_token_is_refused(
    tmp_path: Path,
) -> None:
    async with running(app_with_tokens(tmp_path), headers={}) as http:
        for path in DATA_ROUTES:
            for headers in ({}, bearer(REVOKED), bearer("lgsp_at_12345678_" + "x" * 30)):
                answer = await http.get(path, headers=headers)
                assert answer.status_code == 401, (path, headers, answer.text)
                assert answer.headers["content-type"].startswith("application/problem+json")
                assert answer.headers["www-authenticate"].startswith("Bearer")
        for path in ("/v1/kpis", "/v1/sources/health", "/v1/streams/counts", "/v1/scorecard"):
            assert (await http.get(path, headers=VIEWER_HEADERS)).status_code == 200, path
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/metrics")).status_code == 200
        assert (await http.get("/readyz")).status_code != 401


async def test_the_sign_in_page_sets_an_httponly_session_the_dashboard_uses(
    tmp_path: Path,
) -> None:
    async with running(app_with_tokens(tmp_path), headers={}) as http:
        first = await http.get("/")
        assert (first.status_code, first.headers["location"]) == (303, "/login")
        page = await http.get("/login")
        assert "Đăng nhập" in page.text and "Sign in" in page.text
        assert "Mã truy cập" in page.text and "Access token" in page.text
        wrong = await http.post("/login", data={"token": REVOKED, "next": "/"})
        assert wrong.status_code == 401 and "không hợp lệ" in wrong.text
        assert "ioc_session" not in http.cookies
        away = await http.post("/login", data={"token": VIEWER_TOKEN, "next": "//evil.example"})
        assert (away.status_code, away.headers["location"]) == (303, "/")  # no open redirect
        cookie = away.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        assert (await http.get("/")).status_code == 200  # the cookie is the session
        assert (await http.get("/v1/kpis")).status_code == 200
        out = await http.post("/logout")
        assert (out.status_code, out.headers["location"]) == (303, "/login")
        assert (await http.get("/v1/kpis")).status_code == 401


async def test_oidc_bearer_tokens_are_checked_against_the_issuers_jwks(
    tmp_path: Path, issuer: tuple[Issuer, str]
) -> None:
    made, jwks_url = issuer
    past = int(time.time()) - 600
    refused = {
        "wrong audience": made.token(aud="another-app"),
        "wrong issuer": made.token(iss="https://elsewhere.example"),
        "expired": made.token(iat=past - 300, exp=past),
        "unknown kid": made.token(kid="rsa-9"),
        "no viewer role": made.token(realm_access={"roles": ["citizen"]}),
        "unsigned": jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "exp": past + 9999}, None, algorithm="none"
        ),
    }
    async with running(app_with_tokens(tmp_path, jwks_url), headers={}) as http:
        for kid in ("rsa-1", "ec-1"):
            answer = await http.get("/v1/kpis", headers=bearer(made.token(kid=kid)))
            assert answer.status_code == 200, (kid, answer.text)
        for reason, token in refused.items():
            answer = await http.get("/v1/kpis", headers=bearer(token))
            assert answer.status_code == 401, reason
        assert (await http.get("/v1/kpis", headers=VIEWER_HEADERS)).status_code == 200
        signed_in = await http.post("/login", data={"token": made.token(kid="ec-1")})
        assert signed_in.status_code == 303
        assert (await http.get("/")).status_code == 200


async def test_without_an_issuer_a_jwt_lets_nobody_in(
    tmp_path: Path, issuer: tuple[Issuer, str]
) -> None:
    made, _ = issuer
    async with running(app_with_tokens(tmp_path), headers={}) as http:
        assert (await http.get("/v1/kpis", headers=bearer(made.token()))).status_code == 401


def test_oidc_settings_need_issuer_audience_and_jwks_together() -> None:
    with pytest.raises(ValueError, match="together"):
        OidcSettings(issuer=ISSUER)
    assert not OidcSettings().enabled
    assert OidcSettings(issuer=ISSUER, audience="a", jwks_url="http://x/j").enabled
