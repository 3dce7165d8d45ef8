"""POST /export reads every captions file the timeline names (a ranged GET of at most the captions limit)
and refuses a malformed, empty or oversized one with 400 INVALID_CAPTIONS and the line, before a job exists.
Presign accepts the captions types."""

from __future__ import annotations

from typing import Any

import pytest

from render import limits

from .api_stack import Stack, error_code

GOOD = b"1\r\n00:00:00,500 --> 00:00:01,500\r\nHello\r\n"


def _body(*captions: str) -> dict[str, Any]:
    actions = [
        {"id": f"c{i}", "start": 0, "end": 2, "effectId": "captions", "data": {"src": src}}
        for i, src in enumerate(captions)
    ]
    return {
        "timeline": {"editorData": [{"id": "subs", "actions": actions}]},
        "assets": [{"src": src, "s3Key": f"assets/{src}"} for src in captions],
        "output": {"width": 160, "height": 90, "fps": 10},
    }


def _jobs(stack: Stack) -> list[Any]:
    return [i for i in stack.table.scan()["Items"] if i["pk"].startswith("job#")]


def test_valid_captions_files_start_a_job(stack: Stack) -> None:
    stack.upload("assets/a.srt", GOOD)
    stack.upload("assets/b.vtt", b"WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n")
    reply = stack.call("POST", "/export", _body("a.srt", "b.vtt"))
    assert reply.status == 202, reply.body
    assert len(_jobs(stack)) == 1


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,000 -> 00:00:04,000\nbad\n", 6, "cue timing"),
        (b"WEBVTT\n\nid\n00:01.000 --> 00:61.000\nx\n", 4, "out of range"),
        (b"", None, "the file is empty"),
        (b"x" * (limits.MAX_CAPTIONS_BYTES + 10), None, "larger than"),
    ],
    ids=["srt", "vtt", "empty", "oversized"],
)
def test_a_bad_captions_file_is_400_with_its_line(
    stack: Stack, data: bytes, line: int | None, reason: str
) -> None:
    stack.upload("assets/good.srt", GOOD)
    stack.upload("assets/bad.srt", data)
    reply = stack.call("POST", "/export", _body("good.srt", "bad.srt"))
    assert (reply.status, error_code(reply)) == (400, "INVALID_CAPTIONS"), reply.body
    (detail,) = reply.body["details"]
    assert detail["path"] == "timeline.editorData[0].actions[1].data.src"
    assert (f": line {line}: " in detail["message"]) is (line is not None)
    assert reason in detail["message"] and detail["message"].startswith("captions file 'bad.srt'")
    assert (f"line {line}:" in reply.body["error"]) is (line is not None)
    assert _jobs(stack) == []
    assert stack.messages() == []


def test_a_missing_captions_file_is_asset_missing(stack: Stack) -> None:
    reply = stack.call("POST", "/export", _body("never.srt"))
    assert (reply.status, error_code(reply)) == (400, "ASSET_MISSING")


@pytest.mark.parametrize(("content_type", "ext"), [("application/x-subrip", ".srt"), ("text/vtt", ".vtt")])
def test_presign_accepts_captions_types(stack: Stack, content_type: str, ext: str) -> None:
    reply = stack.call("POST", "/export/presign", {"assets": [{"src": "subs", "contentType": content_type}]})
    assert reply.status == 200, reply.body
    (upload,) = reply.body["uploads"]
    assert upload["s3Key"].endswith(ext)
