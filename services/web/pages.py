"""Every page router, in one list, for the API process to serve beside the API."""

from __future__ import annotations

from fastapi import FastAPI

from . import (
    routes_auditor,
    routes_common,
    routes_facilitator,
    routes_manager,
    routes_participant,
)

ROUTERS = (
    routes_common.router,
    routes_participant.router,
    routes_facilitator.router,
    routes_manager.router,
    routes_auditor.router,
)


def install_pages(api: FastAPI) -> None:
    routes_common.install(api)
    for router in ROUTERS:
        api.include_router(router)
