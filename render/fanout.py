"""Fan-out rendering: one long export cut into chunks of video and sound, and a join by stream copy.

A chunk is a half-open range of **output frames**. It is rendered from the same planner as the single
pass, on the composition restricted to its window (only the clips on screen in it, start times shifted,
in-points moved), video only, with the single pass's encoder settings and a keyframe (IDR, closed GOP)
on its first frame, so the chunks join with ffmpeg's concat demuxer and `-c copy`, frame-exactly.
The same task then encodes the timeline's sound under its frames (`render.audio_windows`: windows on
AAC frame boundaries, encoded with an overlap, so their frames splice without a seam). The join
concatenates the chunks' video and their sound, muxes both (stream copy) and checks that no frame of
either was lost. (A job split by an earlier version has one audio task for the whole timeline instead:
`render.pipeline.render_audio`, joined from its m4a.)

Pure library like the rest of `render/`: files in, files out, no AWS.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from render import audio_windows, limits
from render.audio_windows import AudioWindow, audio_window, sound_clips_near, window_plan
from render.chunking import ChunkWindow, plan_chunks
from render.compiler import GLOBAL_ARGS, PosterShot
from render.composition import Clip, ClipKind, Composition
from render.confinement import tool_environment
from render.encoding import AUDIO_SAMPLE_RATE, CHUNK_VIDEO_OPTIONS, CONTAINER_OPTIONS
from render.errors import RenderFailedError
from render.executor import run_ffmpeg
from render.frames import EPSILON, frame_at, output_frames
from render.model import ExportRequest
from render.pipeline import (
    RenderResult,
    SpanReader,
    asset_keys_of,
    composition_with_captions,
    execute_plan,
    poster_path_of,
    probe_assets,
    result_of,
    run_plan,
    sound_clips,
)
from render.planner import plan_render
from render.probe import MediaInfo

# The cut itself (`plan_chunks`) lives in the pure `render.chunking`, which the API's quote imports too;
# it is named here as well, beside what renders the chunks.
__all__ = [
    "ChunkWindow",
    "count_frames",
    "join_chunks",
    "output_frames",
    "plan_chunks",
    "render_audio_window",
    "render_chunk",
    "render_video_chunk",
    "used_asset_keys",
    "window_composition",
]


def used_asset_keys(request: ExportRequest, window: ChunkWindow | None = None) -> list[str]:
    """s3Keys a task needs, in first-use order: the visuals on screen in `window` and the sounds under it
    (a chunk), or, with no window, every asset that may play sound (an earlier version's audio task)."""
    composition = request.to_composition()
    if window is None:
        return asset_keys_of(sound_clips(composition))
    sounds = sound_clips_near(composition, chunk_audio_window(composition, window))
    return asset_keys_of([*_clips_in(composition, window), *sounds])


def chunk_audio_window(composition: Composition, window: ChunkWindow) -> AudioWindow:
    """The samples of the timeline's audio that the chunk `window` encodes and keeps."""
    return audio_window(
        window,
        fps=composition.fps,
        duration=composition.duration,
        total_frames=output_frames(composition),
    )


def _clips_in(composition: Composition, window: ChunkWindow) -> list[Clip]:
    """The visual clips whose frames meet the window (a video that ends early is dropped later, once
    its length is known)."""
    fps = composition.fps
    return [
        c
        for c in composition.clips
        if c.kind is not ClipKind.AUDIO
        and frame_at(c.start, fps) < window.end_frame
        and frame_at(c.end, fps) > window.start_frame
    ]


def window_composition(
    composition: Composition, window: ChunkWindow, media: Mapping[str, MediaInfo]
) -> Composition:
    """The composition a chunk renders: its window's visuals, silent, moved so the window starts at 0.

    A clip that began before the window starts at 0 with its in-point moved by what was already shown;
    one whose window starts in its held last frame reads just that frame and holds it. `media` must
    hold the probed assets of `used_asset_keys(request, window)`.
    """
    fps = composition.fps
    origin = window.start_frame / fps
    clips = []
    for clip in _clips_in(composition, window):
        media_clip = clip.source_key is not None and clip.kind is not ClipKind.CAPTIONS
        info = media[clip.source_key] if media_clip and clip.source_key is not None else None
        moved = _move(clip, origin, fps, info)
        if moved is not None:
            clips.append(moved)
    return replace(composition, clips=tuple(clips))


def _move(clip: Clip, origin: float, fps: float, info: MediaInfo | None) -> Clip | None:
    """`clip` on a timeline that starts at `origin`; None when nothing of it shows after `origin`."""
    silent = replace(clip, muted=True, start=clip.start - origin, end=clip.end - origin)
    if clip.kind is ClipKind.CAPTIONS and clip.start < origin:
        # the cues keep their time on the timeline: what was already shown moves the in-point
        return replace(silent, start=0.0, trim_start=clip.trim_start + origin - clip.start)
    if clip.start >= origin or clip.kind is not ClipKind.VIDEO or info is None or info.is_still:
        # text and stills show the same wherever they start
        return replace(silent, start=max(0.0, silent.start))
    shown = origin - clip.start  # timeline seconds of the clip before the window
    moving_end = clip.end - clip.hold
    if info.duration is not None and clip.hold == 0:
        moving_end = min(moving_end, clip.start + (info.duration - clip.trim_start) / clip.speed)
    last = frame_at(moving_end, fps) - 1  # the clip's last frame that shows a new source frame
    if last < frame_at(origin, fps):
        if clip.hold == 0:
            return None  # the source ended before the window: the single pass shows what lies below
        # The window starts in the held frame: read that one frame and hold it to the end.
        held_from = last / fps - clip.start
        return replace(
            silent,
            start=0.0,
            trim_start=clip.trim_start + held_from * clip.speed,
            hold=max(0.0, silent.end - 1 / fps),
        )
    start, trim_start = _in_point(clip, shown, info)
    return replace(silent, start=start, trim_start=trim_start)


def _in_point(clip: Clip, shown: float, info: MediaInfo) -> tuple[float, float]:
    """Start and in-point of a clip of which `shown` timeline seconds lie before the window.

    The single pass times a clip's frames from the first source frame at or after its in-point. The
    chunk reads from the source frame on screen at the window's start and starts the clip that much
    before the window, so every source frame keeps its time on the timeline: an overlay shows the same
    frame as in the single pass. (Source frames are taken to be evenly spaced from 0: a source of
    variable frame rate may differ by a frame at a chunk's start.)
    """
    if not info.fps:
        return 0.0, clip.trim_start + shown * clip.speed
    first = math.ceil((clip.trim_start - EPSILON) * info.fps) / info.fps
    seek = first + shown * clip.speed  # the source time the single pass shows at the window's start
    on_screen = math.floor((seek + EPSILON) * info.fps) / info.fps
    return (on_screen - seek) / clip.speed, on_screen


def render_video_chunk(
    request: ExportRequest,
    assets_dir: Path,
    window: ChunkWindow,
    output_path: Path,
    *,
    on_progress: Callable[[float], None] | None = None,
    timeout_seconds: float = limits.RENDER_TIMEOUT_SECONDS,
    ffmpeg: str = "ffmpeg",
    ffprobe: str = "ffprobe",
    scratch_dir: Path | None = None,
    read_spans: SpanReader | None = None,
) -> RenderResult:
    """Render the frames of `window` to a video-only mp4 (no audio stream) at `output_path`.

    Exactly `window.frames` frames, the same pixels as those frames of the single pass (same planner,
    same encoder options), the first frame a keyframe, timestamps from 0. The chunk that holds the
    poster's frame writes the poster too, from the same graph (`RenderResult.poster_path`).
    `assets_dir` needs only the assets of `used_asset_keys(request, window)`, of which `read_spans` (as
    `render_export`) may fetch only the stretches the chunk reads. `on_progress` gets the fraction of this
    chunk done (rendered frames = fraction * window.frames). Raises the `render.errors` of `render_export`.
    """
    started = time.monotonic()
    assets_dir = assets_dir.resolve()
    composition = composition_with_captions(request, assets_dir)
    # the visuals only: the sound under the chunk is probed by `render_audio_window`
    visuals = asset_keys_of(_clips_in(composition, window))
    media = probe_assets(request, assets_dir, ffprobe=ffprobe, keys=visuals)
    chunk = window_composition(composition, window, media)
    # One frame past the window when the output goes on: an overlay is drawn on the base's last frame
    # only once the base has another (or has ended), so the chunk's last frame is planned as the single
    # pass draws it, in the middle of the picture, and the extra frame is not encoded.
    extra = 1 if window.end_frame < output_frames(composition) else 0
    plan = replace(
        plan_render(chunk, media, assets_dir, frames=window.frames + extra),
        duration=window.frames / composition.fps,
    )
    frame = request.poster_frame()
    in_window = frame is not None and window.start_frame <= frame < window.end_frame
    return run_plan(
        plan,
        output_path,
        started=started,
        on_progress=on_progress,
        timeout_seconds=timeout_seconds,
        ffmpeg=ffmpeg,
        scratch_dir=scratch_dir,
        read_spans=read_spans,
        audio=False,
        quality=request.output.quality,
        poster=PosterShot(frame - window.start_frame, poster_path_of(output_path))
        if in_window and frame is not None
        else None,
        video_options={**CHUNK_VIDEO_OPTIONS, "frames:v": str(window.frames)},
    )


def render_chunk(
    request: ExportRequest,
    assets_dir: Path,
    window: ChunkWindow,
    output_path: Path,
    *,
    on_progress: Callable[[float], None] | None = None,
    timeout_seconds: float = limits.RENDER_TIMEOUT_SECONDS,
    ffmpeg: str = "ffmpeg",
    ffprobe: str = "ffprobe",
    scratch_dir: Path | None = None,
    read_spans: SpanReader | None = None,
) -> RenderResult:
    """A chunk task: the frames of `window` (`render_video_chunk`), then the sound under them
    (`render_audio_window`) beside it (`RenderResult.audio_path`). `assets_dir` needs
    `used_asset_keys(request, window)`; the sound's progress reports the chunk done."""
    started = time.monotonic()
    video = render_video_chunk(
        request,
        assets_dir,
        window,
        output_path,
        on_progress=on_progress,
        timeout_seconds=timeout_seconds,
        ffmpeg=ffmpeg,
        ffprobe=ffprobe,
        scratch_dir=scratch_dir,
        read_spans=read_spans,
    )
    sound = render_audio_window(
        request,
        assets_dir,
        window,
        audio_part_path_of(output_path),
        on_progress=None if on_progress is None else (lambda _fraction: on_progress(1.0)),
        timeout_seconds=max(1.0, timeout_seconds - (time.monotonic() - started)),
        ffmpeg=ffmpeg,
        ffprobe=ffprobe,
        scratch_dir=scratch_dir,
        read_spans=read_spans,
    )
    return replace(
        video,
        audio_path=sound.audio_path,
        size_bytes=video.size_bytes + sound.size_bytes,
        render_seconds=time.monotonic() - started,
    )


def audio_part_path_of(output_path: Path) -> Path:
    """Where a chunk rendered to `output_path` writes its sound (ADTS)."""
    return output_path.with_suffix(".aac")


def render_audio_window(
    request: ExportRequest,
    assets_dir: Path,
    window: ChunkWindow,
    output_path: Path,
    *,
    on_progress: Callable[[float], None] | None = None,
    timeout_seconds: float = limits.RENDER_TIMEOUT_SECONDS,
    ffmpeg: str = "ffmpeg",
    ffprobe: str = "ffprobe",
    scratch_dir: Path | None = None,
    read_spans: SpanReader | None = None,
) -> RenderResult:
    """The sound under the chunk `window`: its audio window (`render.audio_windows`) of the timeline's
    mix, encoded with the single pass's settings, and its kept AAC frames written to `output_path`
    (ADTS) for the join to splice. No picture is probed for, decoded or encoded."""
    started = time.monotonic()
    assets_dir = assets_dir.resolve()
    composition = request.to_composition()
    sound_window = chunk_audio_window(composition, window)
    near = sound_clips_near(composition, sound_window)
    media = probe_assets(request, assets_dir, ffprobe=ffprobe, keys=asset_keys_of(near))
    sounding = replace(composition, clips=tuple(near))
    whole = plan_render(sounding, media, assets_dir, frames=output_frames(composition))
    plan = window_plan(whole, sound_window)
    output_path = output_path.resolve()
    with tempfile.TemporaryDirectory(prefix="sound-", dir=scratch_dir) as tmp:
        encoded = Path(tmp) / "window.aac"
        execute_plan(
            plan,
            encoded,
            started=started,
            on_progress=on_progress,
            timeout_seconds=timeout_seconds,
            ffmpeg=ffmpeg,
            scratch_dir=scratch_dir,
            video=False,
            quality=request.output.quality,
            read_spans=read_spans,
            container={"f": "adts"},
        )
        audio_windows.keep_window_frames(encoded, sound_window, output_path)
    return RenderResult(
        duration_seconds=(sound_window.end - sound_window.first) / AUDIO_SAMPLE_RATE,
        width=0,
        height=0,
        size_bytes=output_path.stat().st_size,
        render_seconds=time.monotonic() - started,
        audio_path=output_path,
    )


def join_chunks(
    chunk_paths: Sequence[Path],
    audio: Path | Sequence[Path],
    output_path: Path,
    *,
    fps: float,
    expected_frames: int | None = None,
    audio_seconds: float | None = None,
    on_progress: Callable[[float], None] | None = None,
    timeout_seconds: float = limits.RENDER_TIMEOUT_SECONDS,
    ffmpeg: str = "ffmpeg",
    ffprobe: str = "ffprobe",
    scratch_dir: Path | None = None,
) -> RenderResult:
    """Join chunks (in order) and their sound into the final mp4, by stream copy (+faststart).

    `audio` is the chunks' sound parts in order (ADTS, spliced frame by frame; `audio_seconds`, the
    timeline's length, checks that none is missing) or, from a job split by an earlier version, one
    m4a of the whole timeline. `on_progress` gets the fraction joined (raising there stops ffmpeg: a
    cancel). Raises RenderFailedError when the chunks do not hold `expected_frames`
    (the windows' frames together: a truncated or foreign chunk), the joined video lost any of them or
    the sound's frames do not add up, so a bad join never becomes a SUCCEEDED export.
    """
    started = time.monotonic()
    if not chunk_paths:
        raise RenderFailedError("there are no chunks to join")
    expected = sum(count_frames(path, ffprobe=ffprobe) for path in chunk_paths)
    if expected_frames is not None and expected != expected_frames:
        raise RenderFailedError(f"the chunks hold {expected} frames where the export has {expected_frames}")
    output_path = output_path.resolve()
    with tempfile.TemporaryDirectory(prefix="join-", dir=scratch_dir) as tmp:
        listing = Path(tmp) / "chunks.txt"
        listing.write_text(
            "".join(f"file '{_concat_quote(path.resolve())}'\n" for path in chunk_paths), encoding="utf-8"
        )
        if isinstance(audio, Path):
            sound = ["-protocol_whitelist", "file", "-i", f"file:{audio.resolve()}"]
        else:
            spliced = Path(tmp) / "sound.aac"
            frames = None if audio_seconds is None else audio_windows.spliced_frames(audio_seconds)
            audio_windows.splice(audio, spliced, expected_frames=frames)
            sound = [
                "-itsoffset", audio_windows.priming_offset_seconds(),
                "-protocol_whitelist", "file", "-f", "aac", "-i", f"file:{spliced}",
            ]  # fmt: skip
        argv = [
            ffmpeg, *GLOBAL_ARGS,
            "-f", "concat", "-safe", "0", "-protocol_whitelist", "file", "-i", f"file:{listing}",
            *sound,
            "-map", "0:v:0", "-map", "1:a:0", "-c", "copy",
            "-movflags", CONTAINER_OPTIONS["movflags"], "-f", CONTAINER_OPTIONS["f"],
            f"file:{output_path}",
        ]  # fmt: skip
        run_ffmpeg(
            argv, total_seconds=expected / fps, on_progress=on_progress, timeout_seconds=timeout_seconds
        )
    joined = count_frames(output_path, ffprobe=ffprobe)
    if joined != expected:
        raise RenderFailedError(
            f"the joined video has {joined} frames where its chunks have {expected}",
        )
    return result_of(output_path, started=started)


def _concat_quote(path: Path) -> str:
    """A path as a quoted string of the concat demuxer's list file."""
    return str(path).replace("'", "'\\''")


def count_frames(path: Path, *, ffprobe: str = "ffprobe") -> int:
    """The number of video frames stored in `path` (packets are counted, nothing is decoded)."""
    argv = [
        ffprobe, "-v", "error", "-select_streams", "v:0", "-count_packets",
        "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", f"file:{path}",
    ]  # fmt: skip
    proc = subprocess.run(
        argv, capture_output=True, text=True, check=False, timeout=120, env=tool_environment()
    )
    try:
        return int(proc.stdout.strip())
    except ValueError:
        raise RenderFailedError("a chunk is unreadable", stderr_tail=proc.stderr[-2000:]) from None
