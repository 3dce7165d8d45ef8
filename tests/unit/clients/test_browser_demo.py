"""examples/browser_demo: the page's Melies timeline is a valid export, and the backend signs only the
page's three calls, against the moto-backed API over HTTP, without ever handing out the secret."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from render.model import ExportRequest
from tests.browser_demo import free_port, serving_demo
from tests.unit.api.api_stack import SECRET
from tests.unit.clients.api_server import ApiServer

PAGE = Path(__file__).resolve().parents[3] / "examples" / "browser_demo" / "page"


def _page_export(video_seconds: float) -> dict[str, object]:
    script = (
        f"import {{ meliesExport }} from {json.dumps((PAGE / 'timeline.js').as_uri())};"
        "const video = { src: 'video:holiday.mp4', name: 'holiday.mp4', duration: %s };"
        "const music = { src: 'music:song.mp3', name: 'song.mp3', duration: 2.5 };"
        "console.log(JSON.stringify(meliesExport({ video, music })));" % video_seconds
    )
    out = subprocess.run(
        ["node", "--input-type=module", "-e", script], check=True, capture_output=True, text=True
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_the_pages_timeline_is_the_video_lane_and_the_music_lane_of_melies() -> None:
    body = _page_export(4.0004)
    body["assets"] = [
        {"src": "video:holiday.mp4", "s3Key": "assets/a.mp4"},
        {"src": "music:song.mp3", "s3Key": "assets/b.mp3"},
    ]
    request = ExportRequest.model_validate(body)
    composition = request.to_composition()
    assert composition.duration == pytest.approx(4.0)  # the video's length, to the millisecond
    picture = [(c.id, c.start, c.end) for c in composition.clips if c.kind == "video"]
    sound = {c.id: c.loop for c in composition.clips if c.kind == "audio"}
    assert picture == [("v1", 0, pytest.approx(4.0))]
    assert sound == {"v1-sound": True, "m1": True}  # the music loops to the timeline's length
    assert (request.output.width, request.output.height) == (640, 360)


@pytest.fixture
def demo(api: ApiServer) -> Iterator[str]:
    with serving_demo(api.url, SECRET, free_port()) as url:
        yield url


def test_the_backend_signs_the_pages_calls_and_never_hands_out_the_secret(api: ApiServer, demo: str) -> None:
    origin = demo.rstrip("/")
    page = requests.get(demo, timeout=10)
    assert page.status_code == 200 and 'id="video-file"' in page.text
    scripts = [requests.get(demo + name, timeout=10) for name in ("app.js", "timeline.js")]
    assert all(s.status_code == 200 and "javascript" in s.headers["content-type"] for s in scripts)

    presigned = requests.post(
        demo + "api/presign",
        json={"assets": [{"src": "video:a.mp4", "contentType": "video/mp4", "ext": ".mp4", "size": 10}]},
        headers={"Origin": origin},
        timeout=10,
    )
    assert presigned.status_code == 200, presigned.text
    upload = presigned.json()["uploads"][0]
    assert upload["s3Key"].startswith("assets/") and upload["headers"]["Content-Type"] == "video/mp4"
    calls = api.api_calls()
    assert [(c.method, c.path) for c in calls] == [("POST", "/v1/export/presign")]
    assert {"x-base44-signature", "x-base44-timestamp"} <= {k.lower() for k in calls[0].headers}

    missing = requests.get(demo + "api/export/0b5e9d3c-0000-4000-8000-000000000000", timeout=10)
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"  # the API's answer, passed on
    invalid = requests.post(demo + "api/export", json={"timeline": {"editorData": "x"}}, timeout=10)
    assert invalid.status_code == 400 and invalid.json()["code"] == "VALIDATION_ERROR", invalid.text
    # the Cancel button's call: DELETE /export/<jobId>, signed, the API's answer passed on
    cancel = requests.delete(demo + "api/export/0b5e9d3c-0000-4000-8000-000000000000", timeout=10)
    assert cancel.status_code == 404 and cancel.json()["code"] == "NOT_FOUND", cancel.text
    deleted = api.api_calls()[-1]
    assert (deleted.method, deleted.path) == ("DELETE", "/v1/export/0b5e9d3c-0000-4000-8000-000000000000")
    assert {"x-base44-signature", "x-base44-timestamp"} <= {k.lower() for k in deleted.headers}
    for response in (page, *scripts, presigned, missing, invalid, cancel):
        assert SECRET not in response.text and SECRET not in str(response.headers)


@pytest.mark.parametrize(
    "case",
    [
        ("POST", "api/presign", {"json": {"assets": []}, "headers": {"Origin": "http://evil.example"}}, 403,
         "FORBIDDEN_ORIGIN"),
        ("POST", "api/presign", {"data": b"{not json", "headers": {"content-type": "application/json"}}, 400,
         "INVALID_JSON"),
        ("POST", "api/presign", {"data": b"[" * (1024 * 1024 + 1)}, 413, "PAYLOAD_TOO_LARGE"),
        ("POST", "api/export", {"data": b"null"}, 400, "INVALID_JSON"),
        ("GET", "api/export/../../etc/passwd", {}, 404, "NOT_FOUND"),
        ("GET", "server.mjs", {}, 404, "NOT_FOUND"),
        ("PUT", "api/export/abc", {}, 404, "NOT_FOUND"),
        ("DELETE", "api/export/../x", {}, 404, "NOT_FOUND"),
    ],
)  # fmt: skip
def test_the_backend_refuses_what_the_page_never_sends(
    api: ApiServer, demo: str, case: tuple[str, str, dict[str, object], int, str]
) -> None:
    method, path, kwargs, status, code = case
    response = requests.request(method, demo + path, timeout=10, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert api.api_calls() == []


def test_the_demo_port_is_the_one_the_local_root_allows() -> None:
    """`make demo`, the backend's own default and the local buckets' CORS origin name one port."""
    root = PAGE.parents[2]
    variables = (root / "terraform" / "envs" / "local" / "variables.tf").read_text()
    port = re.search(r'variable "demo_port" \{.*?default\s*=\s*(\d+)', variables, re.S)
    assert port, "terraform/envs/local/variables.tf lost demo_port"
    assert f"Number(env.DEMO_PORT || {port[1]})" in (PAGE.parent / "server.mjs").read_text()
    assert f"http://127.0.0.1:{port[1]}/" in (root / "Makefile").read_text()
