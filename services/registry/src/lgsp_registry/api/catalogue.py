"""Routes for what integrators read: the catalogue page and the AsyncAPI document."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from lgsp_registry.api.catalogue_page import render_catalogue
from lgsp_registry.api.deps import ContextDep
from lgsp_registry.domain.catalogue import Catalogue
from lgsp_registry.service import catalogue as service

router = APIRouter(tags=["catalogue"])
YAML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/yaml": {}}, "description": "AsyncAPI 3.0 document"}
}


@router.get("/catalogue", response_class=HTMLResponse)
async def catalogue_page(ctx: ContextDep) -> HTMLResponse:
    """The data catalogue page (Danh mục dữ liệu), server-rendered HTML."""
    return HTMLResponse(render_catalogue(await service.catalogue(ctx)))


@router.get("/v1/catalogue", response_model=Catalogue)
async def catalogue_json(ctx: ContextDep) -> Catalogue:
    """The data catalogue as JSON: organisations, topics, contracts, KPIs, consumers."""
    return await service.catalogue(ctx)


@router.get("/asyncapi.json", responses={200: {"description": "AsyncAPI 3.0 document"}})
async def asyncapi_json(ctx: ContextDep) -> dict[str, Any]:
    """The AsyncAPI 3 document of every registered topic, generated now."""
    return await service.asyncapi(ctx)


@router.get("/asyncapi.yaml", response_class=Response, responses=YAML)
async def asyncapi_yaml(ctx: ContextDep) -> Response:
    """The same AsyncAPI document as YAML."""
    document = await service.asyncapi(ctx)
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    return Response(text, media_type="application/yaml")
