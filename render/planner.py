"""Composition + probed media facts -> a render plan (pure: no processes, no files).

The plan decides what each input is (which file, from where, for how long), and builds the picture
with the least work per frame. The **base** picture is a concatenation of prepared segments: in each
interval, the topmost visual that covers the whole frame opaquely (or the background where none does).
Only what lies above the base in an interval is **overlaid**, and only there; what lies below an
opaque visual is never decoded for that interval. Each base segment has its own input, seeked to where
the segment starts, so no source is decoded from its beginning.

Times become output frame numbers here: frame k shows at k / fps, and belongs to a clip when
`start <= k / fps < end` (with a little slack for float seconds), so a segment is a whole number of
frames and the concatenation never drifts. The compiler only spells the plan in ffmpeg's terms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from itertools import pairwise
from pathlib import Path

from render.composition import Box, Clip, ClipKind, Composition, Fit
from render.errors import InvalidMediaError
from render.frames import EPSILON, FrameRange, frame_at, transition_frames
from render.probe import MediaInfo

# Read a little more than needed from each source so the trim filter, not the demuxer, makes the cut.
READ_MARGIN_SECONDS = 0.25
# Parts of one clip closer than this in its source share one input (see `_base_segments`).
SHARED_INPUT_GAP_SECONDS = 10.0


@dataclass(frozen=True)
class InputSpec:
    path: Path
    seek: float = 0.0
    duration: float | None = None  # None: read to the end (stills)
    loop: bool = False  # start again from the beginning at the end of the file


@dataclass(frozen=True)
class PlannedVisual:
    """A visual drawn over the base, in the frame ranges where nothing opaque lies above it."""

    clip: Clip
    input_index: int | None  # None for text and captions
    still: bool = False  # a single picture shown for the whole clip
    first_frame_only: bool = False  # an image action whose source is a video
    needs_scale: bool = True
    windows: tuple[FrameRange, ...] = ()


@dataclass(frozen=True)
class BaseSegment:
    """Output frames [first, end) of the base picture: part of one opaque video, or the background.

    A video segment reads `source_frames` frames from its input, from `input_offset` seconds in (0 for
    an input seeked to the segment's start); any frames after those repeat the last one (a held frame,
    or a source a little shorter than said).
    A contained picture of another aspect ratio is padded to the frame in `pad_color` (its matte, or
    the background when nothing lies below it).
    """

    first: int
    end: int
    clip: Clip | None = None
    input_index: int | None = None
    input_offset: float = 0.0  # seconds into the input where the segment starts (a shared input)
    frame_rate: float | None = None  # the source's frames per second on the timeline (after speed)
    needs_scale: bool = False
    source_frames: int = 0
    pad_color: str | None = None  # the bars' colour, when a contained picture leaves bars
    # Seconds its first source frame was already on screen before the segment starts (a fan-out chunk
    # cuts into a clip at the frame on screen there, so each source frame keeps its time).
    lead: float = 0.0
    hold_start: int = 0  # frames showing the first source frame before it plays (a transition's far side)
    transition: PlannedTransition | None = None  # frames [first, end) of a transition's span

    @property
    def frames(self) -> int:
        return self.end - self.first


@dataclass(frozen=True)
class PlannedTransition:
    """Output frames [first, end) centred on a cut, drawn by xfade from `outgoing` (the clip before the
    cut, read on past its end) to `incoming` (the clip after it, read from before its start). Both sides
    are prepared as base segments of the whole span; where a source has no media beyond its edge, its
    edge frame is held. A base segment may show only part of the span (an opaque picture on top)."""

    kind: str
    first: int
    end: int
    outgoing: BaseSegment
    incoming: BaseSegment
    cut: int = 0  # the first frame of the incoming clip

    @property
    def frames(self) -> int:
        return self.end - self.first


@dataclass(frozen=True)
class PlannedAudio:
    """An audio track. Under a transition it plays on past the clip's end (`tail` seconds) or from before
    its start (`lead` seconds of source, after `lead_silence` seconds where the source has none), fading
    over the transition's span with an equal-power curve (`crossfade_in`, `crossfade_out` seconds)."""

    clip: Clip
    input_index: int
    lead: float = 0.0
    lead_silence: float = 0.0
    tail: float = 0.0
    crossfade_in: float = 0.0
    crossfade_out: float = 0.0
    # Only in a window of the timeline (``render.audio_windows``): the track enters the plan's output at
    # sample `at_sample` (None: at its clip's place on the timeline) with its first `skip_samples`
    # (of the track's own time, lead silence included) cut off; `seeked`: the input's in-point was moved
    # past the cut source seconds already, else the track drops them itself, once at its speed (a
    # looping input, or a speed change: atempo's output depends on where it starts).
    at_sample: int | None = None
    skip_samples: int = 0
    seeked: bool = False


@dataclass(frozen=True)
class RenderPlan:
    width: int
    height: int
    fps: float
    background_color: str
    duration: float
    inputs: tuple[InputSpec, ...]
    base: tuple[BaseSegment, ...]  # in time order, covering every output frame
    overlays: tuple[PlannedVisual, ...]  # in drawing order: bottom first
    audios: tuple[PlannedAudio, ...]

    @property
    def frames(self) -> int:
        return self.base[-1].end


class _Cover(Enum):
    NONE = "none"  # leaves parts of the frame to what lies below
    OPAQUE = "opaque"  # every pixel of the frame, whatever lies below
    WITH_BACKGROUND = "with background"  # contained: the frame is full once the background fills the bars


@dataclass
class _Visual:
    clip: Clip
    info: MediaInfo | None  # None for text and captions
    path: Path | None
    still: bool
    first_frame_only: bool
    needs_scale: bool
    cover: _Cover
    frames: FrameRange  # where it is on screen
    windows: list[FrameRange] = field(default_factory=list)  # where it must be overlaid


class _Inputs:
    """The input list; identical inputs (same file, same window) are read once."""

    def __init__(self) -> None:
        self.specs: list[InputSpec] = []

    def add(self, spec: InputSpec) -> int:
        if spec not in self.specs:
            self.specs.append(spec)
        return self.specs.index(spec)


def plan_render(
    composition: Composition, media: Mapping[str, MediaInfo], assets_dir: Path, *, frames: int | None = None
) -> RenderPlan:
    """Build the plan; InvalidMediaError when a source lacks what its action needs.

    `frames` sets the output's length (a fan-out chunk is its window, whatever its clips' ends);
    by default the output lasts until the last clip ends.
    """
    fps = composition.fps
    total = frames if frames is not None else max(1, frame_at(composition.duration, fps))
    frame_box = Box(0, 0, composition.width, composition.height)
    visuals: list[_Visual] = []
    audio_clips: list[tuple[Clip, MediaInfo, Path]] = []
    # Bottom layer first: higher row index is further back; within a row, later clips on top.
    for clip in sorted(composition.clips, key=lambda c: (-c.layer, c.start)):
        if clip.kind in (ClipKind.TEXT, ClipKind.CAPTIONS):
            first, end = frame_at(clip.start, fps), frame_at(clip.end, fps)
            visuals.append(_Visual(clip, None, None, False, False, False, _Cover.NONE, (first, end)))
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
            _check_in_point(clip, info, name)
            audio_clips.append((clip, info, path))
            continue
        if not info.has_video:
            raise InvalidMediaError(f"action {clip.id!r}: asset {name!r} has no picture")
        assert clip.box is not None  # noqa: S101 - visuals always have a box
        still = clip.kind is ClipKind.IMAGE or info.is_still
        if not still:
            _check_in_point(clip, info, name)
        needs_scale = (info.width, info.height) != (clip.box.width, clip.box.height)
        visuals.append(
            _Visual(
                clip,
                info,
                path,
                still=still,
                first_frame_only=still and not info.is_still,
                needs_scale=needs_scale,
                cover=_Cover.NONE if still else _cover(clip, info, frame_box, needs_scale=needs_scale),
                frames=(frame_at(clip.start, fps), frame_at(_visible_end(clip, info, still=still), fps)),
            )
        )
        if info.has_audio and not clip.muted and clip.volume > 0:
            audio_clips.append((clip, info, path))

    spans = _transition_spans(visuals, fps)
    inputs = _Inputs()
    base = _stack(visuals, total, composition, inputs, spans)
    overlays = []
    for visual in visuals:
        if not visual.windows:
            continue
        index = None
        if visual.path is not None and visual.info is not None:
            spec = (
                InputSpec(visual.path)
                if visual.still
                else _timed_input(visual.path, visual.clip, visual.info)
            )
            index = inputs.add(spec)
        overlays.append(
            PlannedVisual(
                visual.clip,
                index,
                still=visual.still,
                first_frame_only=visual.first_frame_only,
                needs_scale=visual.needs_scale,
                windows=tuple(visual.windows),
            )
        )
    audios = tuple(
        _planned_audio(clip, info, path, inputs, spans=spans, fps=fps)
        for clip, info, path in audio_clips
        if clip.volume > 0 and not clip.muted
    )
    return RenderPlan(
        width=composition.width,
        height=composition.height,
        fps=fps,
        background_color=composition.background_color,
        duration=total / fps if frames is not None else composition.duration,
        inputs=tuple(inputs.specs),
        base=tuple(base),
        overlays=tuple(overlays),
        audios=audios,
    )


@dataclass(frozen=True)
class _Span:
    """A transition's span of output frames [first, end), the cut at `cut`."""

    kind: str
    first: int
    cut: int
    end: int
    outgoing: _Visual
    incoming: _Visual


def _transition_spans(visuals: list[_Visual], fps: float) -> list[_Span]:
    """Each transition centred on its cut: round(duration * fps) frames, half of them before the cut."""
    spans = []
    for incoming in visuals:
        transition = incoming.clip.transition
        if transition is None or incoming.info is None:
            continue
        cut = frame_at(incoming.clip.start, fps)
        outgoing = next(
            (
                v
                for v in visuals
                if v is not incoming
                and v.info is not None
                and v.clip.layer == incoming.clip.layer
                and v.clip.kind is ClipKind.VIDEO
                and frame_at(v.clip.end, fps) == cut
            ),
            None,
        )
        if outgoing is None:
            continue  # the model pairs every transition; a chunk may hold only one of its sides
        span = transition_frames(incoming.clip, fps)
        assert span is not None  # noqa: S101 - the clip has a transition
        first, end = max(outgoing.frames[0], span[0]), min(incoming.frames[1], span[1])
        if first < cut < end:
            spans.append(_Span(transition.kind, first, cut, end, outgoing, incoming))
    return spans


def _planned_audio(
    clip: Clip, info: MediaInfo, path: Path, inputs: _Inputs, *, spans: list[_Span], fps: float
) -> PlannedAudio:
    """A clip's audio; a transition's sides play on into its span and fade across it (equal power)."""
    tail = lead = silence = fade_in = fade_out = 0.0
    for span in spans:
        seconds = (span.end - span.first) / fps
        if span.outgoing.clip is clip:
            tail, fade_out = span.end / fps - clip.end, seconds
        if span.incoming.clip is clip:
            wanted = clip.start - span.first / fps
            lead = min(wanted, clip.trim_start / clip.speed)
            silence, fade_in = wanted - lead, seconds
    if not (lead or tail):
        return PlannedAudio(clip, inputs.add(_timed_input(path, clip, info)))
    spec = InputSpec(
        path,
        seek=clip.trim_start - lead * clip.speed,
        duration=(lead + clip.duration + tail) * clip.speed + READ_MARGIN_SECONDS,
    )
    return PlannedAudio(clip, inputs.add(spec), lead, silence, tail, fade_in, fade_out)


def _cover(clip: Clip, info: MediaInfo, frame: Box, *, needs_scale: bool) -> _Cover:
    """How much of the frame a moving picture covers, whatever lies below it."""
    if clip.box != frame or clip.opacity < 1:
        return _Cover.NONE
    if clip.matte is not None or not _has_bars(clip, info, frame, needs_scale=needs_scale):
        return _Cover.OPAQUE
    return _Cover.WITH_BACKGROUND


def _has_bars(clip: Clip, info: MediaInfo, box: Box, *, needs_scale: bool) -> bool:
    """Whether a picture contained in its box leaves bars (another aspect ratio than the box's)."""
    return clip.fit is Fit.CONTAIN and needs_scale and info.width * box.height != info.height * box.width


def _visible_end(clip: Clip, info: MediaInfo, *, still: bool) -> float:
    """A video shorter than its clip leaves the screen when it ends (a held last frame stays)."""
    if still or clip.hold > 0 or info.duration is None:
        return clip.end
    return min(clip.end, clip.start + (info.duration - clip.trim_start) / clip.speed)


def _stack(
    visuals: list[_Visual], total: int, composition: Composition, inputs: _Inputs, spans: list[_Span]
) -> list[BaseSegment]:
    """Cut the output at every visual's edges; per interval, pick the base and note what is overlaid.

    In a transition's span the base is the transition where its side on screen would be the base (or
    is a contained picture with nothing opaque above it: the span pads it with the background)."""
    span_edges = {f for s in spans for f in (s.first, s.cut, s.end)}
    edges = sorted({0, total} | {f for v in visuals for f in v.frames if 0 < f < total} | span_edges)
    edges = [f for f in edges if 0 <= f <= total]
    pieces: list[tuple[int, int, _Visual | _Span | None]] = []
    for first, end in pairwise(edges):
        on_screen = [v for v in visuals if v.frames[0] <= first and v.frames[1] >= end]
        span = next((s for s in spans if s.first <= first and end <= s.end), None)
        sides = (span.outgoing, span.incoming) if span is not None else ()
        base: _Visual | _Span | None = None
        above: list[_Visual] = []
        for depth, visual in enumerate(reversed(on_screen)):  # topmost first
            alone = depth == len(on_screen) - 1
            if span is not None and visual in sides and visual.cover is not _Cover.NONE:
                base = span
                break
            if visual.cover is _Cover.OPAQUE or (visual.cover is _Cover.WITH_BACKGROUND and alone):
                base = visual
                break
            above.append(visual)
        if span is not None and base is not span and not any(v in sides for v in on_screen):
            # the side whose clip is not on screen here still shows through the transition
            side_hidden = isinstance(base, _Visual) and base.cover is _Cover.OPAQUE
            if not side_hidden:
                base = span
        for visual in above:
            _extend(visual.windows, first, end)
        if pieces and pieces[-1][2] is base and pieces[-1][1] == first:
            pieces[-1] = (pieces[-1][0], end, base)
        else:
            pieces.append((first, end, base))
    return _base_segments(pieces, composition, inputs)


def _extend(windows: list[FrameRange], first: int, end: int) -> None:
    if windows and windows[-1][1] == first:
        windows[-1] = (windows[-1][0], end)
    else:
        windows.append((first, end))


@dataclass
class _Read:
    """What one base segment reads of its clip's source, in source seconds."""

    first: int
    end: int
    visual: _Visual
    seek: float
    seconds: float
    frames: int
    lead: float


def _base_segments(
    pieces: list[tuple[int, int, _Visual | _Span | None]], composition: Composition, inputs: _Inputs
) -> list[BaseSegment]:
    """Each piece as a segment; later parts of a file close ahead in its source share one input.

    A clip cut in two by another picture on top (or split into actions that continue at their offset)
    is read once, across the skipped stretch, when that stretch is at most `SHARED_INPUT_GAP_SECONDS`
    of source: decoding it costs less than a second decoder's memory. Farther apart, or backwards,
    each part seeks on its own.
    """
    fps = composition.fps
    reads: list[_Read | None] = []
    for first, end, visual in pieces:
        if not isinstance(visual, _Visual) or visual.info is None:
            reads.append(None)
            continue
        clip = visual.clip
        # A clip that starts before the output (a chunk's, see render.fanout) is read from its in-point.
        lead = -clip.start if first == 0 and clip.start < 0 else 0.0
        begins = max(0.0, first / fps - clip.start) - lead  # seconds into the clip
        source_end = frame_at(min(_visible_end(clip, visual.info, still=False), clip.end - clip.hold), fps)
        frames = max(1, min(end, source_end) - first)
        reads.append(
            _Read(
                first,
                end,
                visual,
                clip.trim_start + begins * clip.speed,
                (frames / fps + lead) * clip.speed,
                frames,
                lead,
            )
        )
    groups: list[list[_Read]] = []
    latest: dict[Path, list[_Read]] = {}  # per file, the group a following part may join
    for read in reads:
        if read is None or read.visual.path is None:
            continue
        group = latest.get(read.visual.path)
        if (
            group is not None
            and 0 <= read.seek - (group[-1].seek + group[-1].seconds) <= SHARED_INPUT_GAP_SECONDS
        ):
            group.append(read)
        else:
            group = [read]
            groups.append(group)
            latest[read.visual.path] = group
    placed: dict[int, tuple[int, float]] = {}  # id(read) -> (input index, offset into that input)
    for group in groups:
        head, tail = group[0], group[-1]
        assert head.visual.path is not None  # noqa: S101 - media visuals have a path
        spec = InputSpec(
            head.visual.path,
            seek=head.seek,
            duration=tail.seek + tail.seconds - head.seek + READ_MARGIN_SECONDS,
        )
        index = inputs.add(spec)
        for read in group:
            placed[id(read)] = (index, read.seek - head.seek)
    frame = Box(0, 0, composition.width, composition.height)
    segments = []
    planned: dict[int, PlannedTransition] = {}
    for (first, end, piece), read in zip(pieces, reads, strict=True):
        if isinstance(piece, _Span):
            if id(piece) not in planned:
                planned[id(piece)] = _planned_transition(piece, composition, inputs)
            transition = planned[id(piece)]
            segments.append(BaseSegment(first, end, transition.outgoing.clip, transition=transition))
            continue
        if read is None:
            segments.append(BaseSegment(first, end))
            continue
        visual, clip = read.visual, read.visual.clip
        assert visual.info is not None  # noqa: S101 - set for every media visual
        bars = _has_bars(clip, visual.info, frame, needs_scale=visual.needs_scale)
        index, offset = placed[id(read)]
        segments.append(
            BaseSegment(
                first,
                end,
                clip,
                index,
                input_offset=offset,
                frame_rate=visual.info.fps * clip.speed if visual.info.fps else None,
                needs_scale=visual.needs_scale,
                source_frames=read.frames,
                pad_color=(clip.matte or composition.background_color) if bars else None,
                lead=read.lead,
            )
        )
    return segments


def _planned_transition(span: _Span, composition: Composition, inputs: _Inputs) -> PlannedTransition:
    """Both sides of a transition as segments of its whole span, each on an input of its own."""
    sides = []
    for visual in (span.outgoing, span.incoming):
        info, clip, path = visual.info, visual.clip, visual.path
        assert info is not None and path is not None  # noqa: S101 - transitions join videos
        fps = composition.fps
        seek = clip.trim_start + (span.first / fps - clip.start) * clip.speed
        held = 0
        if seek < 0:  # no media before the in-point: hold the first frame until the source starts
            held = min(span.end - span.first - 1, math.ceil((-seek / clip.speed - EPSILON) * fps))
            seek = clip.trim_start + ((span.first + held) / fps - clip.start) * clip.speed
        frames = span.end - span.first - held
        if info.duration is not None:  # no media past the source's end: its last frame is held
            available = math.ceil((info.duration - seek) / clip.speed * fps - EPSILON)
            frames = max(1, min(frames, available))
        spec = InputSpec(path, seek=seek, duration=frames / fps * clip.speed + READ_MARGIN_SECONDS)
        frame = Box(0, 0, composition.width, composition.height)
        bars = _has_bars(clip, info, frame, needs_scale=visual.needs_scale)
        sides.append(
            BaseSegment(
                span.first,
                span.end,
                clip,
                inputs.add(spec),
                frame_rate=info.fps * clip.speed if info.fps else None,
                needs_scale=visual.needs_scale,
                source_frames=frames,
                pad_color=(clip.matte or composition.background_color) if bars else None,
                hold_start=held,
            )
        )
    return PlannedTransition(span.kind, span.first, span.end, sides[0], sides[1], span.cut)


def _timed_input(path: Path, clip: Clip, info: MediaInfo) -> InputSpec:
    """The source window a clip reads; a looping clip that outlasts its source starts at its in-point
    modulo the source length (one that fits reads like any other, and may share an input)."""
    read = clip.source_duration + READ_MARGIN_SECONDS
    if clip.loop and info.duration and clip.trim_start + clip.source_duration > info.duration:
        return InputSpec(path, seek=clip.trim_start % info.duration, duration=read, loop=True)
    return InputSpec(path, seek=clip.trim_start, duration=read)


def _check_in_point(clip: Clip, info: MediaInfo, name: str) -> None:
    if not clip.loop and info.duration is not None and clip.trim_start >= info.duration:
        raise InvalidMediaError(
            f"action {clip.id!r}: its in-point (trimStart or offset) {clip.trim_start:g} s is past the end "
            f"of asset {name!r} ({info.duration:.3f} s long)"
        )
