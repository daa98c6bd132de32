"""GET /: the IOC operators' dashboard (static page, vendored Chart.js, live via SSE).

Only for a signed-in viewer: anyone else is sent to the sign-in page (/login).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from ioc_collector.api.deps import RuntimeDep
from ioc_collector.api.viewer_auth import authenticate, credential_of

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
router = APIRouter(tags=["dashboard"])


@router.get("/", include_in_schema=False, response_model=None)
async def dashboard(request: Request, runtime: RuntimeDep) -> Response:
    """Serve the dashboard page to a viewer; send anyone else to sign in."""
    credential = credential_of(request)
    if credential is None or await authenticate(runtime, credential) is None:
        return RedirectResponse("/login", status_code=303)
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store"})  # fmt: skip
