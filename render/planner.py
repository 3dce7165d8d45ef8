"""Composition + probed media facts -> a render plan (pure: no processes, no files).

The plan decides what each input is (which file, from where, for how long), the drawing order and
which streams need scaling or mixing; the compiler only spells it in ffmpeg's terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from render.composition import Clip, ClipKind, Composition
from render.errors import InvalidMediaError
from render.probe import MediaInfo

# Read a little more than needed from each source so the trim filter, not the demuxer, makes the cut.
_READ_MARGIN_SECONDS = 0.25


@dataclass(frozen=True)
class InputSpec:
    path: Path
    seek: float = 0.0
    duration: float | None = None  # None: read to the end (stills)
    loop: bool = False  # start again from the beginning at the end of the file


@dataclass(frozen=True)
class PlannedVisual:
    clip: Clip
    input_index: int | None  # None for text
    still: bool = False  # a single picture shown for the whole clip
    first_frame_only: bool = False  # an image action whose source is a video
    needs_scale: bool = True


@dataclass(frozen=True)
class PlannedAudio:
    clip: Clip
    input_index: int


@dataclass(frozen=True)
class RenderPlan:
    width: int
    height: int
    fps: float
    background_color: str
    duration: float
    inputs: tuple[InputSpec, ...]
    visuals: tuple[PlannedVisual, ...]  # in drawing order: bottom first
    audios: tuple[PlannedAudio, ...]


def plan_render(composition: Composition, media: Mapping[str, MediaInfo], assets_dir: Path) -> RenderPlan:
    """Build the plan; InvalidMediaError when a source lacks what its action needs."""
    inputs: list[InputSpec] = []

    def add(spec: InputSpec) -> int:
        """Index of the input; identical inputs (same file, same window) are read once."""
        if spec not in inputs:
            inputs.append(spec)
        return inputs.index(spec)

    visuals: list[PlannedVisual] = []
    audios: list[PlannedAudio] = []
    # Bottom layer first: higher row index is further back; within a row, later clips on top.
    for clip in sorted(composition.clips, key=lambda c: (-c.layer, c.start)):
        if clip.kind is ClipKind.TEXT:
            visuals.append(PlannedVisual(clip, None, needs_scale=False))
            continue
        assert clip.source_key is not None  # noqa: S101 - guaranteed by the model
        info = media[clip.source_key]
        path = assets_dir / clip.source_key
        name = clip.src or clip.source_key
        if clip.kind is ClipKind.AUDIO:
            if not info.has_audio:
                if clip.audio_optional:
                    continue  # a video without sound: its audio track is silence
                raise InvalidMediaError(f"action {clip.id!r}: asset {name!r} has no audio stream")
            if clip.volume > 0 and not clip.muted:
                audios.append(PlannedAudio(clip, add(_timed_input(path, clip, info, name))))
            continue
        if not info.has_video:
            raise InvalidMediaError(f"action {clip.id!r}: asset {name!r} has no picture")
        assert clip.box is not None  # noqa: S101 - visuals always have a box
        needs_scale = (info.width, info.height) != (clip.box.width, clip.box.height)
        if clip.kind is ClipKind.IMAGE or info.is_still:
            visuals.append(
                PlannedVisual(
                    clip,
                    add(InputSpec(path)),
                    still=True,
                    first_frame_only=not info.is_still,
                    needs_scale=needs_scale,
                )
            )
            continue
        index = add(_timed_input(path, clip, info, name))
        visuals.append(PlannedVisual(clip, index, needs_scale=needs_scale))
        if info.has_audio and not clip.muted and clip.volume > 0:
            audios.append(PlannedAudio(clip, index))
    return RenderPlan(
        width=composition.width,
        height=composition.height,
        fps=composition.fps,
        background_color=composition.background_color,
        duration=composition.duration,
        inputs=tuple(inputs),
        visuals=tuple(visuals),
        audios=tuple(audios),
    )


def _timed_input(path: Path, clip: Clip, info: MediaInfo, name: str) -> InputSpec:
    """The source window a clip reads; a looping clip starts at its in-point modulo the source length."""
    read = clip.source_duration + _READ_MARGIN_SECONDS
    if clip.loop and info.duration:
        return InputSpec(path, seek=clip.trim_start % info.duration, duration=read, loop=True)
    if info.duration is not None and clip.trim_start >= info.duration:
        raise InvalidMediaError(
            f"action {clip.id!r}: its in-point (trimStart or offset) {clip.trim_start:g} s is past the end "
            f"of asset {name!r} ({info.duration:.3f} s long)"
        )
    return InputSpec(path, seek=clip.trim_start, duration=read)
