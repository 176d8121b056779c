"""Health: no token needed; says which store answers and how far the log goes."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api import deps
from api.problems import Problem
from api.schemas import Health
from api.schemas.tokens import ViewLag

router = APIRouter(tags=["health"])


@router.get("/v1/health", response_model=Health,
            responses={503: deps.errors(503)[503]})
def health(request: Request) -> Health:
    c = deps.container(request)
    try:
        position = c.event_log.head()
        views = c.views.status(head=position)
    except Exception:
        raise Problem(503, "the event store does not answer", headers={"Retry-After": "5"}) \
            from None
    return Health(status="ok", store=c.store_kind, position=position,
                  projections_lag=max((v["lag"] for v in views), default=0),
                  projections=[ViewLag(**v) for v in views])
