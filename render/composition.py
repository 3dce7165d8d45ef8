"""The internal model every editor format is parsed into (stdlib only, no pydantic).

A composition is what will be rendered: a list of clips with resolved kinds, seconds, pixels
and normalized colours. Layer 0 is drawn on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ClipKind(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    IMAGE = "image"
    TEXT = "text"
    CAPTIONS = "captions"


class Fit(StrEnum):
    CONTAIN = "contain"
    COVER = "cover"
    FILL = "fill"


class Align(StrEnum):
    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


@dataclass(frozen=True)
class Box:
    """A rectangle in output pixels."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class TextStyle:
    text: str
    font_size: int
    color: str  # "#RRGGBBAA"
    background_color: str | None  # "#RRGGBBAA" or None
    align: Align


class CaptionPosition(StrEnum):
    BOTTOM = "bottom"
    TOP = "top"
    CENTER = "center"


@dataclass(frozen=True)
class Cue:
    """One caption: seconds in the captions' own time (an SRT/VTT file's, or `data.cues`')."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class CaptionStyle:
    """A captions action: its cues (None: still to be read from the clip's source file, see
    `render.captions.with_captions`) and how every line is drawn."""

    cues: tuple[Cue, ...] | None
    font_size: int  # em size in output pixels
    color: str  # "#RRGGBBAA"
    background: str | None  # "#RRGGBBAA": a box behind each line, or None
    position: CaptionPosition
    margin: int  # pixels from the frame's edge (bottom, top) to the nearest line
    max_width: float  # fraction of the frame's width a line may take before it wraps


# ffmpeg's xfade transitions; the wire name "crossfade" is xfade's "fade".
XFADE_TRANSITIONS = (
    "fade", "fadeblack", "fadewhite", "fadegrays", "distance", "wipeleft", "wiperight", "wipeup",
    "wipedown", "slideleft", "slideright", "slideup", "slidedown", "smoothleft", "smoothright",
    "smoothup", "smoothdown", "circlecrop", "rectcrop", "circleclose", "circleopen", "horzclose",
    "horzopen", "vertclose", "vertopen", "diagbl", "diagbr", "diagtl", "diagtr", "hlslice", "hrslice",
    "vuslice", "vdslice", "dissolve", "pixelize", "radial", "hblur", "wipetl", "wipetr", "wipebl",
    "wipebr", "squeezeh", "squeezev", "zoomin", "fadefast", "fadeslow",
)  # fmt: skip


@dataclass(frozen=True)
class Transition:
    """A transition from the clip `previous` (same row, ending where this clip starts) to this clip,
    `duration` seconds centred on the cut."""

    kind: str  # an xfade transition name
    duration: float
    previous: str  # the id of the clip it comes from


@dataclass(frozen=True)
class Clip:
    """One action of the timeline, in output seconds.

    `layer` orders visuals: lower numbers are drawn on top. `source_key` is the asset's s3Key.

    Editor semantics beyond plain layering are spelled as properties of the clip, so one planner serves
    every dialect: `loop` repeats an audio source to fill the clip, `audio_optional` makes a source
    without an audio stream play silence instead of failing, `matte` fills the clip's box around a
    contained picture (an opaque stage, as an editor's player shows), and `hold` keeps the last frame on
    screen for that many seconds at the end of the clip.
    """

    id: str
    kind: ClipKind
    layer: int
    start: float
    end: float
    source_key: str | None = None
    src: str | None = None
    trim_start: float = 0.0
    speed: float = 1.0
    volume: float = 1.0
    muted: bool = False
    fade_in: float = 0.0
    fade_out: float = 0.0
    box: Box | None = None
    fit: Fit = Fit.CONTAIN
    opacity: float = 1.0
    text: TextStyle | None = None
    captions: CaptionStyle | None = None
    loop: bool = False
    audio_optional: bool = False
    matte: str | None = None  # "#RRGGBBAA"
    hold: float = 0.0
    transition: Transition | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def source_duration(self) -> float:
        """Seconds of the source consumed (speed > 1 consumes more); a held last frame consumes none."""
        return (self.duration - self.hold) * self.speed


@dataclass(frozen=True)
class Composition:
    width: int
    height: int
    fps: float
    background_color: str  # "#RRGGBBAA"
    clips: tuple[Clip, ...] = field(default_factory=tuple)

    @property
    def duration(self) -> float:
        return max((c.end for c in self.clips), default=0.0)
