"""SubRip (.srt) and WebVTT (.vtt) captions files to cues (stdlib only: the API zip ships it).

The parser is strict where a file is malformed (a cue without a timing line, a timestamp out of range,
a cue that ends before it starts, bytes that are not UTF-8) and says on which line; it is lenient where
real files differ harmlessly (a UTF-8 byte order mark, CRLF or CR line ends, an SRT without cue numbers
or with `.` before the milliseconds, a VTT timestamp without hours). Only the cues' times and text are
kept: WebVTT headers, `NOTE`, `STYLE` and `REGION` blocks and cue settings are skipped (the action's
own style decides how every caption looks), and markup (`<i>`, `<c.yellow>`, `<v Speaker>`, `<font>`,
SRT's `{\\an8}`) is removed, so the text drawn is plain text. `render.ass` escapes it again before libass
sees it: nothing of the file reaches the filter as markup.

`with_captions` fills the cues of captions actions that name a file (`data.src`) into a composition;
the worker and `python -m render` call it on the downloaded file, the API on a bounded read of the
upload (`read_limit`), so a bad file is a 400 at `POST /export` and, replaced after that, a failed job.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from render import limits
from render.composition import Clip, Composition, Cue
from render.errors import AssetMissingError, InvalidCaptionsError


class CaptionsError(ValueError):
    """A captions file that cannot be read; `line` is 1-based (0: the file as a whole)."""

    def __init__(self, reason: str, line: int = 0) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.reason = reason
        self.line = line


_TIME = r"(?:(\d{1,3}):)?(\d{1,2}):(\d{1,2})[.,](\d{3})"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s+(.*))?$")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<\d[\d:.]*>")  # markup tags and VTT's inline timestamps
_SRT_OVERRIDE = re.compile(r"\{\\[^{}]*\}")  # {\an8}, {\i1}: ASS overrides some SRT writers put in
_VTT_BLOCKS = ("NOTE", "STYLE", "REGION")


def read_limit() -> int:
    """How many bytes to read of a captions file: one past the limit, so an oversized file shows."""
    return limits.MAX_CAPTIONS_BYTES + 1


def parse_captions(data: bytes) -> tuple[Cue, ...]:
    """The cues of an SRT or WebVTT file (a WebVTT file starts with `WEBVTT`), in file order."""
    if len(data) > limits.MAX_CAPTIONS_BYTES:
        raise CaptionsError(f"the file is larger than {limits.MAX_CAPTIONS_BYTES // 1024} KiB")
    text = _decode(data)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    vtt = lines[0].startswith("WEBVTT") and (len(lines[0]) == 6 or lines[0][6] in " \t")
    cues = _parse_vtt(lines) if vtt else _parse_srt(lines)
    if not cues:
        raise CaptionsError("the file holds no captions" if text.strip() else "the file is empty")
    if len(cues) > limits.MAX_CAPTION_CUES:
        most = limits.MAX_CAPTION_CUES
        raise CaptionsError(f"the file holds {len(cues)} captions; at most {most} are allowed")
    return tuple(cues)


def _decode(data: bytes) -> str:
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CaptionsError("the file is not UTF-8 text", line) from None


def _blocks(lines: list[str], first: int) -> Iterator[tuple[int, list[str]]]:
    """Runs of non-blank lines from index `first`, each with the index of its first line."""
    start, block = 0, list[str]()
    for i in range(first, len(lines)):
        if lines[i].strip():
            if not block:
                start = i
            block.append(lines[i])
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


def _seconds(match: re.Match[str], group: int, line: int) -> float:
    hours, minutes, seconds, millis = (match.group(group + i) for i in range(4))
    if int(minutes) > 59 or int(seconds) > 59:
        raise CaptionsError(f"timestamp out of range in {match.group(0).strip()!r}", line)
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000


def _timing(text: str, line: int, example: str) -> tuple[float, float]:
    match = _TIMING.match(text)
    if match is None:
        raise CaptionsError(f"expected a cue timing such as {example!r}, found {text.strip()[:60]!r}", line)
    start, end = _seconds(match, 1, line), _seconds(match, 5, line)
    if end < start:
        raise CaptionsError("the cue ends before it starts", line)
    return start, end


def _cue(start: float, end: float, payload: list[str], line: int, *, srt: bool) -> Cue | None:
    text = "\n".join(payload)
    if srt:
        text = _SRT_OVERRIDE.sub("", text)
    text = html.unescape(_TAG.sub("", text)).replace("\u00a0", " ")
    text = "\n".join(part.strip() for part in text.split("\n")).strip()
    if len(text) > limits.MAX_TEXT_LENGTH:
        raise CaptionsError(f"the caption is longer than {limits.MAX_TEXT_LENGTH} characters", line)
    if not text or end <= start:
        return None  # nothing to show
    return Cue(start, end, text)


def _parse_srt(lines: list[str]) -> list[Cue]:
    cues = []
    for start, block in _blocks(lines, 0):
        timing = 1 if block[0].strip().isdigit() and len(block) > 1 else 0
        begin, end = _timing(block[timing], start + timing + 1, "00:00:01,000 --> 00:00:02,500")
        cue = _cue(begin, end, block[timing + 1 :], start + timing + 2, srt=True)
        if cue is not None:
            cues.append(cue)
    return cues


def _parse_vtt(lines: list[str]) -> list[Cue]:
    cues = []
    header = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    for i in range(1, header):
        if "-->" in lines[i]:
            raise CaptionsError("a blank line must separate the WEBVTT header from the first cue", i + 1)
    for start, block in _blocks(lines, header):
        if block[0].split(" ", 1)[0].split("\t", 1)[0] in _VTT_BLOCKS and "-->" not in block[0]:
            continue  # a comment, a style sheet or a region definition
        timing = 0 if "-->" in block[0] else 1  # an optional cue identifier first
        if timing >= len(block):
            raise CaptionsError(f"a cue identifier without a timing: {block[0].strip()[:60]!r}", start + 1)
        begin, end = _timing(block[timing], start + timing + 1, "00:01.000 --> 00:02.500")
        cue = _cue(begin, end, block[timing + 1 :], start + timing + 2, srt=False)
        if cue is not None:
            cues.append(cue)
    return cues


def caption_files(composition: Composition) -> dict[str, str]:
    """s3Key -> src of every captions file the composition still has to read."""
    return {
        clip.source_key: clip.src or clip.source_key
        for clip in composition.clips
        if clip.captions is not None and clip.captions.cues is None and clip.source_key is not None
    }


def with_captions(composition: Composition, read: Callable[[str], bytes | None]) -> Composition:
    """The composition with the cues of every captions file filled in. `read(s3Key)` returns the file's
    first `read_limit()` bytes, or None when it was never uploaded (AssetMissingError); a file that is
    not valid captions raises InvalidCaptionsError naming it and the line."""
    files = caption_files(composition)
    if not files:
        return composition
    cues: dict[str, tuple[Cue, ...]] = {}
    for key, src in files.items():
        data = read(key)
        if data is None:
            raise AssetMissingError(f"asset {src!r} was not uploaded")
        try:
            cues[key] = parse_captions(data)
        except CaptionsError as error:
            where = f", line {error.line}: " if error.line else ": "
            message = f"captions file {src!r}{where}{error.reason}"
            raise InvalidCaptionsError(message, line=error.line) from None
    return replace(composition, clips=tuple(_filled(clip, cues) for clip in composition.clips))


def _filled(clip: Clip, cues: dict[str, tuple[Cue, ...]]) -> Clip:
    if clip.captions is None or clip.captions.cues is not None or clip.source_key is None:
        return clip
    return replace(clip, captions=replace(clip.captions, cues=cues[clip.source_key]))


def read_from_dir(assets_dir: Path) -> Callable[[str], bytes | None]:
    """`read` for `with_captions` from the files at `assets_dir / s3Key` (the worker's, the CLI's)."""

    def read(key: str) -> bytes | None:
        path = assets_dir / key
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            return handle.read(read_limit())

    return read
