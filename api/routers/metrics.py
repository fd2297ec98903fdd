"""Prometheus metrics: ``GET /metrics`` for an admin (or a key of the admin role).

A scraper on the same host may use the metrics port instead (``SAMENOP_METRICS_PORT``,
bound to 127.0.0.1, no key; ``dispatch.metrics.serve_port``). Figures are described in
``core.metrics`` (observed in process) and ``dispatch.metrics`` (read at scrape time).
"""

from __future__ import annotations

import threading

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from api.deps import Admin
from api.state import AppState
from dispatch import metrics as dispatch_metrics

router = APIRouter(tags=["health"])
_lock = threading.Lock()


def registry_of(request: Request) -> CollectorRegistry:
    """This app's scrape registry, made on the first scrape (nothing before that)."""
    app_state = request.app.state
    found: CollectorRegistry | None = getattr(app_state, "metrics_registry", None)
    if found is None:
        with _lock:
            found = getattr(app_state, "metrics_registry", None)
            if found is None:
                state: AppState = app_state.samenop
                found = dispatch_metrics.scrape_registry(
                    lambda: state.sessions(),
                    redis_url=state.settings.redis_url,
                    queue_name=state.settings.queue_name,
                )
                app_state.metrics_registry = found
    return found


@router.get(
    "/metrics",
    include_in_schema=False,
    summary="Prometheus metrics (text exposition format)",
)
def metrics(request: Request, _caller: Admin) -> Response:
    body = dispatch_metrics.render(registry_of(request))
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
