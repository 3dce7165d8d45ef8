"""A fan-out chunk's share of the sound: its window of the timeline's audio, encoded to splice seamlessly.

The AAC encoder is three quarters of the CPU time of a long export's audio, and one encoder cannot run
in parallel with itself. So each chunk encodes the audio under its own frames, and the join splices the
chunks' AAC frames by stream copy:

* A window's bounds are multiples of `FRAME_SAMPLES` (one AAC frame), the one nearest the chunk's first
  frame, so neighbouring windows meet on a frame boundary (the first starts at 0, the last ends where the
  timeline does).
* Its encoder is fed `OVERLAP_SAMPLES` more on each side than it keeps. The frames it keeps are then
  coded from a settled encoder, and the frame before a splice (the previous chunk's) and the frame after
  it encode the same sound: the decoder's overlap-add across the seam joins two codings of one signal,
  whose difference is coding noise, not a click.
* ffmpeg's AAC encoder emits `PRIMING_SAMPLES` of delay first: frame j of an encode starting at sample
  e holds samples [e + (j - 1) * 1024, e + j * 1024). The first window keeps its priming frame, so the
  spliced stream starts like any single encode and the join marks the same delay for players to skip.

The window's audio is rendered from the same plan as the whole timeline's (`window_plan`), each track
cut where the window starts and placed to the sample where the single pass's delay puts it.
Pure: plans, sample arithmetic and ADTS frames; ffmpeg runs in `render.fanout`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from render.chunking import ChunkWindow
from render.compiler import ms_samples
from render.composition import Clip, Composition
from render.encoding import AUDIO_SAMPLE_RATE
from render.errors import RenderFailedError
from render.pipeline import sound_clips
from render.planner import READ_MARGIN_SECONDS, InputSpec, RenderPlan

FRAME_SAMPLES = 1024  # samples per AAC-LC frame
PRIMING_SAMPLES = 1024  # the delay ffmpeg's AAC encoder puts before the first sample
OVERLAP_SAMPLES = 2048  # fed to a window's encoder beyond each side it keeps (two frames)
_ADTS_HEADER_BYTES = 7
_SLACK_SECONDS = 0.1  # beyond a clip's ends, for the frame rounding of transitions' spans


@dataclass(frozen=True)
class AudioWindow:
    """Samples [first, end) of the timeline's audio, encoded from `encode_first` to `encode_end`."""

    index: int
    first: int
    end: int
    encode_first: int
    encode_end: int

    @property
    def kept_frames(self) -> tuple[int, int]:
        """The frames [j0, j1) of the window's encode that the join keeps: those whose samples lie in
        [first, end), and for the first window the priming frame before them."""
        lead = (self.first - self.encode_first) // FRAME_SAMPLES
        keep_from = 0 if self.first == 0 else lead + 1
        return keep_from, math.ceil((self.end - self.encode_first) / FRAME_SAMPLES) + 1


def timeline_samples(duration: float) -> int:
    """The samples of a timeline of `duration` seconds (the single pass's `-t`)."""
    return round(duration * AUDIO_SAMPLE_RATE)


def spliced_frames(duration: float) -> int:
    """The AAC frames of a whole timeline's audio: its priming frame and one per 1024 samples begun."""
    return math.ceil(timeline_samples(duration) / FRAME_SAMPLES) + 1


def audio_window(window: ChunkWindow, *, fps: float, duration: float, total_frames: int) -> AudioWindow:
    """The audio window of the chunk `window` of a timeline of `duration` seconds (`total_frames`)."""
    total = timeline_samples(duration)
    first = 0 if window.start_frame == 0 else _frame_boundary(window.start_frame / fps)
    end = total if window.end_frame >= total_frames else _frame_boundary(window.end_frame / fps)
    if not 0 <= first < end <= total:
        raise RenderFailedError(f"chunk {window.index} has no audio window (samples {first} to {end})")
    return AudioWindow(
        index=window.index,
        first=first,
        end=end,
        encode_first=max(0, first - OVERLAP_SAMPLES),
        encode_end=min(total, end + OVERLAP_SAMPLES),
    )


def _frame_boundary(seconds: float) -> int:
    return round(seconds * AUDIO_SAMPLE_RATE / FRAME_SAMPLES) * FRAME_SAMPLES


# ---------------------------------------------------------------------------------------- planning
def sound_clips_near(composition: Composition, window: AudioWindow) -> list[Clip]:
    """The clips that may sound in `window`, and the other side of each of their transitions (it sets
    where a side's sound starts), so the window's plan places them as the whole timeline's does. A side
    of a transition plays on into it, half its length beyond the clip (and a frame's rounding)."""
    sounding = sound_clips(composition)
    reach = {c.id: [_SLACK_SECONDS, _SLACK_SECONDS] for c in sounding}  # seconds before, after
    for clip in sounding:
        if clip.transition is not None:
            half = clip.transition.duration / 2 + _SLACK_SECONDS
            reach[clip.id][0] = half
            if clip.transition.previous in reach:
                reach[clip.transition.previous][1] = half
    start, end = window.encode_first / AUDIO_SAMPLE_RATE, window.encode_end / AUDIO_SAMPLE_RATE
    near = {c.id for c in sounding if c.start - reach[c.id][0] < end and c.end + reach[c.id][1] > start}
    partners = {c.transition.previous for c in sounding if c.id in near and c.transition is not None} | {
        c.id for c in sounding if c.transition is not None and c.transition.previous in near
    }
    return [c for c in sounding if c.id in near or c.id in partners]


def window_plan(plan: RenderPlan, window: AudioWindow) -> RenderPlan:
    """`plan`'s audio between `window.encode_first` and `window.encode_end` (samples of the timeline),
    as a plan of its own: the tracks that play there, each cut where the window starts (its input sought
    that far, unless it loops or changes speed: then it is cut once decoded) and placed to the sample
    where the whole plan's delay puts it."""
    first, end = window.encode_first, window.encode_end
    inputs: list[InputSpec] = []
    tracks = []
    for track in plan.audios:
        clip = track.clip
        begins = clip.start - track.lead - track.lead_silence
        at = ms_samples(begins) if begins > 0 else 0  # where the whole plan's delay puts it
        silence = ms_samples(track.lead_silence)
        length = silence + round((track.lead + clip.duration + track.tail) * AUDIO_SAMPLE_RATE)
        if at >= end or at + length <= first:
            continue
        skip = max(0, first - at)
        spec = plan.inputs[track.input_index]
        cut = max(0, skip - silence) / AUDIO_SAMPLE_RATE * clip.speed  # source seconds skipped
        # the source read from the in-point up to the window's end: no further
        plays = end - max(first, at)
        used = max(0, skip + plays - silence) / AUDIO_SAMPLE_RATE * clip.speed + READ_MARGIN_SECONDS
        if spec.duration is not None:
            spec = replace(spec, duration=min(spec.duration, used))
        seeked = bool(cut) and not spec.loop and clip.speed == 1
        if seeked:
            spec = replace(
                spec, seek=spec.seek + cut, duration=None if spec.duration is None else spec.duration - cut
            )
        if spec not in inputs:
            inputs.append(spec)
        tracks.append(
            replace(
                track,
                input_index=inputs.index(spec),
                at_sample=max(0, at - first),
                skip_samples=skip,
                seeked=seeked,
            )
        )
    return replace(
        plan,
        duration=(end - first) / AUDIO_SAMPLE_RATE,
        inputs=tuple(inputs),
        base=(),
        overlays=(),
        audios=tuple(tracks),
    )


# ---------------------------------------------------------------------------------------- splicing
def adts_frames(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of each ADTS frame of `data`; RenderFailedError when it is not ADTS throughout."""
    frames = []
    at = 0
    while at < len(data):
        header = data[at : at + _ADTS_HEADER_BYTES]
        if len(header) < _ADTS_HEADER_BYTES or header[0] != 0xFF or header[1] & 0xF6 != 0xF0:
            raise RenderFailedError(f"a chunk's audio is not ADTS at byte {at}")
        length = ((header[3] & 0x03) << 11) | (header[4] << 3) | (header[5] >> 5)
        if length < _ADTS_HEADER_BYTES or at + length > len(data):
            raise RenderFailedError(f"a chunk's audio has a truncated frame at byte {at}")
        frames.append((at, length))
        at += length
    return frames


def keep_window_frames(encoded: Path, window: AudioWindow, target: Path) -> int:
    """Writes to `target` the frames of the window's encode (`encoded`, ADTS) that the join keeps;
    returns their count. RenderFailedError when the encode holds fewer frames than the window needs."""
    data = encoded.read_bytes()
    frames = adts_frames(data)
    keep_from, keep_to = window.kept_frames
    if len(frames) < keep_to:
        raise RenderFailedError(
            f"chunk {window.index}'s audio has {len(frames)} frames where its window needs {keep_to}"
        )
    target.write_bytes(b"".join(data[at : at + length] for at, length in frames[keep_from:keep_to]))
    return keep_to - keep_from


def splice(parts: Sequence[Path], target: Path, *, expected_frames: int | None = None) -> int:
    """Concatenates the chunks' kept frames (ADTS, in order) into `target`; returns the frame count.
    RenderFailedError when a part is not ADTS or the frames are not `expected_frames`."""
    count = 0
    with target.open("wb") as out:
        for part in parts:
            data = part.read_bytes()
            count += len(adts_frames(data))
            out.write(data)
    if expected_frames is not None and count != expected_frames:
        raise RenderFailedError(
            f"the chunks' audio holds {count} frames where the export has {expected_frames}"
        )
    return count


def priming_offset_seconds() -> str:
    """The `-itsoffset` that marks a spliced stream's priming frame as the encoder delay to skip (the
    mp4 muxer writes it as the edit list a single encode has)."""
    return f"-{PRIMING_SAMPLES / AUDIO_SAMPLE_RATE:.9f}"
