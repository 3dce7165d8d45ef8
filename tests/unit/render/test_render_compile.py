"""The compiled ffmpeg command, checked as data before anything runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from render.compiler import compile_plan
from render.errors import RenderFailedError, RenderTimeoutError
from render.executor import parse_progress, run_ffmpeg
from render.model import ExportRequest
from render.planner import plan_render
from render.probe import MediaInfo, parse_probe

REQUEST = {
    "timeline": {
        "editorData": [
            {"id": "titles", "actions": [
                {"id": "t", "start": 0.5, "end": 2, "effectId": "text",
                 "data": {"text": "Hi: 100%", "fontSize": 20, "backgroundColor": "#00000080",
                          "align": "left"}},
            ]},
            {"id": "clips", "actions": [
                {"id": "a", "start": 0, "end": 2, "effectId": "video",
                 "data": {"src": "a.mp4", "trimStart": 1}},
                {"id": "b", "start": 2, "end": 3, "effectId": "video",
                 "data": {"src": "a.mp4", "speed": 2, "fit": "cover", "muted": True}},
            ]},
            {"id": "music", "actions": [
                {"id": "m", "start": 0.5, "end": 3, "effectId": "audio",
                 "data": {"src": "song.wav", "volume": 0.5, "fadeOut": 1}},
            ]},
        ]
    },
    "assets": [{"src": "a.mp4", "s3Key": "assets/a.mp4"}, {"src": "song.wav", "s3Key": "assets/song.wav"}],
    "output": {"width": 320, "height": 180, "fps": 15, "backgroundColor": "#102030"},
}  # fmt: skip
MEDIA = {
    "assets/a.mp4": MediaInfo(duration=10, has_video=True, has_audio=True, width=640, height=360, fps=25),
    "assets/song.wav": MediaInfo(duration=60, has_video=False, has_audio=True, sample_rate=44100),
}

EXPECTED_ARGV = [
    "ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error", "-progress", "pipe:1", "-nostats",
    "-f", "lavfi", "-i", "color=c=0x102030@1.000:s=320x180:r=15:d=3",
    "-protocol_whitelist", "file", "-ss", "1", "-t", "2.25", "-i", "file:/a/assets/a.mp4",
    "-protocol_whitelist", "file", "-t", "2.25", "-i", "file:/a/assets/a.mp4",
    "-protocol_whitelist", "file", "-t", "2.75", "-i", "file:/a/assets/song.wav",
    "-filter_complex",
    "[0:v]format=yuv420p[s0];"
    "[1:v]trim=duration=2[s1];[s1]setpts=PTS-STARTPTS+0/TB[s2];[s2]scale=320:180:force_divisible_by=2"
    ":force_original_aspect_ratio=decrease[s3];[s3]setsar=1[s4];"
    "[s0][s4]overlay=enable=gte(t\\,-0.0001)*lt(t\\,1.9999):eof_action=pass:x=0+(320-overlay_w)/2"
    ":y=0+(180-overlay_h)/2[s5];"
    "[2:v]trim=duration=2[s6];[s6]setpts=(PTS-STARTPTS)/2+2/TB[s7];"
    "[s7]scale=320:180:force_original_aspect_ratio=increase[s8];[s8]crop=320:180[s9];[s9]setsar=1[s10];"
    "[s5][s10]overlay=enable=gte(t\\,1.9999)*lt(t\\,2.9999):eof_action=pass:x=0:y=0[s11];"
    "[s11]drawtext=box=1:boxborderw=5:boxcolor=0x000000@0.502:enable=gte(t\\,0.4999)*lt(t\\,1.9999)"
    ":expansion=none:fontcolor=0xffffff@1.000:fontfile=/fonts/F.ttf:fontsize=20"
    ":textfile=/work/text-0.txt:x=0:y=0+(180-text_h)/2[s12];"
    "[s12]format=yuv420p[s13];"
    "anullsrc=cl=stereo:r=48000[s14];[s14]atrim=duration=3[s15];"
    "[3:a]atrim=duration=2.5[s16];[s16]asetpts=PTS-STARTPTS[s17];[s17]aresample=48000[s18];"
    "[s18]aformat=channel_layouts=stereo:sample_fmts=fltp[s19];[s19]volume=0.5[s20];"
    "[s20]afade=d=1:st=1.5:t=out[s21];[s21]adelay=all=1:delays=500[s22];"
    "[1:a]atrim=duration=2[s23];[s23]asetpts=PTS-STARTPTS[s24];[s24]aresample=48000[s25];"
    "[s25]aformat=channel_layouts=stereo:sample_fmts=fltp[s26];"
    "[s15][s22][s26]amix=dropout_transition=0:duration=first:inputs=3:normalize=0[s27]",
    "-map", "[s13]", "-map", "[s27]",
    "-f", "mp4", "-ac", "2", "-ar", "48000", "-b:a", "128k", "-c:a", "aac", "-c:v", "libx264", "-crf", "23",
    "-movflags", "+faststart", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-r", "15", "-t", "3",
    "file:/out/x.mp4",
]  # fmt: skip


def test_compiled_command_snapshot() -> None:
    request = ExportRequest.model_validate(REQUEST)
    plan = plan_render(request.to_composition(), MEDIA, Path("/a"))
    command = compile_plan(plan, Path("/out/x.mp4"), workdir=Path("/work"), font="/fonts/F.ttf")
    assert command.files == {Path("/work/text-0.txt"): "Hi: 100%"}
    assert command.argv == EXPECTED_ARGV, "\n".join(command.argv)


def test_the_same_input_used_twice_is_split() -> None:
    request = ExportRequest.model_validate(
        REQUEST
        | {
            "timeline": {
                "editorData": [
                    {
                        "id": "r",
                        "actions": [{"id": "a", "start": 0, "end": 1, "type": "video", "src": "a.mp4"}],
                    },
                    {
                        "id": "s",
                        "actions": [{"id": "b", "start": 0, "end": 1, "type": "video", "src": "a.mp4"}],
                    },
                ]
            }
        }
    )
    plan = plan_render(request.to_composition(), MEDIA, Path("/a"))
    assert len(plan.inputs) == 1
    argv = compile_plan(plan, Path("/o.mp4"), workdir=Path("/w")).argv
    graph = argv[argv.index("-filter_complex") + 1]
    assert "[1:v]split=2" in graph and "[1:a]asplit=2" in graph


def test_progress_lines_become_fractions() -> None:
    lines = [
        "frame=1",
        "out_time_us=N/A",
        "out_time_us=500000",
        "progress=continue",
        "out_time_us=2000000",
        "progress=end",
    ]
    assert list(parse_progress(lines, 2.0)) == [0.25, 1.0, 1.0]


def test_probe_output_is_parsed() -> None:
    rotated = parse_probe(
        {
            "streams": [
                {"codec_type": "video", "codec_name": "h264", "width": 1920, "height": 1080,
                 "avg_frame_rate": "30000/1001", "side_data_list": [{"rotation": -90}]},
                {"codec_type": "audio", "sample_rate": "44100"},
            ],
            "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "12.5"},
        }
    )  # fmt: skip
    assert (rotated.width, rotated.height, rotated.rotation, rotated.duration) == (1080, 1920, 270, 12.5)
    assert rotated.fps == pytest.approx(29.97, abs=0.01) and rotated.has_audio and not rotated.is_still
    png = parse_probe(
        {"streams": [{"codec_type": "video", "codec_name": "png", "width": 4, "height": 4}],
         "format": {"format_name": "png_pipe"}}
    )  # fmt: skip
    assert png.is_still and png.duration is None


@pytest.mark.slow
def test_ffmpeg_failure_carries_code_and_stderr_tail() -> None:
    with pytest.raises(RenderFailedError) as info:
        run_ffmpeg(
            ["ffmpeg", "-v", "error", "-i", "file:/nonexistent/x.mp4", "-f", "null", "-"], total_seconds=1
        )
    assert info.value.code == "RENDER_FAILED"
    assert "/nonexistent" in info.value.stderr_tail and "/nonexistent" not in info.value.message


@pytest.mark.slow
def test_ffmpeg_is_stopped_at_the_time_limit() -> None:
    argv = ["ffmpeg", "-v", "error", "-re", "-f", "lavfi", "-i", "color=s=16x16:d=30", "-f", "null", "-"]
    with pytest.raises(RenderTimeoutError) as info:
        run_ffmpeg(argv, total_seconds=30, timeout_seconds=0.5)
    assert info.value.code == "RENDER_TIMEOUT"


@pytest.mark.slow
def test_cli_plan_prints_the_command(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=s=32x32:d=1",
            str(tmp_path / "assets" / "a.mp4"),
        ],
        check=True,
    )
    request = tmp_path / "req.json"
    request.write_text(
        '{"timeline": {"editorData": [{"id": "r", "actions": [{"id": "a", "start": 0, "end": 1,'
        ' "effectId": "video", "data": {"src": "a"}}]}]}, "assets": [{"src": "a", "s3Key": "assets/a.mp4"}]}'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "render", str(request), "--assets-dir", str(tmp_path), "--plan"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.startswith("ffmpeg ") and "-filter_complex" in proc.stdout
    bad = tmp_path / "bad.json"
    bad.write_text('{"timeline": {"editorData": []}}')
    proc = subprocess.run(
        [sys.executable, "-m", "render", str(bad), "--assets-dir", str(tmp_path), "--output", "x.mp4"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "timeline.editorData: " in proc.stderr
