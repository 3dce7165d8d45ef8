"""Render plan -> one ffmpeg argv with a single filter graph (built with ffmpeg-python).

Pure apart from naming the text files it needs: it returns them as data and the caller writes them,
so the argv can be snapshot-tested without running anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ffmpeg

from render import ass
from render.colors import to_ffmpeg
from render.composition import Align, Box, CaptionPosition, ClipKind, Fit
from render.confinement import DEMUXER_ALLOW_LIST
from render.encoding import (
    AUDIO_CHANNEL_LAYOUT,
    AUDIO_SAMPLE_RATE,
    CONTAINER_OPTIONS,
    DECODER_THREADS,
    QUALITY_SETTINGS,
    Quality,
    audio_options,
)
from render.encoding import (
    video_options as video_options_of,
)
from render.frames import EPSILON, FrameRange, frame_at
from render.planner import BaseSegment, PlannedAudio, PlannedVisual, RenderPlan

# Transitions that dip through a colour, drawn with `fade` on each side of the cut.
DIP_COLORS = {"fadeblack": "black", "fadewhite": "white"}
GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-y", "-v", "error", "-progress", "pipe:1", "-nostats")


@dataclass(frozen=True)
class PosterShot:
    """A JPEG of frame `frame` (0-based, of this command's output) written to `path` by the same graph."""

    frame: int
    path: Path


# An input of a command without picture: its demuxer drops every packet but audio before it is queued
# (`-vn -sn -dn`; the bytes are still read), a chunk's sound's and an m4a's video sources cost less.
_AUDIO_ONLY_INPUT: dict[str, None] = {"vn": None, "sn": None, "dn": None}

# The poster's JPEG quality (ffmpeg's -q:v, 2 = best .. 31): the look of the frame, at a few hundred KB.
POSTER_JPEG_QUALITY = "3"


@dataclass(frozen=True)
class CompiledCommand:
    argv: list[str]
    files: dict[Path, str] = field(default_factory=dict)  # text files to write before running


def _num(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


class _StreamPool:
    """Hands out input streams; a stream used by several clips goes through (a)split.

    ffmpeg-python merges equal nodes, so two clips reading the same input with the same
    options would otherwise become one node with two outgoing edges.
    """

    def __init__(self, inputs: list[Any]) -> None:
        self._inputs = inputs
        self._uses: dict[tuple[int, str], int] = {}
        self._splits: dict[tuple[int, str], tuple[Any, int]] = {}

    def count(self, index: int, kind: str) -> None:
        self._uses[index, kind] = self._uses.get((index, kind), 0) + 1

    def take(self, index: int, kind: str) -> Any:
        stream = self._inputs[index].video if kind == "v" else self._inputs[index].audio
        if self._uses.get((index, kind), 1) <= 1:
            return stream
        node, used = self._splits.get((index, kind)) or (
            stream.filter_multi_output("split" if kind == "v" else "asplit"),
            0,
        )
        self._splits[index, kind] = (node, used + 1)
        return node.stream(used)


def _enable(windows: tuple[FrameRange, ...], fps: float) -> str:
    """An `enable` expression true on the given output frames."""
    return "+".join(
        f"gte(t,{_num(first / fps - EPSILON)})*lt(t,{_num(end / fps - EPSILON)})" for first, end in windows
    )


def compile_plan(
    plan: RenderPlan,
    output_path: Path,
    *,
    workdir: Path,
    ffmpeg_bin: str = "ffmpeg",
    video: bool = True,
    audio: bool = True,
    video_options: Mapping[str, str] | None = None,
    quality: Quality = Quality.STANDARD,
    poster: PosterShot | None = None,
    container: Mapping[str, str] = CONTAINER_OPTIONS,
) -> CompiledCommand:
    """Return the argv (progress on stdout via `-progress pipe:1`) and the text files it reads.

    `video=False` or `audio=False` leaves that stream out (a fan-out task renders one of them, an m4a
    export has no video); `video_options` adds encoder options (a chunk's keyframe rules) after those
    of `quality` (`render.encoding.QUALITY_SETTINGS`). `poster` splits the finished picture and writes
    one of its frames as a JPEG, a second output of the same graph (nothing is decoded twice).
    `container` replaces the mp4 muxer's options (a chunk's sound is written as ADTS, to splice).
    Text is drawn by libass from ASS files (`render.ass`), returned in `files`.
    """
    files: dict[Path, str] = {}
    inputs = [
        ffmpeg.input(
            f"file:{spec.path}",
            protocol_whitelist="file",
            format_whitelist=DEMUXER_ALLOW_LIST,
            threads=DECODER_THREADS,
            **({} if video else _AUDIO_ONLY_INPUT),
            **({"ss": _num(spec.seek)} if spec.seek else {}),
            **({"t": _num(spec.duration)} if spec.duration is not None else {}),
            **({"stream_loop": -1} if spec.loop else {}),
        )
        for spec in plan.inputs
    ]
    streams = _StreamPool(inputs)
    if video:
        for segment in plan.base:
            if segment.transition is not None:
                streams.count(segment.transition.outgoing.input_index or 0, "v")
                streams.count(segment.transition.incoming.input_index or 0, "v")
            elif segment.input_index is not None:
                streams.count(segment.input_index, "v")
        for visual in plan.overlays:
            if visual.input_index is not None:
                streams.count(visual.input_index, "v")
    if audio:
        for track in plan.audios:
            streams.count(track.input_index, "a")
    outputs: list[Any] = []
    options: dict[str, str] = {}
    shot: Any = None
    if video:
        picture = _picture(plan, streams, files, workdir)
        if poster is not None:
            both = picture.filter_multi_output("split")
            picture = both.stream(0)
            # the one frame, in full-range YUV as JPEG wants it (a scale of one frame, not of the video)
            shot = both.stream(1).filter("select", f"eq(n,{poster.frame})").filter("scale", out_range="full")
        outputs.append(picture)
        options |= {**video_options_of(quality), **(video_options or {})}
    if audio:
        outputs.append(_sound(plan, streams))
        options |= audio_options(quality)
    options |= container
    if video:
        options["r"] = _num(plan.fps)
    out = ffmpeg.output(*outputs, f"file:{output_path}", **options, t=_num(plan.duration))
    if shot is not None and poster is not None:
        jpeg = ffmpeg.output(
            shot, f"file:{poster.path}", **{"frames:v": "1", "q:v": POSTER_JPEG_QUALITY, "update": "1"}
        )
        out = ffmpeg.merge_outputs(out, jpeg)
    args: list[str] = ffmpeg.get_args(out)
    scaler = QUALITY_SETTINGS[quality].scaler
    if scaler is not None and "-filter_complex" in args:
        # a graph's leading `sws_flags=...;` sets the flags of every scale filter in it
        at = args.index("-filter_complex") + 1
        args[at] = f"sws_flags={scaler};{args[at]}"
    return CompiledCommand([ffmpeg_bin, *GLOBAL_ARGS, *args], files)


def _picture(plan: RenderPlan, streams: _StreamPool, files: dict[Path, str], workdir: Path) -> Any:
    """The video: the base, then every overlay and text in drawing order."""
    video = _base(plan, streams)
    for visual in plan.overlays:
        if visual.clip.kind in (ClipKind.TEXT, ClipKind.CAPTIONS):
            path = workdir / f"text-{len(files)}.ass"
            text = visual.clip.kind is ClipKind.TEXT
            files[path] = _text_document(visual, plan) if text else _captions_document(visual, plan)
            video = video.filter("ass", filename=str(path))
        else:
            assert visual.input_index is not None  # noqa: S101 - media visuals have an input
            video = _overlay(video, streams.take(visual.input_index, "v"), visual, plan.fps)
    return video.filter("format", "yuv420p")


def _sound(plan: RenderPlan, streams: _StreamPool) -> Any:
    """The audio: silence for the whole output, every track mixed in without normalisation."""
    # Sources are inputs (lavfi), not filters inside the graph: ffmpeg-python's public API has no
    # filter without an input stream.
    audio = ffmpeg.input(
        f"anullsrc=r={AUDIO_SAMPLE_RATE}:cl={AUDIO_CHANNEL_LAYOUT}:d={_num(plan.duration)}", f="lavfi"
    ).audio
    tracks = [_audio_track(streams.take(a.input_index, "a"), a) for a in plan.audios]
    if tracks:
        audio = ffmpeg.filter(
            [audio, *tracks],
            "amix",
            inputs=len(tracks) + 1,
            duration="first",
            dropout_transition=0,
            normalize=0,
        )
    return audio


def _base(plan: RenderPlan, streams: _StreamPool) -> Any:
    """The base picture: prepared segments joined by `concat`, each exactly its number of frames."""
    gaps = sum(1 for segment in plan.base if segment.clip is None)
    backgrounds = iter(_copies(_background(plan), gaps) if gaps else [])
    parts = []
    for segment in plan.base:
        if segment.clip is None:
            stream = (
                next(backgrounds)
                .filter("trim", start_frame=segment.first, end_frame=segment.end)
                .filter("setpts", "PTS-STARTPTS")
            )
        elif segment.transition is not None:
            stream = _transition(streams, segment, plan)
        else:
            assert segment.input_index is not None  # noqa: S101 - video segments have an input
            stream = _video_segment(streams.take(segment.input_index, "v"), segment, plan)
        parts.append(stream.filter("format", "yuv420p"))
    if len(parts) > 1:
        return ffmpeg.concat(*parts, v=1, a=0)
    if any(visual.input_index is not None for visual in plan.overlays):
        # A media overlay is timed against the base. `concat` gives the base microsecond timestamps;
        # one segment gets them too, so an overlay shows the same source frame however the base is
        # cut (a fan-out chunk's base is often one part of a longer single-pass concat).
        return parts[0].filter("settb", "AVTB")
    return parts[0]


def _transition(streams: _StreamPool, segment: BaseSegment, plan: RenderPlan) -> Any:
    """A transition's span by xfade (both sides prepared for the whole span), cut to the segment."""
    transition = segment.transition
    assert transition is not None  # noqa: S101 - only called for transition segments
    sides = []
    for side in (transition.outgoing, transition.incoming):
        assert side.input_index is not None  # noqa: S101 - both sides read a video
        sides.append(
            _video_segment(streams.take(side.input_index, "v"), side, plan).filter("format", "yuv420p")
        )
    if transition.kind in DIP_COLORS:
        # A dip: the outgoing clip fades to the colour, which is reached on the cut's frame, and the
        # incoming clip fades in from it (xfade's fadeblack is darkest a fifth of the way in).
        before, after = transition.cut - transition.first, transition.end - transition.cut
        color = DIP_COLORS[transition.kind]
        out = (
            sides[0]
            .filter("trim", end_frame=before)
            .filter("fade", t="out", start_frame=1, nb_frames=before, color=color)
        )
        into = (
            sides[1]
            .filter("trim", start_frame=before)
            .filter("setpts", "PTS-STARTPTS")
            .filter("fade", t="in", start_frame=1, nb_frames=after, color=color)
        )
        stream = ffmpeg.concat(out, into, v=1, a=0)
    else:
        stream = ffmpeg.filter(
            sides, "xfade", transition=transition.kind, duration=_num(transition.frames / plan.fps), offset=0
        )
    stream = stream.filter("tpad", stop_mode="clone", stop=transition.frames)
    cut = {"end_frame": segment.end - transition.first}
    if segment.first > transition.first:
        cut["start_frame"] = segment.first - transition.first
    return stream.filter("trim", **cut).filter("setpts", "PTS-STARTPTS")


def _background(plan: RenderPlan) -> Any:
    """The background colour for the whole output, one frame longer so every gap's last frame exists."""
    seconds = (plan.frames + 1) / plan.fps
    color = to_ffmpeg(plan.background_color)
    source = f"color=c={color}:s={plan.width}x{plan.height}:r={_num(plan.fps)}:d={_num(seconds)}"
    return ffmpeg.input(source, f="lavfi").video


def _copies(stream: Any, count: int) -> list[Any]:
    if count == 1:
        return [stream]
    node = stream.filter_multi_output("split", count)
    return [node.stream(i) for i in range(count)]


def _video_segment(stream: Any, segment: BaseSegment, plan: RenderPlan) -> Any:
    clip = segment.clip
    assert clip is not None  # noqa: S101 - only called for video segments
    if segment.input_offset > 0:
        stream = stream.filter("trim", start=_num(segment.input_offset))
    pts = "PTS-STARTPTS" if clip.speed == 1 else f"(PTS-STARTPTS)/{_num(clip.speed)}"
    stream = stream.filter("setpts", pts)
    if segment.lead:
        stream = stream.filter("setpts", f"PTS-{_num(segment.lead)}/TB")
    box = Box(0, 0, plan.width, plan.height)
    # Scale each source frame once: before `fps` when the source has no more frames than the output
    # (fps then repeats scaled frames), after it when `fps` drops frames.
    scale_first = segment.needs_scale and segment.frame_rate is not None and segment.frame_rate <= plan.fps
    if scale_first:
        stream, _, _ = _fit(stream, clip.fit, box, segment.pad_color)
    # From a lead, the frame on screen at the segment's start is the last one before it, as `fps` picks.
    rate = {"start_time": 0} if segment.lead else {}
    stream = stream.filter("fps", _num(plan.fps), **rate).filter("trim", end_frame=segment.source_frames)
    if segment.needs_scale and not scale_first:
        stream, _, _ = _fit(stream, clip.fit, box, segment.pad_color)
    stream = stream.filter("setsar", 1)
    if segment.hold_start:
        stream = stream.filter("tpad", start_mode="clone", start=segment.hold_start)
    # A source that ends early, or a held frame, repeats its last frame: the segment keeps its length.
    return stream.filter("tpad", stop_mode="clone", stop=segment.frames).filter(
        "trim", end_frame=segment.frames
    )


def _fit(stream: Any, fit: Fit, box: Box, pad_color: str | None) -> tuple[Any, str, str]:
    """Scale a picture into its box; returns the stream and where to overlay it."""
    x, y = str(box.x), str(box.y)
    if fit is Fit.FILL:
        stream = stream.filter("scale", box.width, box.height)
    elif fit is Fit.COVER:
        stream = stream.filter("scale", box.width, box.height, force_original_aspect_ratio="increase").filter(
            "crop", box.width, box.height
        )
    else:
        stream = stream.filter(
            "scale", box.width, box.height, force_original_aspect_ratio="decrease", force_divisible_by=2
        )
        if pad_color is not None:
            # Bars in a colour of their own: the picture hides what lies below it, as in the player.
            stream = stream.filter(
                "pad", box.width, box.height, "(ow-iw)/2", "(oh-ih)/2", color=to_ffmpeg(pad_color)
            )
        else:
            x = f"{box.x}+({box.width}-overlay_w)/2"
            y = f"{box.y}+({box.height}-overlay_h)/2"
    return stream, x, y


def _overlay(base: Any, stream: Any, visual: PlannedVisual, fps: float) -> Any:
    clip = visual.clip
    box = clip.box
    assert box is not None  # noqa: S101 - visuals always have a box
    if visual.first_frame_only:
        stream = stream.filter("trim", end_frame=1)
    if not visual.still:
        stream = stream.filter("trim", duration=_num(clip.source_duration))
    pts = "PTS-STARTPTS" if clip.speed == 1 else f"(PTS-STARTPTS)/{_num(clip.speed)}"
    stream = stream.filter("setpts", f"{pts}+{_num(clip.start)}/TB")
    x, y = str(box.x), str(box.y)
    if visual.needs_scale:
        stream, x, y = _fit(stream, clip.fit, box, clip.matte)
        stream = stream.filter("setsar", 1)
    if clip.opacity < 1:
        stream = stream.filter("format", "rgba").filter("colorchannelmixer", aa=_num(clip.opacity))
    return ffmpeg.overlay(
        base,
        stream,
        x=x,
        y=y,
        enable=_enable(visual.windows, fps),
        eof_action="repeat" if visual.still or clip.hold > 0 else "pass",
    )


def _text_document(visual: PlannedVisual, plan: RenderPlan) -> str:
    """A text action as an ASS script: one event per window, placed in its box as drawtext placed it."""
    clip = visual.clip
    style = clip.text
    box = clip.box
    assert style is not None and box is not None  # noqa: S101 - text clips carry both
    column = {Align.LEFT: 0, Align.CENTER: 1, Align.RIGHT: 2}[style.align]
    x = box.x + box.width * column // 2
    if box.height == 0:
        alignment, y = 7 + column, box.y  # top at y
    else:
        alignment, y = 4 + column, box.y + box.height // 2  # centred in the box
    look = ass.AssStyle(
        name="Text",
        font_size=style.font_size,
        color=style.color,
        box_color=style.background_color,
        box_padding=max(1, style.font_size // 4),
        opacity=clip.opacity,
        alignment=alignment,
    )
    text = f"{{\\an{alignment}\\pos({x},{y})}}" + ass.escape_text(style.text)
    events = [ass.AssEvent(first, end, "Text", text) for first, end in visual.windows]
    return ass.document(plan.width, plan.height, plan.fps, [look], events, wrap=False)


CAPTION_ALIGNMENT = {CaptionPosition.BOTTOM: 2, CaptionPosition.TOP: 8, CaptionPosition.CENTER: 5}


def _captions_document(visual: PlannedVisual, plan: RenderPlan) -> str:
    """A captions action as an ASS script: one event per cue and window, at the cue's output frames,
    centred, wrapped at `max_width` of the frame, `margin` from its edge, a box behind each line.

    The box (when there is one) lies inside the margin and the width: the text keeps its padding
    from them."""
    clip = visual.clip
    style = clip.captions
    assert style is not None and style.cues is not None  # noqa: S101 - captions are read before planning
    box = style.background if style.background is not None and style.background[7:] != "00" else None
    padding = max(1, style.font_size // 5) if box is not None else 0
    look = ass.AssStyle(
        name="Captions",
        font_size=style.font_size,
        color=style.color,
        box_color=box,
        box_padding=padding,
        opacity=clip.opacity,
        alignment=CAPTION_ALIGNMENT[style.position],
        margin_h=round(plan.width * (1 - style.max_width) / 2) + padding,
        margin_v=style.margin + padding,
        box_per_line=True,
    )
    events = []
    origin = clip.start - clip.trim_start  # where the captions' own time 0 lies on the output
    for cue in style.cues:
        first, end = frame_at(origin + cue.start, plan.fps), frame_at(origin + cue.end, plan.fps)
        text = ass.escape_text(cue.text)
        for window_first, window_end in visual.windows:
            if max(first, window_first) < min(end, window_end):
                events.append(ass.AssEvent(max(first, window_first), min(end, window_end), "Captions", text))
    return ass.document(plan.width, plan.height, plan.fps, [look], events, wrap=True)


def _atempo_chain(speed: float) -> list[float]:
    """atempo takes 0.5..2 per instance; chain instances for 0.25..4."""
    factors: list[float] = []
    while speed > 2:
        factors.append(2.0)
        speed /= 2
    while speed < 0.5:
        factors.append(0.5)
        speed /= 0.5
    factors.append(speed)
    return [f for f in factors if f != 1]


def _audio_track(stream: Any, planned: PlannedAudio) -> Any:
    """One track: its source's stretch at the output rate and speed, volume and fades, placed on the
    output by a delay. A window's track (`planned.at_sample` set) starts `skip_samples` into itself and
    keeps the timeline's timestamps in its fades, so its samples are the whole timeline's."""
    clip = planned.clip
    lead, tail = planned.lead, planned.tail
    length = lead + clip.duration + tail  # timeline seconds the track plays
    windowed = planned.at_sample is not None
    silence = ms_samples(planned.lead_silence)  # the lead silence, as the delay below rounds it
    cut = max(0, planned.skip_samples - silence)  # samples of sound skipped
    seeked = cut / AUDIO_SAMPLE_RATE if planned.seeked else 0.0  # ... by the input, before this
    stream = (
        stream.filter("atrim", duration=_num((length - seeked) * clip.speed))
        .filter("asetpts", "PTS-STARTPTS")
        .filter("aresample", AUDIO_SAMPLE_RATE)
        .filter("aformat", sample_fmts="fltp", channel_layouts=AUDIO_CHANNEL_LAYOUT)
    )
    for factor in _atempo_chain(clip.speed):
        stream = stream.filter("atempo", _num(factor))
    if cut and not planned.seeked:
        # after the speed change, whose output depends on where it starts
        stream = stream.filter("atrim", start_sample=cut)
    if cut:
        stream = _restamp(stream, cut)
    if clip.volume != 1:
        stream = stream.filter("volume", _num(clip.volume))
    if clip.fade_in > 0:
        stream = stream.filter("afade", t="in", st=_num(lead), d=_num(clip.fade_in))
    if clip.fade_out > 0:
        stream = stream.filter(
            "afade", t="out", st=_num(lead + clip.duration - clip.fade_out), d=_num(clip.fade_out)
        )
    if not windowed and planned.lead_silence > 0:
        stream = stream.filter("adelay", delays=round(planned.lead_silence * 1000), all=1)
    elif silence > planned.skip_samples:
        stream = stream.filter("adelay", delays=f"{silence - planned.skip_samples}S", all=1)
    if planned.skip_samples and (planned.crossfade_in or planned.crossfade_out):
        stream = _restamp(stream, planned.skip_samples)
    # Equal power (quarter sine) across a transition's span: the two sides' powers sum to one.
    if planned.crossfade_in > 0:
        stream = stream.filter("afade", t="in", st=0, d=_num(planned.crossfade_in), curve="qsin")
    if planned.crossfade_out > 0:
        end = planned.lead_silence + length
        stream = stream.filter(
            "afade",
            t="out",
            st=_num(end - planned.crossfade_out),
            d=_num(planned.crossfade_out),
            curve="qsin",
        )
    if planned.at_sample is not None:
        if planned.at_sample > 0:
            stream = stream.filter("adelay", delays=f"{planned.at_sample}S", all=1)
        return stream
    start = clip.start - lead - planned.lead_silence
    if start > 0:
        stream = stream.filter("adelay", delays=round(start * 1000), all=1)
    return stream


def _restamp(stream: Any, samples: int) -> Any:
    """Timestamps from `samples` on: the fades after it count from the track's start, not the cut."""
    return stream.filter("asetpts", f"PTS-STARTPTS+{samples}/SR/TB")


def ms_samples(seconds: float) -> int:
    """Output samples of a delay of `seconds`, as `adelay` in whole milliseconds places it."""
    return round(seconds * 1000) * AUDIO_SAMPLE_RATE // 1000
