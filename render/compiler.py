"""Render plan -> one ffmpeg argv with a single filter graph (built with ffmpeg-python).

Pure apart from naming the text files it needs: it returns them as data and the caller writes them,
so the argv can be snapshot-tested without running anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ffmpeg
from ffmpeg.nodes import FilterableStream, FilterNode, Node

from render.colors import to_ffmpeg
from render.composition import Align, ClipKind, Fit
from render.encoding import (
    AUDIO_CHANNEL_LAYOUT,
    AUDIO_OUTPUT_OPTIONS,
    AUDIO_SAMPLE_RATE,
    CONTAINER_OPTIONS,
    VIDEO_OUTPUT_OPTIONS,
)
from render.planner import PlannedAudio, PlannedVisual, RenderPlan

DEFAULT_FONT_FILE = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
# Frames are compared against clip edges with this slack so float rounding never adds or drops one.
_EPSILON = 1e-4
GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-y", "-v", "error", "-progress", "pipe:1", "-nostats")


@dataclass(frozen=True)
class CompiledCommand:
    argv: list[str]
    files: dict[Path, str] = field(default_factory=dict)  # text files to write before running


def font_file() -> str:
    return os.environ.get("RENDER_FONT_FILE") or DEFAULT_FONT_FILE


def _num(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


class _SourceNode(FilterNode):  # type: ignore[misc]
    """A filter with no inputs (color, anullsrc): ffmpeg-python's FilterNode insists on one."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        Node.__init__(
            self,
            stream_spec=[],
            name=name,
            incoming_stream_types={FilterableStream},
            outgoing_stream_type=FilterableStream,
            min_inputs=0,
            max_inputs=0,
            args=[],
            kwargs=kwargs,
        )


def _source(name: str, **kwargs: Any) -> Any:
    return _SourceNode(name, **kwargs).stream()


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


def _window(start: float, end: float) -> str:
    return f"gte(t,{_num(start - _EPSILON)})*lt(t,{_num(end - _EPSILON)})"


def compile_plan(
    plan: RenderPlan,
    output_path: Path,
    *,
    workdir: Path,
    ffmpeg_bin: str = "ffmpeg",
    font: str | None = None,
) -> CompiledCommand:
    """Return the argv (progress on stdout via `-progress pipe:1`) and the text files it reads."""
    font = font or font_file()
    files: dict[Path, str] = {}
    inputs = [
        ffmpeg.input(
            f"file:{spec.path}",
            protocol_whitelist="file",
            **({"ss": _num(spec.seek)} if spec.seek else {}),
            **({"t": _num(spec.duration)} if spec.duration is not None else {}),
            **({"stream_loop": -1} if spec.loop else {}),
        )
        for spec in plan.inputs
    ]
    # The background is an lavfi input rather than a source inside the graph: ffmpeg-python cannot
    # compile a command without any input (a timeline of text only).
    background = (
        f"color=c={to_ffmpeg(plan.background_color)}:s={plan.width}x{plan.height}"
        f":r={_num(plan.fps)}:d={_num(plan.duration)}"
    )
    video = ffmpeg.input(background, f="lavfi").video.filter("format", "yuv420p")
    streams = _StreamPool(inputs)
    for visual in plan.visuals:
        if visual.input_index is not None:
            streams.count(visual.input_index, "v")
    for track in plan.audios:
        streams.count(track.input_index, "a")
    for visual in plan.visuals:
        if visual.clip.kind is ClipKind.TEXT:
            path = workdir / f"text-{len(files)}.txt"
            files[path] = visual.clip.text.text if visual.clip.text else ""
            video = _draw_text(video, visual, path, font)
        else:
            assert visual.input_index is not None  # noqa: S101 - media visuals have an input
            video = _overlay(video, streams.take(visual.input_index, "v"), visual)
    video = video.filter("format", "yuv420p")

    audio = _source("anullsrc", r=AUDIO_SAMPLE_RATE, cl=AUDIO_CHANNEL_LAYOUT).filter(
        "atrim", duration=_num(plan.duration)
    )
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
    out = ffmpeg.output(
        video,
        audio,
        f"file:{output_path}",
        **VIDEO_OUTPUT_OPTIONS,
        **AUDIO_OUTPUT_OPTIONS,
        **CONTAINER_OPTIONS,
        r=_num(plan.fps),
        t=_num(plan.duration),
    )
    args: list[str] = ffmpeg.get_args(out)
    return CompiledCommand([ffmpeg_bin, *GLOBAL_ARGS, *args], files)


def _overlay(base: Any, stream: Any, visual: PlannedVisual) -> Any:
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
        if clip.fit is Fit.FILL:
            stream = stream.filter("scale", box.width, box.height)
        elif clip.fit is Fit.COVER:
            stream = stream.filter(
                "scale", box.width, box.height, force_original_aspect_ratio="increase"
            ).filter("crop", box.width, box.height)
        else:
            stream = stream.filter(
                "scale", box.width, box.height, force_original_aspect_ratio="decrease", force_divisible_by=2
            )
            if clip.matte is not None:
                # An opaque stage: the bars around the picture hide what lies below, as in the player.
                stream = stream.filter(
                    "pad", box.width, box.height, "(ow-iw)/2", "(oh-ih)/2", color=to_ffmpeg(clip.matte)
                )
            else:
                x = f"{box.x}+({box.width}-overlay_w)/2"
                y = f"{box.y}+({box.height}-overlay_h)/2"
        stream = stream.filter("setsar", 1)
    if clip.opacity < 1:
        stream = stream.filter("format", "rgba").filter("colorchannelmixer", aa=_num(clip.opacity))
    return ffmpeg.overlay(
        base,
        stream,
        x=x,
        y=y,
        enable=_window(clip.start, clip.end),
        eof_action="repeat" if visual.still or clip.hold > 0 else "pass",
    )


def _draw_text(base: Any, visual: PlannedVisual, path: Path, font: str) -> Any:
    clip = visual.clip
    style = clip.text
    box = clip.box
    assert style is not None and box is not None  # noqa: S101 - text clips carry both
    if style.align is Align.LEFT:
        x = str(box.x)
    elif style.align is Align.RIGHT:
        x = f"{box.x}+{box.width}-text_w"
    else:
        x = f"{box.x}+({box.width}-text_w)/2"
    y = str(box.y) if box.height == 0 else f"{box.y}+({box.height}-text_h)/2"
    options: dict[str, Any] = {
        "fontfile": font,
        "textfile": str(path),
        "expansion": "none",
        "fontsize": style.font_size,
        "fontcolor": to_ffmpeg(style.color),
        "x": x,
        "y": y,
        "enable": _window(clip.start, clip.end),
    }
    if clip.opacity < 1:
        options["alpha"] = _num(clip.opacity)
    if style.background_color is not None:
        options.update(
            box=1, boxcolor=to_ffmpeg(style.background_color), boxborderw=max(1, style.font_size // 4)
        )
    return base.drawtext(**options)


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
    clip = planned.clip
    stream = (
        stream.filter("atrim", duration=_num(clip.source_duration))
        .filter("asetpts", "PTS-STARTPTS")
        .filter("aresample", AUDIO_SAMPLE_RATE)
        .filter("aformat", sample_fmts="fltp", channel_layouts=AUDIO_CHANNEL_LAYOUT)
    )
    for factor in _atempo_chain(clip.speed):
        stream = stream.filter("atempo", _num(factor))
    if clip.volume != 1:
        stream = stream.filter("volume", _num(clip.volume))
    if clip.fade_in > 0:
        stream = stream.filter("afade", t="in", st=0, d=_num(clip.fade_in))
    if clip.fade_out > 0:
        stream = stream.filter(
            "afade", t="out", st=_num(clip.duration - clip.fade_out), d=_num(clip.fade_out)
        )
    if clip.start > 0:
        stream = stream.filter("adelay", delays=round(clip.start * 1000), all=1)
    return stream
