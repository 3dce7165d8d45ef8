"""The demo page's Cancel button, in headless Chromium against the local stack: a long export is started
from the page and cancelled while it renders; the page shows it cancelled, and nothing of it is kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.e2e import media
from tests.e2e.stack import Stack
from tests.e2e.test_browser import browser, demo_url  # noqa: F401 - the fixtures, shared

RENDER_START_TIMEOUT_S = 240
CANCEL_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def long_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """30 s of moving noise (under the local fan-out threshold, slow to encode) and music."""
    folder = tmp_path_factory.mktemp("browser-cancel")
    return {
        "video": media.busy_clip(folder / "long.mp4", seconds=30.0),
        "music": media.music_track(folder / "song.mp3", seconds=6.0),
    }


def test_the_cancel_button_stops_the_export(
    stack: Stack,
    browser: Browser,  # noqa: F811
    demo_url: str,  # noqa: F811
    long_files: dict[str, Path],
) -> None:
    page = browser.new_page()
    page.goto(demo_url)
    assert page.is_disabled("#cancel-button")  # nothing to cancel yet
    page.set_input_files("#video-file", long_files["video"])
    page.set_input_files("#music-file", long_files["music"])
    page.click("#export-button")
    page.wait_for_function(
        "document.getElementById('status').textContent.startsWith('Rendering… ') &&"
        " !document.getElementById('status').textContent.startsWith('Rendering… 0 %')",
        timeout=RENDER_START_TIMEOUT_S * 1000,
    )
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        page.click("#cancel-button")
    answer = deleted.value
    assert answer.status == 200, answer.text()
    job_id = answer.json()["jobId"]
    assert answer.json()["status"] in ("CANCELLING", "CANCELLED")

    page.wait_for_function(
        "['cancelled', 'done', 'failed'].includes(document.getElementById('status').dataset.state)",
        timeout=CANCEL_TIMEOUT_S * 1000,
    )
    assert page.get_attribute("#status", "data-state") == "cancelled", page.text_content("#status")
    assert page.text_content("#status") == "Export cancelled."
    assert page.is_disabled("#cancel-button") and page.is_enabled("#export-button")
    assert page.is_hidden("#result")
    final = stack.request("GET", f"/export/{job_id}").json()
    assert final["status"] == "CANCELLED", final
    listing = stack.client("s3").list_objects_v2(
        Bucket=stack.outputs["exports_bucket_name"], Prefix=f"exports/{job_id}"
    )
    assert listing.get("KeyCount", 0) == 0, listing
    page.close()
