"""`render_export`: the whole render of one export request (what the worker and the CLI call)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from render import limits
from render.captions import read_from_dir, with_captions
from render.compiler import CompiledCommand, PosterShot, compile_plan
from render.composition import Clip, ClipKind, Composition
from render.encoding import CONTAINER_OPTIONS, Quality
from render.errors import AssetMissingError, InvalidMediaError, RenderFailedError
from render.executor import run_ffmpeg
from render.frames import output_frames
from render.isobmff import read_layout
from render.model import ExportRequest
from render.planner import RenderPlan, plan_render
from render.probe import MediaInfo, probe
from render.ranges import SourceSpan, plan_spans

# Called with what each input of the plan reads, once the plan is known and before ffmpeg starts.
SpanReader = Callable[[Sequence[SourceSpan]], None]


@dataclass(frozen=True)
class RenderResult:
    duration_seconds: float
    width: int
    height: int
    size_bytes: int
    render_seconds: float
    poster_path: Path | None = None  # the JPEG of `output.poster`, when this render wrote it
    audio_path: Path | None = None  # a fan-out chunk's sound, written beside its video (ADTS)


# ffprobe runs are mostly process start-up and file reads: a few at once hide that latency.
_PARALLEL_PROBES = 4


def probe_assets(
    request: ExportRequest,
    assets_dir: Path,
    *,
    ffprobe: str = "ffprobe",
    keys: Sequence[str] | None = None,
) -> dict[str, MediaInfo]:
    """Probe every asset the timeline uses (or only `keys`), a few at once; ASSET_MISSING / INVALID_MEDIA
    name the asset by its src (the first failing asset in timeline order, whichever probe ends first)."""
    names = {a.s3Key: a.src for a in request.assets}
    keys = request.used_asset_keys() if keys is None else keys
    media_keys = {c.source_key for c in request.to_composition().clips if c.kind is not ClipKind.CAPTIONS}
    keys = [key for key in keys if key in media_keys]  # captions files are parsed, not probed
    for key in keys:
        if not (assets_dir / key).is_file():
            raise AssetMissingError(f"asset {names.get(key, key)!r} was not uploaded")
    with ThreadPoolExecutor(max_workers=_PARALLEL_PROBES) as pool:
        futures = {key: pool.submit(probe, assets_dir / key, ffprobe=ffprobe) for key in keys}
        media: dict[str, MediaInfo] = {}
        for key, future in futures.items():
            try:
                media[key] = future.result()
            except InvalidMediaError as exc:
                raise InvalidMediaError(
                    f"asset {names.get(key, key)!r}: {exc.message}", stderr_tail=exc.stderr_tail
                ) from exc
    return media


def composition_with_captions(request: ExportRequest, assets_dir: Path) -> Composition:
    """The request's composition with the cues of its captions files read from `assets_dir`
    (InvalidCaptionsError for a file that is not valid captions)."""
    return with_captions(request.to_composition(), read_from_dir(assets_dir))


def build_plan(request: ExportRequest, assets_dir: Path, *, ffprobe: str = "ffprobe") -> RenderPlan:
    composition = composition_with_captions(request, assets_dir)
    return plan_render(composition, probe_assets(request, assets_dir, ffprobe=ffprobe), assets_dir)


def build_command(
    request: ExportRequest, assets_dir: Path, output_path: Path, workdir: Path, *, ffmpeg: str, ffprobe: str
) -> tuple[RenderPlan, CompiledCommand]:
    plan = build_plan(request, assets_dir, ffprobe=ffprobe)
    return plan, compile_plan(plan, output_path, workdir=workdir, ffmpeg_bin=ffmpeg)


def write_files(command: CompiledCommand) -> None:
    for path, text in command.files.items():
        path.write_text(text, encoding="utf-8")


def render_export(
    request: ExportRequest,
    assets_dir: Path,
    output_path: Path,
    *,
    on_progress: Callable[[float], None] | None = None,
    timeout_seconds: float = limits.RENDER_TIMEOUT_SECONDS,
    ffmpeg: str = "ffmpeg",
    ffprobe: str = "ffprobe",
    scratch_dir: Path | None = None,
    read_spans: SpanReader | None = None,
) -> RenderResult:
    """Render `request` to `output_path` (H.264 yuv420p + AAC mp4, or AAC only for `output.format`
    m4a) from files in `assets_dir / s3Key`, with the encoder settings of `output.quality`; the JPEG of
    `output.poster` goes to `poster_path_of(output_path)` (`RenderResult.poster_path`).

    `read_spans`, when given, is called with the stretch of each source the render reads before
    ffmpeg starts: the worker holds only each mp4's index until then and fetches just those bytes.

    Scratch files (ASS scripts of text and captions) go to a temporary folder inside `scratch_dir`
    (default: the system temp dir), so a caller that cleans its own work dir after a crash also cleans these.
    """
    if not request.output.format.has_video:
        return render_audio(
            request,
            assets_dir,
            output_path,
            on_progress=on_progress,
            timeout_seconds=timeout_seconds,
            ffmpeg=ffmpeg,
            ffprobe=ffprobe,
            scratch_dir=scratch_dir,
            read_spans=read_spans,
        )
    started = time.monotonic()
    assets_dir = assets_dir.resolve()
    plan = build_plan(request, assets_dir, ffprobe=ffprobe)
    frame = request.poster_frame()
    return run_plan(
        plan,
        output_path,
        started=started,
        on_progress=on_progress,
        quality=request.output.quality,
        poster=None if frame is None else PosterShot(frame, poster_path_of(output_path)),
        timeout_seconds=timeout_seconds,
        ffmpeg=ffmpeg,
        scratch_dir=scratch_dir,
        read_spans=read_spans,
    )


def poster_path_of(output_path: Path) -> Path:
    """Where a render of `output_path` writes its poster JPEG."""
    return output_path.with_name(f"{output_path.stem}.poster.jpg")


def sound_clips(composition: Composition) -> list[Clip]:
    """Clips that may be heard: audio, and videos not muted (whether a video has sound needs a probe)."""
    return [
        c
        for c in composition.clips
        if c.kind in (ClipKind.AUDIO, ClipKind.VIDEO) and not c.muted and c.volume > 0
    ]


def asset_keys_of(clips: Iterable[Clip]) -> list[str]:
    """s3Keys of `clips`' assets, in first-use order."""
    return list(dict.fromkeys(c.source_key for c in clips if c.source_key))


def sound_asset_keys(request: ExportRequest) -> list[str]:
    """s3Keys of the assets that may play sound, in first-use order (what an audio render reads)."""
    return asset_keys_of(sound_clips(request.to_composition()))


def render_audio(
    request: ExportRequest,
    assets_dir: Path,
    output_path: Path,
    *,
    on_progress: Callable[[float], None] | None = None,
    timeout_seconds: float = limits.RENDER_TIMEOUT_SECONDS,
    ffmpeg: str = "ffmpeg",
    ffprobe: str = "ffprobe",
    scratch_dir: Path | None = None,
    read_spans: SpanReader | None = None,
) -> RenderResult:
    """Render the whole timeline's audio, once, to an AAC-only mp4 (`.m4a`) at `output_path`: an m4a
    export, or the audio task of a fan-out split by an earlier version. No picture is probed for,
    decoded, drawn or encoded.

    Exactly the output's duration, silence where nothing plays, the single pass's audio settings.
    `assets_dir` needs only `sound_asset_keys(request)`. Raises the `render.errors` of `render_export`.
    """
    started = time.monotonic()
    assets_dir = assets_dir.resolve()
    composition = request.to_composition()
    media = probe_assets(request, assets_dir, ffprobe=ffprobe, keys=sound_asset_keys(request))
    # Only what may sound is planned; videos without pictures of their own are still videos here, so
    # the audio plan is the single pass's audio plan.
    sound = replace(composition, clips=tuple(sound_clips(composition)))
    plan = replace(
        plan_render(sound, media, assets_dir, frames=output_frames(composition)),
        duration=composition.duration,
    )
    return run_plan(
        plan,
        output_path,
        started=started,
        on_progress=on_progress,
        timeout_seconds=timeout_seconds,
        ffmpeg=ffmpeg,
        scratch_dir=scratch_dir,
        video=False,
        quality=request.output.quality,
        read_spans=read_spans,
    )


def run_plan(
    plan: RenderPlan,
    output_path: Path,
    *,
    started: float,
    on_progress: Callable[[float], None] | None,
    timeout_seconds: float,
    ffmpeg: str,
    scratch_dir: Path | None,
    video: bool = True,
    audio: bool = True,
    video_options: Mapping[str, str] | None = None,
    quality: Quality = Quality.STANDARD,
    poster: PosterShot | None = None,
    read_spans: SpanReader | None = None,
) -> RenderResult:
    """Compile and run `plan` (streams and options as `compile_plan`); `started` is when the task began
    (`time.monotonic()`), so the time limit and `render_seconds` include probing and `read_spans`."""
    output_path = output_path.resolve()
    execute_plan(
        plan,
        output_path,
        started=started,
        on_progress=on_progress,
        timeout_seconds=timeout_seconds,
        ffmpeg=ffmpeg,
        scratch_dir=scratch_dir,
        video=video,
        audio=audio,
        video_options=video_options,
        quality=quality,
        poster=poster,
        read_spans=read_spans,
    )
    result = result_of(output_path, started=started)
    if poster is None:
        return result
    if not poster.path.is_file():
        raise RenderFailedError("the poster frame was not written")
    return replace(result, poster_path=poster.path)


def execute_plan(
    plan: RenderPlan,
    output_path: Path,
    *,
    started: float,
    on_progress: Callable[[float], None] | None,
    timeout_seconds: float,
    ffmpeg: str,
    scratch_dir: Path | None,
    video: bool = True,
    audio: bool = True,
    video_options: Mapping[str, str] | None = None,
    quality: Quality = Quality.STANDARD,
    poster: PosterShot | None = None,
    read_spans: SpanReader | None = None,
    container: Mapping[str, str] = CONTAINER_OPTIONS,
) -> None:
    """`run_plan` up to its output: the spans read, the command compiled (any `container`) and run
    within what is left of the time limit. What the output is, the caller reads."""
    if read_spans is not None:
        read_spans(plan_spans(plan, video=video, audio=audio))
    with tempfile.TemporaryDirectory(prefix="render-", dir=scratch_dir) as tmp:
        command = compile_plan(
            plan,
            output_path,
            workdir=Path(tmp),
            ffmpeg_bin=ffmpeg,
            video=video,
            audio=audio,
            video_options=video_options,
            quality=quality,
            poster=poster,
            container=container,
        )
        write_files(command)
        remaining = max(1.0, timeout_seconds - (time.monotonic() - started))
        run_ffmpeg(
            command.argv, total_seconds=plan.duration, on_progress=on_progress, timeout_seconds=remaining
        )


def result_of(output_path: Path, *, started: float) -> RenderResult:
    """What a finished render reports, read from the mp4's own headers (no ffprobe run);
    RenderFailedError when ffmpeg left a file that is not a whole movie."""
    layout = read_layout(output_path)
    if layout is None or not layout.whole_movie or layout.movie_seconds is None:
        raise RenderFailedError("the rendered file is incomplete")
    width, height = layout.picture or (0, 0)
    return RenderResult(
        duration_seconds=layout.movie_seconds,
        width=width,
        height=height,
        size_bytes=output_path.stat().st_size,
        render_seconds=time.monotonic() - started,
    )
