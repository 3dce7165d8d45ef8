"""`POST /export/quote`: what an export would render and cost, from the one cost model (`render.cost`).

The cut is the worker's own decision (`render.chunking.plan_export_chunks`) under the deployment's
fan-out settings, so `chunks` is the number the worker will use. Nothing is rendered or stored.
"""

from __future__ import annotations

from export_api.models import QuoteEstimate, QuoteResponse
from export_common.settings import ServiceSettings
from render.chunking import plan_export_chunks
from render.cost import estimate, work_of
from render.model import ExportRequest


def quote(request: ExportRequest, settings: ServiceSettings) -> QuoteResponse:
    windows = plan_export_chunks(
        request,
        threshold_seconds=settings.fanout_threshold_seconds,
        max_chunks=settings.fanout_max_chunks,
        min_chunk_seconds=settings.fanout_min_chunk_seconds,
    )
    work = work_of(request, windows)
    cost = estimate(work, memory_mb=settings.worker_memory_mb)
    return QuoteResponse(
        durationSeconds=round(work.duration_seconds, 3),
        frames=work.frames,
        width=work.width,
        height=work.height,
        fps=request.to_composition().fps,
        chunks=max(1, len(windows)),
        estimate=QuoteEstimate(
            renderSeconds=round(cost.render_seconds, 2),
            wallSeconds=round(cost.wall_seconds, 2),
            lambdaGbSeconds=round(cost.lambda_gb_seconds, 2),
        ),
    )
