"""The Melies dialect of `editorData`: what `effect0`, `effect1` and `effect2` actions mean.

Melies (`melies-video-editor`) writes the same rows and actions as react-timeline-editor, but its player
gives them a meaning of its own, which an export must reproduce:

* `effect1` is a video's **picture only**. One picture is on screen at a time: among the `effect1`
  actions under the playhead the highest `data.videoLayer` wins (default 0; on equal layers the earlier
  row), fitted `contain` on a black stage, so a 4:3 clip over a 16:9 one shows black bars, not the clip
  below. Gaps of at most `MICRO_GAP_SECONDS` between two shown pictures hold the previous frame.
* `effect2` is the audio track of a video file (silence when the file has none); `effect0` a
  standalone audio clip. Both loop: at timeline time t the action plays source position
  `(t - start + offset) mod sourceDuration`, and all of them mix without normalisation.
* `data.offset` is the in-point, the same as the generic `trimStart`.

This module turns those rules into plain `Clip`s (the stage is cut into the intervals where one action
is visible), so the planner and compiler need no notion of the dialect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from itertools import pairwise
from typing import Final

from render.composition import Box, Clip, ClipKind, Fit

# The player holds the last frame across gaps this short (editing leaves them between cut clips).
MICRO_GAP_SECONDS: Final = 0.1
STAGE_COLOR: Final = "#000000ff"
# Boundaries closer than this are the same instant (float seconds from a JSON editor).
_EPSILON: Final = 1e-6


class MeliesEffect(StrEnum):
    AUDIO = "effect0"
    VIDEO_PICTURE = "effect1"
    VIDEO_AUDIO = "effect2"


EFFECT_KINDS: Mapping[MeliesEffect, ClipKind] = {
    MeliesEffect.AUDIO: ClipKind.AUDIO,
    MeliesEffect.VIDEO_PICTURE: ClipKind.VIDEO,
    MeliesEffect.VIDEO_AUDIO: ClipKind.AUDIO,
}


def effect_of(effect_id: str | None) -> MeliesEffect | None:
    if effect_id is None:
        return None
    try:
        return MeliesEffect(effect_id.strip().lower())
    except ValueError:
        return None


def audio_clip(clip: Clip, effect: MeliesEffect) -> Clip:
    """An `effect0`/`effect2` action: its source loops; a video without sound plays silence."""
    return replace(clip, loop=True, audio_optional=effect is MeliesEffect.VIDEO_AUDIO)


@dataclass(frozen=True)
class StageAction:
    """An `effect1` action waiting for the stage to be resolved; `clip` carries its source and in-point."""

    clip: Clip
    row: int
    video_layer: int


def stage_clips(actions: Sequence[StageAction], *, width: int, height: int) -> list[Clip]:
    """The pictures the player shows, as non-overlapping full-frame clips on a black matte."""
    if not actions:
        return []
    instants = sorted({a.clip.start for a in actions} | {a.clip.end for a in actions})
    shown: list[tuple[float, float, StageAction]] = []
    for begin, finish in pairwise(instants):
        if finish - begin <= _EPSILON:
            continue
        covering = [
            a for a in actions if a.clip.start <= begin + _EPSILON and a.clip.end >= finish - _EPSILON
        ]
        if not covering:
            continue
        # Highest videoLayer, then the earlier row, then the later start (the most recently placed).
        winner = max(covering, key=lambda a: (a.video_layer, -a.row, a.clip.start))
        if shown and shown[-1][2] is winner and abs(shown[-1][1] - begin) <= _EPSILON:
            shown[-1] = (shown[-1][0], finish, winner)
        else:
            shown.append((begin, finish, winner))
    frame = Box(0, 0, width, height)
    clips = [_segment(a.clip, begin, finish, frame) for begin, finish, a in shown]
    return _hold_across_micro_gaps(clips)


def _segment(clip: Clip, begin: float, finish: float, frame: Box) -> Clip:
    return replace(
        clip,
        start=begin,
        end=finish,
        trim_start=clip.trim_start + (begin - clip.start) * clip.speed,
        muted=True,
        box=frame,
        fit=Fit.CONTAIN,
        matte=STAGE_COLOR,
        opacity=1.0,
    )


def _hold_across_micro_gaps(clips: Sequence[Clip]) -> list[Clip]:
    held = list(clips)
    for i in range(len(held) - 1):
        gap = held[i + 1].start - held[i].end
        if _EPSILON < gap <= MICRO_GAP_SECONDS + _EPSILON:
            held[i] = replace(held[i], end=held[i + 1].start, hold=gap)
    return held
