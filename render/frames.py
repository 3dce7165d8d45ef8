"""Output frame arithmetic: times become whole output frames (pure, stdlib only).

Frame k shows at k / fps and belongs to a clip when `start <= k / fps < end`, with a little slack for
float seconds. The planner, the fan-out split and the request model (a poster's time) all count frames
with these, and the API ships this module without the renderer.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from render.composition import Clip, Composition

# Frames are compared against clip edges with this slack so float rounding never adds or drops one.
EPSILON = 1e-4

FrameRange = tuple[int, int]  # output frames [first, end)


def frame_at(seconds: float, fps: float) -> int:
    """The first output frame shown at or after `seconds`."""
    return max(0, math.ceil((seconds - EPSILON) * fps))


def output_frames(composition: Composition) -> int:
    """The number of frames of the whole output (the single pass's and the chunks' together)."""
    return max(1, frame_at(composition.duration, composition.fps))


def transition_frames(clip: Clip, fps: float) -> FrameRange | None:
    """Output frames [first, end) of the span of the transition into `clip`: round(duration * fps)
    frames centred on the cut, half of them before it (before any clamping to the clips' frames)."""
    if clip.transition is None:
        return None
    frames = max(2, round(clip.transition.duration * fps))
    first = frame_at(clip.start, fps) - frames // 2
    return first, first + frames


def frame_shown_at(seconds: float, fps: float) -> int:
    """The output frame on screen at `seconds` (the last one that starts at or before it)."""
    return max(0, math.floor((seconds + EPSILON) * fps))
