"""ffmpeg and ffprobe parse uploads with nothing they do not need: no AWS credentials in their environment,
and only the demuxers of the media types the API accepts (``render.confinement``)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from render.confinement import ALLOWED_DEMUXERS, DEMUXER_ALLOW_LIST, KEPT_VARIABLES, tool_environment
from render.errors import InvalidMediaError
from render.model import ExportRequest
from render.pipeline import render_export
from render.probe import probe
from tests.markers import requires_ffmpeg

pytestmark = requires_ffmpeg

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE00",
    "AWS_SECRET_ACCESS_KEY": "secret-that-ffmpeg-must-not-see",
    "AWS_SESSION_TOKEN": "token-that-ffmpeg-must-not-see",
    "AWS_LAMBDA_FUNCTION_NAME": "video-export-worker",
    "SIGNING_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:x",
}


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-v", "error", "-y", *args], check=True)


def _recording_wrapper(tool: str, directory: Path) -> Path:
    """A stand-in for ``tool`` that writes the environment it was given, then runs the real one."""
    real = shutil.which(tool)
    assert real is not None
    wrapper = directory / tool
    wrapper.write_text(
        f"#!/bin/sh\nenv >> {shlex.quote(str(directory / f'{tool}.env'))}\n"
        f'echo "--" >> {shlex.quote(str(directory / f"{tool}.env"))}\nexec {shlex.quote(real)} "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


def test_ffmpeg_and_ffprobe_are_spawned_without_aws_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a worker process with AWS credentials and settings in its environment
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "assets").mkdir()
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "color=red:s=64x36:r=10:d=1",
        "-pix_fmt",
        "yuv420p",
        str(tmp_path / "assets" / "red.mp4"),
    )
    tools = tmp_path / "tools"
    tools.mkdir()
    request = ExportRequest.model_validate(
        {
            "timeline": {
                "editorData": [
                    {"id": "v", "actions": [{"id": "a", "start": 0, "end": 1, "effectId": "video",
                                              "data": {"src": "red.mp4"}}]}
                ]
            },
            "assets": [{"src": "red.mp4", "s3Key": "assets/red.mp4"}],
            "output": {"width": 64, "height": 36, "fps": 10},
        }
    )  # fmt: skip
    # When a render spawns both tools
    render_export(
        request,
        tmp_path,
        tmp_path / "out.mp4",
        ffmpeg=str(_recording_wrapper("ffmpeg", tools)),
        ffprobe=str(_recording_wrapper("ffprobe", tools)),
    )
    # Then each got only the kept variables: no AWS_* (credentials, region, function), no settings
    for tool in ("ffmpeg", "ffprobe"):
        runs = (tools / f"{tool}.env").read_text().split("--\n")
        environments = [dict(line.split("=", 1) for line in run.splitlines() if "=" in line) for run in runs]
        environments = [env for env in environments if env]
        assert environments, f"{tool} was not run"
        for env in environments:
            names = set(env) - {"PWD", "SHLVL", "_", "OLDPWD"}  # the wrapper's shell adds these
            assert not {n for n in names if n.startswith("AWS_")}, (tool, names)
            assert names <= KEPT_VARIABLES, (tool, names - KEPT_VARIABLES)
            assert not set(CREDENTIALS.values()) & set(env.values())
    assert (tmp_path / "out.mp4").stat().st_size > 0


def test_the_environment_keeps_what_the_tools_need_and_nothing_else() -> None:
    given = {
        "PATH": "/usr/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "FONTCONFIG_PATH": "/etc/fonts",
        **CREDENTIALS,
    }
    assert tool_environment(given) == {
        "PATH": "/usr/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "FONTCONFIG_PATH": "/etc/fonts",
    }


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("clip.flv", ["-f", "lavfi", "-i", "color=red:s=64x36:r=10:d=1", "-f", "flv"]),
        ("clip.nut", ["-f", "lavfi", "-i", "color=red:s=64x36:r=10:d=1", "-pix_fmt", "yuv420p",
                      "-f", "nut"]),
    ],
)  # fmt: skip
def test_a_file_of_a_demuxer_not_on_the_list_is_invalid_media(
    tmp_path: Path, name: str, args: list[str]
) -> None:
    # Given a readable video in a container the API does not accept (its content, not its name, decides)
    path = tmp_path / name
    _ffmpeg(*args, str(path))
    disguised = path.rename(tmp_path / "clip.mp4")
    plain = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", str(disguised)], capture_output=True, check=False
    )
    assert plain.returncode == 0, "ffprobe itself reads it"
    # When it is probed, Then it is refused as INVALID_MEDIA
    with pytest.raises(InvalidMediaError) as refused:
        probe(disguised)
    assert refused.value.code == "INVALID_MEDIA"
    assert "not on whitelist" in (refused.value.stderr_tail or "")


def test_an_hls_playlist_is_not_opened(tmp_path: Path) -> None:
    """A playlist would make ffmpeg fetch what it names; its demuxer is not on the list."""
    _ffmpeg("-f", "lavfi", "-i", "color=red:s=64x36:r=10:d=1", "-f", "hls", str(tmp_path / "list.m3u8"))
    with pytest.raises(InvalidMediaError):
        probe(tmp_path / "list.m3u8")


def test_every_accepted_kind_opens(tmp_path: Path) -> None:
    # long enough that the truncation check seeks (its tail read starts 3 s before the end)
    cases = {
        "a.mp4": ["-f", "lavfi", "-i", "color=red:s=64x36:r=10:d=5", "-pix_fmt", "yuv420p"],
        "a.webm": ["-f", "lavfi", "-i", "color=red:s=64x36:r=10:d=5", "-c:v", "libvpx", "-b:v", "100k"],
        "a.mp3": ["-f", "lavfi", "-i", "sine=d=6"],
        "a.wav": ["-f", "lavfi", "-i", "sine=d=6"],
        "a.ogg": ["-f", "lavfi", "-i", "sine=d=6", "-c:a", "libopus"],
        "a.png": ["-f", "lavfi", "-i", "color=red:s=64x36", "-frames:v", "1"],
        "a.jpg": ["-f", "lavfi", "-i", "color=red:s=64x36", "-frames:v", "1"],
    }
    for name, args in cases.items():
        _ffmpeg(*args, str(tmp_path / name))
        info = probe(tmp_path / name)
        assert info.has_video or info.has_audio, name


def test_the_list_is_one_value() -> None:
    assert DEMUXER_ALLOW_LIST.split(",") == list(ALLOWED_DEMUXERS)
    assert "hls" not in ALLOWED_DEMUXERS and "concat" not in ALLOWED_DEMUXERS
