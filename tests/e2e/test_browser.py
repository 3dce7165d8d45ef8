"""The browser half of an export, in headless Chromium against the local stack (`make demo`'s page).

The page uploads a video and a music file straight to the presigned S3 URLs, starts a Melies export
through the demo backend (which signs with the secret the page never sees) and plays the result from the
presigned download URL. A wrong CORS rule on either bucket fails this test: the upload is a cross-origin
PUT with a signed Content-Type (a pre-flight), and the `<video crossorigin>` may only be drawn to a canvas
when the exports bucket allows the page's origin. The same page served from an origin not in
`cors_allowed_origins` must be refused by the buckets.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Browser, Page, Response, sync_playwright

from tests.browser_demo import free_port, serving_demo
from tests.e2e import media
from tests.e2e.stack import TIMINGS, Stack

RED, BLUE = (255, 0, 0), (0, 0, 255)
RENDER_TIMEOUT_S = 300
# Debian's chromium package: the binary itself, else its wrapper script. Never a downloaded browser.
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", shutil.which("chromium") or "")
VIDEO_CHECKS_JS = """
async ({ times }) => {
  const video = document.getElementById("result");
  if (video.readyState < 2) throw new Error(`no decoded frame: readyState ${video.readyState}`);
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const pixels = [];
  for (const time of times) {
    await new Promise((resolve) => {
      video.addEventListener("seeked", resolve, { once: true });
      video.currentTime = time;
    });
    context.drawImage(video, 0, 0);  // a frame the browser decoded; getImageData throws on a tainted canvas
    const [r, g, b] = context.getImageData(canvas.width >> 1, canvas.height >> 1, 1, 1).data;
    pixels.push([r, g, b]);
  }
  video.muted = true;
  video.currentTime = 0;
  await video.play();
  const started = performance.now();
  while (video.currentTime < 0.5 && performance.now() - started < 20000) {  // plays, or gives up
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  video.pause();
  return { duration: video.duration, width: video.videoWidth, height: video.videoHeight,
           pixels, playedTo: video.currentTime, origin: location.origin };
}
"""


@pytest.fixture(scope="module")
def demo_url(stack: Stack) -> Iterator[str]:
    """The demo on the origin the local root allows (its `demo_url` output)."""
    url: str = stack.outputs["demo_url"]
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" in stack.outputs["cors_allowed_origins"]
    with serving_demo(stack.api_url, stack.secret, parts.port or 80) as served:
        yield served


@pytest.fixture(scope="module")
def foreign_url(stack: Stack) -> Iterator[str]:
    """The same demo on an origin that is not in `cors_allowed_origins`."""
    port = free_port()
    assert f"http://127.0.0.1:{port}" not in stack.outputs["cors_allowed_origins"]
    with serving_demo(stack.api_url, stack.secret, port) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = next((path for path in CHROMIUM_CANDIDATES if path and Path(path).exists()), None)
    assert executable, "Debian's chromium is missing (make system-deps installs it)"
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        launched = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def picked_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """What a person picks: a 4 s clip (2 s red at 440 Hz, then 2 s blue at 1000 Hz) and 6 s of music."""
    folder = tmp_path_factory.mktemp("browser-media")
    return {
        "video": media.two_tone_clip(folder / "holiday.mp4"),
        "music": media.music_track(folder / "song.mp3", seconds=6.0),
    }


def _pick_and_export(page: Page, url: str, files: dict[str, Path]) -> str:
    """Opens the page, picks both files, submits, and returns the final status's state."""
    page.goto(url)
    page.set_input_files("#video-file", files["video"])
    page.set_input_files("#music-file", files["music"])
    page.click("#export-button")
    page.wait_for_function(
        "['done', 'failed'].includes(document.getElementById('status').dataset.state)",
        timeout=RENDER_TIMEOUT_S * 1000,
    )
    return str(page.get_attribute("#status", "data-state"))


def test_the_page_uploads_exports_and_plays_the_result(
    stack: Stack, browser: Browser, demo_url: str, picked_files: dict[str, Path]
) -> None:
    page = browser.new_page()
    received: list[Response] = []
    page.on("response", lambda response: received.append(response))  # noqa: PLW0108 - Playwright cannot wrap a builtin
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    started = time.perf_counter()

    state = _pick_and_export(page, demo_url, picked_files)

    status_text = page.text_content("#status")
    assert state == "done", f"{status_text}; console: {console}"
    TIMINGS["browser export (pick → playable)"] = f"{time.perf_counter() - started:.1f} s"
    checks: dict[str, Any] = page.evaluate(VIDEO_CHECKS_JS, {"times": [1.0, 3.0]})
    expected_seconds = float(media.probe(picked_files["video"])["format"]["duration"])
    assert abs(checks["duration"] - expected_seconds) < 0.2, checks
    assert (checks["width"], checks["height"]) == (640, 360), checks
    red_frame, blue_frame = ((r, g, b) for r, g, b in checks["pixels"])
    assert media.close_to(red_frame, RED), checks  # the clip's first two seconds
    assert media.close_to(blue_frame, BLUE), checks  # its last two
    assert checks["playedTo"] >= 0.5, checks

    # Uploads went from the browser to S3, not through the backend; the page's own calls never
    # carried or received the secret.
    s3_puts = [r for r in received if r.request.method == "PUT" and r.url.startswith(stack.endpoint_url)]
    assert len(s3_puts) == 2 and all(r.ok for r in s3_puts), [(r.url, r.status) for r in s3_puts]
    page_origin = demo_url.rstrip("/")
    own = [r for r in received if r.url.startswith(page_origin)]
    assert any("/api/export/" in r.url for r in own)
    # the quote was shown before the export started
    assert any(r.url.endswith("/api/quote") and r.ok for r in own)
    assert str(page.text_content("#quote")).startswith("Quote: ")
    for response in own:
        assert stack.secret not in response.text(), response.url
        assert stack.secret not in str(response.request.all_headers()), response.url
    for response in received:
        assert stack.secret not in str(response.all_headers()), response.url
    page.close()


def test_a_page_on_an_origin_not_allowed_is_refused_by_the_buckets(
    stack: Stack, browser: Browser, foreign_url: str, picked_files: dict[str, Path]
) -> None:
    page = browser.new_page()
    state = _pick_and_export(page, foreign_url, picked_files)
    assert state == "failed"
    assert "refused the upload" in str(page.text_content("#status"))

    # Reading an export from that origin is refused too (the URL is valid: a server gets the bytes).
    exports = stack.client("s3")
    key = "exports/browser-cors-probe.mp4"
    exports.put_object(Bucket=stack.outputs["exports_bucket_name"], Key=key, Body=b"not a video")
    download_url = exports.generate_presigned_url(
        "get_object", Params={"Bucket": stack.outputs["exports_bucket_name"], "Key": key}, ExpiresIn=300
    )
    assert requests.get(download_url, timeout=30).status_code == 200
    outcome = page.evaluate(
        "async (url) => { try { await fetch(url); return 'read'; } catch (e) { return e.name; } }",
        download_url,
    )
    assert outcome == "TypeError"
    page.close()


@pytest.mark.parametrize(
    ("bucket", "method", "header"),
    [("assets_bucket_name", "PUT", "content-type"), ("exports_bucket_name", "GET", "range")],
)
def test_preflights_are_answered_for_allowed_origins_only(
    stack: Stack, bucket: str, method: str, header: str
) -> None:
    url = f"{stack.endpoint_url}/{stack.outputs[bucket]}/{'assets' if method == 'PUT' else 'exports'}/x.mp4"

    def preflight(origin: str) -> requests.Response:
        return requests.options(
            url,
            headers={"Origin": origin, "Access-Control-Request-Method": method,
                     "Access-Control-Request-Headers": header},
            timeout=30,
        )  # fmt: skip

    allowed = stack.outputs["cors_allowed_origins"][0]
    answer = preflight(allowed)
    assert answer.headers.get("Access-Control-Allow-Origin") == allowed, (answer.status_code, answer.headers)
    assert method in answer.headers.get("Access-Control-Allow-Methods", ""), answer.headers
    refused = preflight(f"http://127.0.0.1:{free_port()}")
    assert "Access-Control-Allow-Origin" not in refused.headers, (refused.status_code, refused.headers)
    assert refused.status_code == 403, refused.status_code
