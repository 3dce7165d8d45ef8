"""Where a long export is cut into chunks (pure: only the composition's duration, rate and transitions).

The worker's split (`render.fanout`, through its engine) and the API's quote (`POST /export/quote`)
decide with this one function, so a quote names the chunk count the worker will use. Stdlib only: the
API ships it without the renderer.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from render import limits
from render.frames import output_frames, transition_frames

if TYPE_CHECKING:
    from render.composition import Composition
    from render.model import ExportRequest


@dataclass(frozen=True)
class ChunkWindow:
    """Output frames [start_frame, end_frame) of chunk `index` (0-based, in timeline order)."""

    index: int
    start_frame: int
    end_frame: int

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame


def plan_chunks(
    composition: Composition,
    *,
    threshold_seconds: float = limits.FANOUT_THRESHOLD_SECONDS,
    max_chunks: int = limits.FANOUT_MAX_CHUNKS,
    min_chunk_seconds: float = limits.FANOUT_MIN_CHUNK_SECONDS,
) -> tuple[ChunkWindow, ...]:
    """How to cut the output: `()` when it is not longer than `threshold_seconds` (render in one pass).

    Otherwise as many chunks as fit (at most `max_chunks`, each at least `min_chunk_seconds` and at
    least two), of equal length to within one frame, covering every output frame once, except that an
    edge inside a transition's span moves to the nearer end of the span (a transition is drawn whole
    by one chunk). Pure: only the composition's duration, frame rate and transitions count, nothing
    is probed.
    """
    fps = composition.fps
    total = output_frames(composition)
    count = min(max_chunks, int(total / fps // max(min_chunk_seconds, 1 / fps)))
    if total / fps <= threshold_seconds or count < 2:
        return ()
    edges = [total * i // count for i in range(count + 1)]
    edges = [edges[0], *(_outside_transitions(edge, composition) for edge in edges[1:-1]), edges[-1]]
    return tuple(ChunkWindow(i, first, end) for i, (first, end) in enumerate(pairwise(edges)))


def _outside_transitions(edge: int, composition: Composition) -> int:
    """A chunk edge moved out of any transition's span, to the nearer end of the span (at most a
    second: a span is at most 2 s), so that a transition is always drawn whole by one chunk."""
    for clip in composition.clips:
        span = transition_frames(clip, composition.fps)
        if span is not None and span[0] < edge < span[1]:
            return span[0] if edge - span[0] <= span[1] - edge else span[1]
    return edge


def plan_export_chunks(
    request: ExportRequest,
    *,
    threshold_seconds: float = limits.FANOUT_THRESHOLD_SECONDS,
    max_chunks: int = limits.FANOUT_MAX_CHUNKS,
    min_chunk_seconds: float = limits.FANOUT_MIN_CHUNK_SECONDS,
) -> tuple[ChunkWindow, ...]:
    """The chunks of an export request (`plan_chunks` on its composition); `()` for an audio-only
    format: its one audio pass (mix and AAC encode, about 0.04 s per output second) is short beside
    any fan-out's start-up and join."""
    if not request.output.format.has_video:
        return ()
    return plan_chunks(
        request.to_composition(),
        threshold_seconds=threshold_seconds,
        max_chunks=max_chunks,
        min_chunk_seconds=min_chunk_seconds,
    )
