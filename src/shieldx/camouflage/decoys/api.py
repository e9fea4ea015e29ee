"""HTTP routes of the decoys: the bundled templates, previews of their answers, the running decoys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from shieldx.camouflage.access import Anyone, Camouflage, Reader
from shieldx.camouflage.decoys import previews
from shieldx.camouflage.decoys.schemas import DecoyList, PreviewRequest, RenderedAnswer, TemplateOut
from shieldx.platform.app import reads

router = APIRouter(prefix="/v1/camouflage")


@router.get(
    "/templates",
    tags=["templates"],
    response_model=list[TemplateOut],
    response_model_exclude_unset=True,
    summary="Bundled templates",
)
async def list_all(_: Anyone) -> list[dict[str, str]]:
    """Every bundled template's name, server, version and description."""
    return previews.templates()


@router.post(
    "/template/{name}",
    tags=["templates"],
    response_model=RenderedAnswer,
    response_model_exclude_unset=True,
    summary="Preview a template's answer",
)
@reads
async def preview(
    name: Annotated[str, Path(max_length=64)], body: PreviewRequest, _: Anyone
) -> dict[str, Any]:
    """A template's answer to the request described in the body."""
    return previews.preview(name, body)


@router.get(
    "/decoys",
    tags=["sessions"],
    response_model=DecoyList,
    response_model_exclude_unset=True,
    summary="Running decoys",
)
async def decoys(_: Reader, service: Camouflage) -> dict[str, Any]:
    """The configured decoys that are listening, with their counters."""
    return {
        "decoys": [
            {
                "name": name,
                "template": service.templates[name],
                "port": port,
                "requests": service.decoys[name].stats.requests,
                "open_connections": service.decoys[name].stats.open_connections,
            }
            for name, port in service.ports.items()
            if name in service.decoys
        ]
    }
