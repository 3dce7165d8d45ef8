"""ASS subtitle documents for libass (ffmpeg's `ass` filter): text actions and captions (stdlib only).

Text is drawn by libass rather than `drawtext` because libass finds, glyph by glyph, a font that has
the glyph (fontconfig's fallback chain: Noto Sans, then the Noto font of each script, Noto Sans CJK,
Symbola for emoji) and shapes and orders the text (HarfBuzz, FriBidi): Arabic joins and runs right to
left, Devanagari and Thai combine. `drawtext` draws every glyph from one font file.

Everything here is generated from validated values: the user's text only ever lands in an event's
text, escaped so that it is drawn literally (no override tags, no `\\N`).

Times: libass shows an event on a frame when `start <= t < end`, with `t` the frame's time truncated
to milliseconds, and ASS times are centiseconds. `event_time(k, fps)` is a centisecond at most 1 ms
before frame k and more than 1 ms after frame k-1 (frames are at least 16.7 ms apart up to 60 fps), so
an event spans exactly the output frames it is given, however the frame's timestamp was rounded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# The family libass asks fontconfig for first; glyphs it lacks come from fontconfig's fallback chain.
FONT_FAMILY = "Noto Sans"
# ASS font sizes are line heights (VSFilter's rule), `fontSize` is the em size (as CSS and drawtext
# read it): Noto Sans is (usWinAscent 1069 + usWinDescent 293) / 1000 em high.
LINE_HEIGHT_EM = 1.362

_WORD_JOINER = "\u2060"  # zero width, no glyph: breaks `\N`, `\n`, `\h` apart


@dataclass(frozen=True)
class AssStyle:
    name: str
    font_size: float  # em size in output pixels
    color: str  # "#RRGGBBAA"
    box_color: str | None = None  # "#RRGGBBAA": a box behind the text
    box_padding: int = 0
    opacity: float = 1.0
    alignment: int = 2  # numpad layout: 1-3 bottom, 4-6 middle, 7-9 top
    margin_h: int = 0
    margin_v: int = 0
    box_per_line: bool = False  # a box behind each line (captions) rather than the whole event


@dataclass(frozen=True)
class AssEvent:
    first: int  # output frames [first, end)
    end: int
    style: str
    text: str  # already escaped, may start with an override block
    layer: int = 0


def ass_color(color: str, opacity: float = 1.0) -> str:
    """ "#RRGGBBAA" -> ASS "&HAABBGGRR" (ASS alpha: 00 opaque, FF transparent)."""
    alpha = round(int(color[7:9], 16) * opacity)
    return f"&H{255 - alpha:02X}{color[5:7]}{color[3:5]}{color[1:3]}".upper()


def escape_text(text: str) -> str:
    """The user's text as ASS event text that libass draws literally; newlines become line breaks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\\", "\\" + _WORD_JOINER).replace("{", "\\{").replace("}", "\\}")
    return text.replace("\n", "\\N")


def event_time(frame: int, fps: float) -> str:
    """The ASS time (H:MM:SS.cc) at which output frame `frame` is the first one shown."""
    centis = max(0, math.floor((frame * 1000 / fps - 1) / 10))
    hours, rest = divmod(centis, 360_000)
    minutes, rest = divmod(rest, 6_000)
    seconds, centis = divmod(rest, 100)
    return f"{hours}:{minutes:02d}:{seconds:02d}.{centis:02d}"


def _style_line(style: AssStyle) -> str:
    size = style.font_size * LINE_HEIGHT_EM
    primary = ass_color(style.color, style.opacity)
    if style.box_color is None:
        border_style, outline, back = 1, 0, "&HFF000000"
        outline_color = "&HFF000000"
    elif style.box_per_line:
        # BorderStyle 3: an opaque box behind each line, in the outline colour, `outline` px of padding
        border_style, outline = 3, style.box_padding
        outline_color = back = ass_color(style.box_color, style.opacity)
    else:
        # BorderStyle 4 (libass): one box behind the whole event, in the back colour
        border_style, outline = 4, style.box_padding
        outline_color, back = "&HFF000000", ass_color(style.box_color, style.opacity)
    fields = [
        style.name,
        FONT_FAMILY,
        f"{size:.2f}",
        primary,
        primary,
        outline_color,
        back,
        "0",
        "0",
        "0",
        "0",
        "100",
        "100",
        "0",
        "0",
        str(border_style),
        str(outline),
        "0",
        str(style.alignment),
        str(style.margin_h),
        str(style.margin_h),
        str(style.margin_v),
        "1",
    ]
    return "Style: " + ",".join(fields)


def document(
    width: int, height: int, fps: float, styles: Sequence[AssStyle], events: Sequence[AssEvent], *, wrap: bool
) -> str:
    """A complete ASS script in output pixels. `wrap`: long lines wrap at the margins (smart
    wrapping, ASS WrapStyle 0); otherwise only explicit line breaks break lines (WrapStyle 2)."""
    lines = [
        "[Script Info]",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        f"WrapStyle: {0 if wrap else 2}",
        "ScaledBorderAndShadow: yes",
        "YCbCr Matrix: None",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, "
        "Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, "
        "Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
        *(_style_line(style) for style in styles),
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    lines.extend(
        f"Dialogue: {e.layer},{event_time(e.first, fps)},{event_time(e.end, fps)},{e.style},,0,0,0,,{e.text}"
        for e in events
        if e.end > e.first
    )
    return "\n".join(lines) + "\n"
