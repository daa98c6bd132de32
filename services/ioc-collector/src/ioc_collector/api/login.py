"""The sign-in page (Đăng nhập / Sign in): an access token in, an HttpOnly session cookie out.

`POST /login` checks the token exactly as the API does and, if it lets a viewer in, stores it
in a cookie the page's scripts cannot read (HttpOnly), sent only to this site (SameSite=Strict,
so another site cannot make the browser use it) and over HTTPS only when served over HTTPS.
The cookie holds the token itself, so revoking the token ends the session at the next request.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ioc_collector.api.deps import RuntimeDep
from ioc_collector.api.viewer_auth import SESSION_COOKIE, authenticate

router = APIRouter(tags=["sign-in"], include_in_schema=False)
MAX_FORM_BYTES = 16_384
MAX_SESSION_S = 12 * 3600  # a working day; the token's own expiry or revocation ends it sooner
_PAGE = """<!doctype html>
<html lang="vi">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Đăng nhập / Sign in – IOC</title>
  <link rel="stylesheet" href="/static/dashboard.css">
</head>
<body>
  <header><div><h1>Trung tâm giám sát, điều hành thông minh
    <span class="en">Intelligent Operations Center (IOC)</span></h1></div></header>
  <main>
    <section class="panel login" aria-labelledby="login-title">
      <h2 id="login-title">Đăng nhập <span class="en">/ Sign in</span></h2>
      {message}
      <form method="post" action="/login" id="login-form">
        <label for="token">Mã truy cập <span class="en">/ Access token</span></label>
        <input id="token" name="token" type="password" autocomplete="current-password" required
               size="60" placeholder="lgsp_at_...">
        <input type="hidden" name="next" value="{next}">
        <button type="submit" id="login-button">Đăng nhập <span class="en">/ Sign in</span></button>
      </form>
      <p class="en">Mã do quản trị viên cấp (lgsp tokens issue) hoặc mã OIDC của tỉnh.
        A token from the operator (lgsp tokens issue) or the province's OIDC token.</p>
    </section>
  </main>
</body>
</html>
"""
_FAILED = (
    '<p class="error" id="login-error" role="alert">Mã truy cập không hợp lệ, đã thu hồi hoặc '
    'hết hạn <span class="en">/ The access token is invalid, revoked or expired</span></p>'
)


def _safe_next(value: str | None) -> str:
    """Return a same-site path to go back to (never another site: no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _page(next_path: str, failed: bool, status: int = 200) -> HTMLResponse:
    body = _PAGE.format(message=_FAILED if failed else "", next=html.escape(next_path))
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/login")
async def login_page(next: str | None = None) -> HTMLResponse:
    """Show the sign-in form."""
    return _page(_safe_next(next), failed=False)


@router.post("/login", response_model=None)
async def login(request: Request, runtime: RuntimeDep) -> Response:
    """Check the posted token; on success set the session cookie and go back, else 401."""
    raw = await request.body()
    form = parse_qs(raw[:MAX_FORM_BYTES].decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    back = _safe_next((form.get("next") or ["/"])[0])
    if not token or len(raw) > MAX_FORM_BYTES or await authenticate(runtime, token) is None:
        return _page(back, failed=True, status=401)
    response = RedirectResponse(back, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=MAX_SESSION_S, httponly=True, samesite="strict",
        secure=request.url.scheme == "https", path="/",
    )  # fmt: skip
    return response


@router.post("/logout")
async def logout() -> RedirectResponse:
    """End the session: forget the cookie and show the sign-in page."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
