"""A Melies editor snapshot through the Node client, from presign to downloaded mp4, as the player shows it.

The snapshot is what `getTimelineSnapshot()` returns (lanes V2, V1, A2, A1, `base44-asset:` keys,
editor-only fields), posted by `exportVideo` of clients/node exactly as a Base44 backend function would.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from render.limits import DEFAULT_HEIGHT, DEFAULT_WIDTH
from tests import audio_levels
from tests.e2e import media
from tests.e2e.stack import TIMINGS, Stack

RED, BLUE, YELLOW, BLACK = (255, 0, 0), (0, 0, 255), (255, 255, 0), (0, 0, 0)
PRESENT, ABSENT = (
    0.04,
    0.012,
)  # tone amplitudes (sources are sines of amplitude 1/8; AAC and mp3 blur a little)
CENTER, LEFT_EDGE = (DEFAULT_WIDTH // 2, DEFAULT_HEIGHT // 2), (40, DEFAULT_HEIGHT // 2)


def _action(effect: str, start: float, end: float, src: str, **data: Any) -> dict[str, Any]:
    name = src.split(":", 1)[1]
    editor_only = {"selected": False, "flexible": True, "movable": True}
    data = {"src": src, "previewSrc": f"blob:https://app.example/{name}", "name": name, **data}
    return {
        "id": f"{effect}-{start}",
        "start": start,
        "end": end,
        "effectId": effect,
        **editor_only,
        "data": data,
    }


def _snapshot() -> dict[str, Any]:
    clip, phone, music = "base44-asset:4f1c-clip", "base44-asset:9b2e-phone", "base44-asset:77aa-music"
    v2 = [_action("effect1", 2.0, 2.8, phone, videoLayer=1, linkId="p")]
    v1 = [
        _action("effect1", 0, 1, clip, linkId="c1", videoLayer=0),  # red, 440 Hz
        _action("effect1", 1.05, 3, clip, linkId="c2", videoLayer=0, offset=2),  # split: blue, 1000 Hz
        _action("effect1", 4, 5.5, clip, linkId="c3", videoLayer=0, offset=0.2),  # after a 1 s gap, no audio
    ]
    a2 = [_action("effect0", 3, 6, music)]  # 1.5 s of music on a 3 s action: it loops
    a1 = [
        _action("effect2", 0, 1, clip, linkId="c1"),
        _action("effect2", 1.05, 3, clip, linkId="c2", offset=2),
        _action("effect2", 2.0, 2.8, phone, linkId="p"),  # the phone clip has no audio stream
    ]
    lanes = [v2, v1, a2, a1]
    return {"version": 1, "selectedActionId": "effect1-1.05", "timelineScaleWidth": 160,
            "editorData": [{"id": str(i), "actions": lane} for i, lane in enumerate(lanes)]}  # fmt: skip


def test_a_melies_snapshot_renders_as_the_player_previews_it(
    stack: Stack, media_dir: Path, downloads: Path
) -> None:
    files = {
        "base44-asset:4f1c-clip": (media.two_tone_clip(media_dir / "clip.mp4"), "video/mp4", ".mp4"),
        "base44-asset:9b2e-phone": (
            media.silent_clip(media_dir / "phone.mp4", "yellow"),
            "video/mp4",
            ".mp4",
        ),
        "base44-asset:77aa-music": (media.two_tone_music(media_dir / "music.mp3"), "audio/mpeg", ".mp3"),
    }
    assets = [
        {"src": src, "path": str(path), "contentType": kind, "ext": ext}
        for src, (path, kind, ext) in files.items()
    ]
    job_file = downloads / "melies-job.json"
    job_file.write_text(json.dumps({"timeline": _snapshot(), "assets": assets}))
    target = downloads / "melies.mp4"
    started = time.perf_counter()
    final, _ = stack.node_export(job_file, target)
    TIMINGS["melies export (node client), files → downloaded"] = f"{time.perf_counter() - started:.2f} s"
    assert final["status"] == "SUCCEEDED", final
    assert abs(final["output"]["durationSeconds"] - 6.0) < 0.1

    def shows(at: float, where: tuple[int, int], color: tuple[int, int, int]) -> bool:
        return media.close_to(media.pixel(target, at, *where), color)

    assert shows(0.5, CENTER, RED)
    assert shows(1.02, CENTER, RED)  # the 0.05 s gap between the split halves holds the last frame
    assert shows(1.5, CENTER, BLUE)  # the right half continues at its offset, in the blue part
    assert shows(2.4, CENTER, YELLOW)  # V2 (videoLayer 1) is the one picture on screen
    assert shows(2.4, LEFT_EDGE, BLACK)  # 4:3 on a black stage: bars, not the clip below
    assert shows(2.9, LEFT_EDGE, BLUE)
    assert shows(3.5, CENTER, BLACK)  # a 1 s gap is black
    assert shows(4.5, CENTER, RED)

    def tone(start: float, frequency: float) -> float:
        return audio_levels.tone(target, start, 0.4, frequency)

    assert tone(0.3, 440) > PRESENT and tone(0.3, 1000) < ABSENT  # linked audio of the left half
    assert tone(1.3, 1000) > PRESENT and tone(1.3, 440) < ABSENT  # linked audio follows the offset
    assert tone(2.2, 1000) > PRESENT  # the silent phone clip's effect2 adds nothing, fails nothing
    # music from 3 s: [3, 3.75) 600 Hz, [3.75, 4.5) 1500 Hz, then again from its start: it loops
    for start, frequency, other in [(3.15, 600, 1500), (3.9, 1500, 600), (4.65, 600, 1500), (5.4, 1500, 600)]:
        assert tone(start, frequency) > PRESENT and tone(start, other) < ABSENT, (start, frequency)
    assert tone(4.65, 440) < ABSENT  # effect1 alone is silent: the third clip has no effect2
