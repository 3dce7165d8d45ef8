"""A chunk's audio window: where it starts and ends, what of its encode the join keeps, how its plan
cuts each track, and the ADTS splice. Pure, but for one test that pins what ffmpeg's encoder emits."""

from __future__ import annotations

import math
import subprocess
from itertools import pairwise
from pathlib import Path

import pytest

from render import audio_windows, chunking
from render.audio_windows import FRAME_SAMPLES, OVERLAP_SAMPLES, AudioWindow
from render.chunking import ChunkWindow
from render.compiler import compile_plan, ms_samples
from render.composition import Clip, ClipKind, Composition, Transition
from render.encoding import AUDIO_SAMPLE_RATE
from render.errors import RenderFailedError
from render.frames import output_frames
from render.planner import READ_MARGIN_SECONDS, InputSpec, PlannedAudio, RenderPlan
from tests.markers import requires_ffmpeg

RATE = AUDIO_SAMPLE_RATE


def _composition(seconds: float, *clips: Clip) -> Composition:
    music = Clip("music", ClipKind.AUDIO, 0, 0.0, seconds, source_key="music.wav")
    return Composition(160, 90, 30, "#000000ff", clips=clips or (music,))


def _windows(composition: Composition, chunks: int = 5) -> list[AudioWindow]:
    cut = chunking.plan_chunks(composition, threshold_seconds=1, max_chunks=chunks, min_chunk_seconds=1)
    return [
        audio_windows.audio_window(
            w, fps=composition.fps, duration=composition.duration, total_frames=output_frames(composition)
        )
        for w in cut
    ]


def test_windows_meet_on_frame_boundaries_and_cover_the_timeline() -> None:
    composition = _composition(61.37)
    windows = _windows(composition)
    total = audio_windows.timeline_samples(61.37)
    assert windows[0].first == 0 and windows[-1].end == total
    for before, after in pairwise(windows):
        assert before.end == after.first
        assert after.first % FRAME_SAMPLES == 0
    for window in windows:
        assert window.encode_first == max(0, window.first - OVERLAP_SAMPLES)
        assert window.encode_end == min(total, window.end + OVERLAP_SAMPLES)


def test_the_kept_frames_add_up_to_one_encode_of_the_whole_timeline() -> None:
    """The first window keeps its priming frame; each frame j of a window's encode holds samples from
    encode_first + (j - 1) * 1024, so a kept frame starts inside its window."""
    for seconds in (61.37, 60.0, 95.021):
        windows = _windows(_composition(seconds))
        kept = [w.kept_frames for w in windows]
        assert kept[0][0] == 0
        assert sum(b - a for a, b in kept) == audio_windows.spliced_frames(seconds)
        for window, (first, end) in zip(windows[1:], kept[1:], strict=True):
            assert window.encode_first + (first - 1) * FRAME_SAMPLES == window.first
            assert window.encode_first + (end - 1) * FRAME_SAMPLES >= window.end


def _plan(*tracks: PlannedAudio, inputs: tuple[InputSpec, ...]) -> RenderPlan:
    return RenderPlan(160, 90, 30, "#000000ff", 60.0, inputs, (), (), tracks)


def _clip(name: str, start: float, end: float, **fields: object) -> Clip:
    return Clip(name, ClipKind.AUDIO, 0, start, end, source_key=f"{name}.wav", **fields)  # type: ignore[arg-type]


def test_a_window_plan_cuts_each_track_where_the_window_starts() -> None:
    plain = PlannedAudio(_clip("plain", 10.0004, 40, trim_start=2), 0)
    looping = PlannedAudio(_clip("loop", 0, 60, loop=True), 1)
    fast = PlannedAudio(_clip("fast", 5, 30, speed=2), 2)
    late = PlannedAudio(_clip("late", 50, 60), 3)
    inputs = (
        InputSpec(Path("plain.wav"), seek=2, duration=30.25),
        InputSpec(Path("loop.wav"), seek=0, duration=60.25, loop=True),
        InputSpec(Path("fast.wav"), seek=0, duration=50.25),
        InputSpec(Path("late.wav"), seek=0, duration=10.25),
    )
    window = AudioWindow(
        index=1, first=20 * RATE, end=30 * RATE, encode_first=20 * RATE - 2048, encode_end=30 * RATE + 2048
    )
    windowed = audio_windows.window_plan(_plan(plain, looping, fast, late, inputs=inputs), window)
    assert windowed.duration == (10 * RATE + 4096) / RATE
    by_name = {t.clip.id: t for t in windowed.audios}
    assert set(by_name) == {"plain", "loop", "fast"}  # "late" starts after the window
    # placed where the whole plan's delay (whole milliseconds) puts it, so it was cut that far in
    skip = window.encode_first - ms_samples(10.0004)
    assert (by_name["plain"].skip_samples, by_name["plain"].at_sample, by_name["plain"].seeked) == (
        skip,
        0,
        True,
    )
    sought = windowed.inputs[by_name["plain"].input_index]
    assert sought.seek == pytest.approx(2 + skip / RATE)
    # ... and read to the window's end, not the clip's
    assert sought.duration == pytest.approx(
        (window.encode_end - window.encode_first) / RATE + READ_MARGIN_SECONDS
    )
    # a looping input and a speed change are cut once decoded: their inputs are not sought
    assert not by_name["loop"].seeked and windowed.inputs[by_name["loop"].input_index].seek == 0
    assert not by_name["fast"].seeked and windowed.inputs[by_name["fast"].input_index].seek == 0


def test_a_track_that_starts_in_the_window_is_delayed_to_its_sample() -> None:
    starts = PlannedAudio(_clip("starts", 25.5, 40), 0)
    window = AudioWindow(
        index=1, first=20 * RATE, end=30 * RATE, encode_first=20 * RATE - 2048, encode_end=30 * RATE + 2048
    )
    windowed = audio_windows.window_plan(
        _plan(starts, inputs=(InputSpec(Path("starts.wav"), duration=14.75),)), window
    )
    (track,) = windowed.audios
    assert (track.at_sample, track.skip_samples) == (ms_samples(25.5) - window.encode_first, 0)
    argv = " ".join(compile_plan(windowed, Path("out.aac"), workdir=Path("."), video=False).argv)
    assert f"adelay=all=1:delays={track.at_sample}S" in argv


def test_a_transition_partner_is_planned_with_its_side() -> None:
    """The sound of a transition's side starts before its clip, set by the clip it comes from: the
    window plans both, even when the earlier clip is far from the window."""
    outgoing = Clip("a", ClipKind.VIDEO, 0, 0.0, 30.0, source_key="a.mp4")
    incoming = Clip(
        "b", ClipKind.VIDEO, 0, 30.0, 60.0, source_key="b.mp4", transition=Transition("fade", 1.0, "a")
    )
    quiet = Clip("c", ClipKind.AUDIO, 1, 0.0, 10.0, source_key="c.wav")
    composition = _composition(60, outgoing, incoming, quiet)
    window = AudioWindow(
        index=2, first=50 * RATE, end=60 * RATE, encode_first=50 * RATE - 2048, encode_end=60 * RATE
    )
    assert [c.id for c in audio_windows.sound_clips_near(composition, window)] == ["a", "b"]
    near_the_cut = AudioWindow(
        index=1,
        first=round(30.4 * RATE),
        end=40 * RATE,
        encode_first=round(30.4 * RATE) - 2048,
        encode_end=40 * RATE + 2048,
    )
    # the outgoing side plays half the transition past its end
    assert [c.id for c in audio_windows.sound_clips_near(composition, near_the_cut)] == ["a", "b"]


def test_adts_that_is_not_whole_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RenderFailedError, match="not ADTS"):
        audio_windows.adts_frames(b"\x00\x01\x02\x03\x04\x05\x06\x07")
    frame = bytes([0xFF, 0xF1, 0x50, 0x80, 0x02, 0x1F, 0xFC]) + bytes(9)  # one 16-byte frame
    assert audio_windows.adts_frames(frame * 3) == [(0, 16), (16, 16), (32, 16)]
    with pytest.raises(RenderFailedError, match="truncated"):
        audio_windows.adts_frames(frame * 2 + frame[:10])
    part = tmp_path / "0.aac"
    part.write_bytes(frame * 3)
    assert audio_windows.splice([part, part], tmp_path / "all.aac", expected_frames=6) == 6
    with pytest.raises(RenderFailedError, match="holds 6 frames where the export has 7"):
        audio_windows.splice([part, part], tmp_path / "all.aac", expected_frames=7)


@requires_ffmpeg
def test_the_encoder_emits_a_priming_frame_and_one_per_1024_samples_begun(tmp_path: Path) -> None:
    """What `AudioWindow.kept_frames` relies on, with the service's encoder settings."""
    window = AudioWindow(index=3, first=4096, end=4096 + 50_000, encode_first=2048, encode_end=4096 + 50_000)
    samples = window.encode_end - window.encode_first
    encoded = tmp_path / "window.aac"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"sine=f=500:r={RATE}",
         "-af", f"atrim=end_sample={samples}", "-c:a", "aac", "-b:a", "128k", "-f", "adts", str(encoded)],
        check=True,
    )  # fmt: skip
    assert len(audio_windows.adts_frames(encoded.read_bytes())) == math.ceil(samples / FRAME_SAMPLES) + 1
    kept = audio_windows.keep_window_frames(encoded, window, tmp_path / "kept.aac")
    assert kept == window.kept_frames[1] - window.kept_frames[0]
    short = AudioWindow(index=3, first=4096, end=200_000, encode_first=2048, encode_end=202_048)
    with pytest.raises(RenderFailedError, match="needs"):
        audio_windows.keep_window_frames(encoded, short, tmp_path / "kept.aac")


def test_chunk_window_edges_are_the_chunks_frames() -> None:
    window = audio_windows.audio_window(ChunkWindow(2, 900, 1800), fps=30, duration=100, total_frames=3000)
    assert window.first == round(30 * RATE / FRAME_SAMPLES) * FRAME_SAMPLES
    assert window.end == round(60 * RATE / FRAME_SAMPLES) * FRAME_SAMPLES
