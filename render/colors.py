"""CSS-ish colour strings to a normalized "#RRGGBBAA" (pure stdlib)."""

from __future__ import annotations

import re

_NAMED = {
    "black": "000000",
    "white": "ffffff",
    "red": "ff0000",
    "lime": "00ff00",
    "green": "008000",
    "blue": "0000ff",
    "yellow": "ffff00",
    "cyan": "00ffff",
    "aqua": "00ffff",
    "magenta": "ff00ff",
    "fuchsia": "ff00ff",
    "gray": "808080",
    "grey": "808080",
    "silver": "c0c0c0",
    "maroon": "800000",
    "olive": "808000",
    "navy": "000080",
    "purple": "800080",
    "teal": "008080",
    "orange": "ffa500",
    "pink": "ffc0cb",
    "brown": "a52a2a",
}
_HEX = re.compile(r"^#?([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
_RGB = re.compile(
    r"^rgba?\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*(?:,\s*([0-9]*\.?[0-9]+)\s*)?\)$", re.IGNORECASE
)


def parse_color(value: str) -> str:
    """Return "#rrggbbaa"; raise ValueError with a readable message otherwise."""
    text = value.strip().lower()
    if text == "transparent":
        return "#00000000"
    if text in _NAMED:
        return f"#{_NAMED[text]}ff"
    if m := _HEX.match(text):
        digits = m.group(1)
        if len(digits) in (3, 4):
            digits = "".join(ch * 2 for ch in digits)
        if len(digits) == 6:
            digits += "ff"
        return f"#{digits}"
    if m := _RGB.match(text):
        channels = [int(m.group(i)) for i in (1, 2, 3)]
        alpha = float(m.group(4)) if m.group(4) is not None else 1.0
        if any(c > 255 for c in channels) or alpha > 1:
            raise ValueError(f"colour {value!r} is out of range")
        return "#" + "".join(f"{c:02x}" for c in channels) + f"{round(alpha * 255):02x}"
    raise ValueError(
        f"unknown colour {value!r}: use #RGB, #RRGGBB, #RRGGBBAA, rgb(r,g,b), rgba(r,g,b,a) "
        "or a basic colour name"
    )


def to_ffmpeg(color: str) -> str:
    """'#rrggbbaa' to ffmpeg's '0xRRGGBB@alpha'."""
    alpha = int(color[7:9], 16) / 255
    return f"0x{color[1:7]}@{alpha:.3f}"
