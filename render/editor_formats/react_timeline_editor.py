# ruff: noqa: N815 - field names are the wire format (camelCase, as the editor writes them)
"""`editorData` of `@xzdarcy/react-timeline-editor`: rows of actions, times in seconds.

Editor-only fields (selected, flexible, movable, minStart, maxEnd, rowHeight, classNames, ...) are
ignored. Apps put their own fields either under `data` or directly on the action; both are accepted
and `data` wins. Rows earlier in the list are drawn on top.

Each action is read in one of two dialects, decided by the action itself: the generic kinds (`video`,
`audio`, `image`, `text`, from `data.type` or `effectId`), or the Melies effects (`effect0`, `effect1`,
`effect2`, see `render.editor_formats.melies`). An explicit `data.type` always wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from render import limits
from render.colors import parse_color
from render.composition import (
    XFADE_TRANSITIONS,
    Align,
    Box,
    CaptionPosition,
    CaptionStyle,
    Clip,
    ClipKind,
    Composition,
    Cue,
    Fit,
    TextStyle,
    Transition,
)
from render.editor_formats import melies
from render.editor_formats.melies import MeliesEffect, StageAction
from render.json_types import STRICT, Identifier, WholeNumber

KIND_ALIASES: Mapping[str, ClipKind] = {
    "video": ClipKind.VIDEO,
    "clip": ClipKind.VIDEO,
    "movie": ClipKind.VIDEO,
    "audio": ClipKind.AUDIO,
    "sound": ClipKind.AUDIO,
    "music": ClipKind.AUDIO,
    "image": ClipKind.IMAGE,
    "img": ClipKind.IMAGE,
    "picture": ClipKind.IMAGE,
    "photo": ClipKind.IMAGE,
    "text": ClipKind.TEXT,
    "title": ClipKind.TEXT,
    "caption": ClipKind.TEXT,
    "subtitle": ClipKind.TEXT,
    "captions": ClipKind.CAPTIONS,
}
_MEDIA_KINDS = (ClipKind.VIDEO, ClipKind.AUDIO, ClipKind.IMAGE)
# Kinds that read a file of `assets`: the media, and captions from an SRT or WebVTT file.
_FILE_KINDS = (*_MEDIA_KINDS, ClipKind.CAPTIONS)

Seconds = Annotated[float, Field(ge=0, le=limits.MAX_DURATION_SECONDS)]
Coordinate = Annotated[float, Field(ge=-limits.MAX_COORDINATE, le=limits.MAX_COORDINATE)]
Extent = Annotated[float, Field(gt=0, le=limits.MAX_COORDINATE)]


TRANSITION_ALIASES: Mapping[str, str] = {"crossfade": "fade", **{name: name for name in XFADE_TRANSITIONS}}


class TransitionData(BaseModel):
    """`data.transition`: from the previous action of the row, which ends where this one starts."""

    model_config = ConfigDict(**STRICT, extra="forbid")

    type: str = Field(
        description="crossfade (xfade's fade), fadeblack, fadewhite, wipeleft, ... (xfade names)"
    )
    duration: float = Field(
        ge=limits.MIN_TRANSITION_SECONDS,
        le=limits.MAX_TRANSITION_SECONDS,
        description="seconds, centred on the cut",
    )

    @field_validator("type")
    @classmethod
    def _check_type(cls, value: str) -> str:
        if value.strip().lower() not in TRANSITION_ALIASES:
            raise PydanticCustomError(
                "unknown_transition",
                f"unknown transition {value!r}: expected one of {', '.join(sorted(TRANSITION_ALIASES))}",
            )
        return value


class CueData(BaseModel):
    """One caption of `data.cues`, seconds from the action's start (less `trimStart`)."""

    model_config = ConfigDict(**STRICT, extra="forbid")

    start: Seconds
    end: Seconds
    text: str = Field(max_length=limits.MAX_TEXT_LENGTH)


class ActionData(BaseModel):
    """The app-defined part of an action (under `data`, or directly on the action)."""

    model_config = ConfigDict(**STRICT, extra="ignore")

    type: str | None = Field(None, description="video, audio, image, text or captions (aliases accepted)")
    src: str | None = Field(
        None,
        min_length=1,
        max_length=limits.MAX_SRC_LENGTH,
        description="the `src` of an entry of `assets` (captions: an uploaded .srt or .vtt file)",
    )
    trimStart: float = Field(
        0.0, ge=0, le=86_400, description="seconds into the source where the action begins"
    )
    offset: float | None = Field(
        None, ge=0, le=86_400, description="Melies' name for trimStart (trimStart wins when both are set)"
    )
    videoLayer: WholeNumber = Field(
        0, ge=0, le=limits.MAX_ROWS, description="Melies: among effect1 actions, the highest is shown"
    )
    speed: float = Field(1.0, ge=limits.MIN_SPEED, le=limits.MAX_SPEED)
    volume: float = Field(1.0, ge=0, le=limits.MAX_VOLUME)
    muted: bool = False
    fadeIn: Seconds = 0.0
    fadeOut: Seconds = 0.0
    x: Coordinate | None = Field(None, description="left edge in output pixels (default 0)")
    y: Coordinate | None = Field(None, description="top edge in output pixels (default 0)")
    width: Extent | None = Field(None, description="output pixels (default: full frame width)")
    height: Extent | None = Field(None, description="output pixels (default: full frame height)")
    fit: Literal["contain", "cover", "fill"] = "contain"
    opacity: float = Field(1.0, ge=0, le=1)
    text: str | None = Field(None, max_length=limits.MAX_TEXT_LENGTH)
    fontSize: float = Field(limits.DEFAULT_FONT_SIZE, ge=limits.MIN_FONT_SIZE, le=limits.MAX_FONT_SIZE)
    color: str = Field(
        "#ffffff",
        max_length=64,
        validate_default=True,
        description="#RGB, #RRGGBB, #RRGGBBAA, rgb(), rgba() or a name",
    )
    backgroundColor: str | None = Field(None, max_length=64)
    align: Literal["left", "center", "right"] = "center"
    transition: TransitionData | None = None
    # captions
    cues: list[CueData] | None = Field(
        None,
        max_length=limits.MAX_CAPTION_CUES,
        description="captions: the cues, instead of a file in src; seconds from the action's start",
    )
    background: str | None = Field(
        None,
        max_length=64,
        description="captions: the box behind each line, a colour with its opacity (default #00000099; "
        "transparent for none)",
    )
    position: Literal["bottom", "top", "center"] = "bottom"
    margin: float | None = Field(
        None,
        ge=0,
        le=limits.MAX_OUTPUT_HEIGHT,
        description="captions: pixels from the frame's edge to the nearest line (default 1/20 of the height)",
    )
    maxWidth: float = Field(
        limits.DEFAULT_CAPTION_MAX_WIDTH,
        gt=0,
        le=1,
        description="captions: the widest a line may be, a fraction of the frame's width; longer lines wrap",
    )

    @model_validator(mode="after")
    def _offset_is_the_in_point(self) -> ActionData:
        """Melies' `offset` becomes `trimStart` unless that is set, so a dumped request reads the same."""
        if "trimStart" not in self.model_fields_set and self.offset is not None:
            self.trimStart = self.offset
        return self

    @field_validator("color", "backgroundColor", "background")
    @classmethod
    def _check_color(cls, value: str | None) -> str | None:
        return None if value is None else parse_color(value)

    @field_validator("type")
    @classmethod
    def _check_type(cls, value: str | None) -> str | None:
        if value is not None and value.strip().lower() not in KIND_ALIASES:
            raise PydanticCustomError(
                "unknown_action_type",
                f"unknown action type {value!r}: expected one of video, audio, image, text, captions",
            )
        return value


class EditorAction(BaseModel):
    model_config = ConfigDict(**STRICT, extra="ignore")

    id: Identifier = Field("", max_length=limits.MAX_ID_LENGTH)
    start: Seconds
    end: Seconds
    effectId: str | None = Field(None, max_length=limits.MAX_ID_LENGTH)
    disable: bool = False
    data: ActionData = Field(default_factory=ActionData)

    @model_validator(mode="before")
    @classmethod
    def _merge_top_level_fields(cls, value: Any) -> Any:
        """Fields set directly on the action move under `data` unless `data` sets them."""
        if not isinstance(value, dict):
            return value
        data = value.get("data")
        if data is None:
            data = {}
        if not isinstance(data, dict):
            return value
        lifted = {k: v for k, v in value.items() if k in ActionData.model_fields and k not in data}
        return {**value, "data": {**lifted, **data}}


class EditorRow(BaseModel):
    model_config = ConfigDict(**STRICT, extra="ignore")

    id: Identifier = Field("", max_length=limits.MAX_ID_LENGTH)
    actions: list[EditorAction] = Field(default_factory=list)


class EditorTimeline(BaseModel):
    """`timeline` of the export request: `{"editorData": [row, ...]}`; other fields are ignored."""

    model_config = ConfigDict(**STRICT, extra="ignore")

    editorData: list[EditorRow] = Field(max_length=limits.MAX_ROWS)


def _error(loc: tuple[str | int, ...], kind: str, message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)


def _kind(
    action: EditorAction, loc: tuple[str | int, ...]
) -> tuple[ClipKind, MeliesEffect | None] | InitErrorDetails:
    """The action's kind, and its Melies effect when it is read in that dialect."""
    if action.data.type is not None:
        return KIND_ALIASES[action.data.type.strip().lower()], None
    if action.effectId is not None and action.effectId.strip().lower() in KIND_ALIASES:
        return KIND_ALIASES[action.effectId.strip().lower()], None
    effect = melies.effect_of(action.effectId)
    if effect is not None:
        return melies.EFFECT_KINDS[effect], effect
    return _error(
        (*loc, "effectId") if action.effectId is not None else (*loc, "data", "type"),
        "unknown_action_type",
        f"action {action.id!r} has an unknown type: set data.type (or effectId) "
        "to one of video, audio, image, text, captions (or a Melies effect: effect0, effect1, effect2)",
        action.effectId,
    )


def captions_files(timeline: EditorTimeline) -> list[tuple[int, int, str]]:
    """(row, action, src) of every enabled captions action that reads a file, in timeline order."""
    found = []
    for r, row in enumerate(timeline.editorData):
        for a, action in enumerate(row.actions):
            if action.disable or action.data.src is None:
                continue
            resolved = _kind(action, ())
            if isinstance(resolved, tuple) and resolved[0] is ClipKind.CAPTIONS:
                found.append((r, a, action.data.src))
    return found


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def build_composition(
    timeline: EditorTimeline,
    assets: Mapping[str, str],
    *,
    width: int,
    height: int,
    fps: float,
    background_color: str,
    loc: tuple[str | int, ...] = ("timeline",),
) -> tuple[Composition, list[InitErrorDetails]]:
    """Resolve the timeline against `assets` (src -> s3Key); return the composition and every error.

    The checks need several fields at once (kind and src, start and end, the assets list), so they
    are collected here with the path of the offending field rather than raised one at a time.
    """
    errors: list[InitErrorDetails] = []
    clips: list[Clip] = []
    stage: list[StageAction] = []
    total = sum(len(row.actions) for row in timeline.editorData)
    if total > limits.MAX_ACTIONS:
        errors.append(
            _error(
                (*loc, "editorData"),
                "too_many_actions",
                f"the timeline has {total} actions; at most {limits.MAX_ACTIONS} are allowed",
                total,
            )
        )
        return Composition(width, height, fps, background_color), errors
    for r, row in enumerate(timeline.editorData):
        for a, action in enumerate(row.actions):
            if action.disable:
                continue
            aloc = (*loc, "editorData", r, "actions", a)
            resolved = _kind(action, aloc)
            if not isinstance(resolved, tuple):
                errors.append(resolved)
                continue
            kind, effect = resolved
            data = action.data
            ok = True
            if action.end <= action.start:
                errors.append(
                    _error(
                        (*aloc, "end"),
                        "end_not_after_start",
                        f"end ({action.end}) must be greater than start ({action.start})",
                        action.end,
                    )
                )
                ok = False
            if kind is ClipKind.CAPTIONS:
                problem = _captions_problem(data, aloc)
                if problem is not None:
                    errors.append(problem)
                    ok = False
            if kind in _MEDIA_KINDS or (kind is ClipKind.CAPTIONS and data.src is not None):
                if data.src is None:
                    errors.append(
                        _error((*aloc, "data", "src"), "missing", f"a {kind} action needs data.src", None)
                    )
                    ok = False
                elif data.src not in assets:
                    errors.append(
                        _error(
                            (*aloc, "data", "src"),
                            "unknown_asset",
                            f"src {data.src!r} is not listed in assets",
                            data.src,
                        )
                    )
                    ok = False
            if kind is ClipKind.TEXT and not (data.text or "").strip():
                errors.append(
                    _error(
                        (*aloc, "data", "text"),
                        "missing",
                        "a text action needs non-empty data.text",
                        data.text,
                    )
                )
                ok = False
            if not ok:
                continue
            clip = _clip(action, kind, r, assets, width=width, height=height)
            if data.transition is not None:
                linked = _transition(row, a, clip, effect, fps=fps, loc=aloc, width=width, height=height)
                if isinstance(linked, Transition):
                    clip = replace(clip, transition=linked)
                else:
                    errors.append(linked)
                    continue
            if effect is MeliesEffect.VIDEO_PICTURE:
                stage.append(StageAction(clip, r, action.data.videoLayer))
            elif effect is not None:
                clips.append(melies.audio_clip(clip, effect))
            else:
                clips.append(clip)
    clips.extend(melies.stage_clips(stage, width=width, height=height))
    if not errors and not clips:
        errors.append(
            _error(
                (*loc, "editorData"),
                "empty_timeline",
                "the timeline has no enabled actions, so there is nothing to render: "
                "add at least one clip to editorData",
                [],
            )
        )
    return Composition(width, height, fps, background_color, tuple(clips)), errors


def _transition(
    row: EditorRow,
    index: int,
    clip: Clip,
    effect: MeliesEffect | None,
    *,
    fps: float,
    loc: tuple[str | int, ...],
    width: int,
    height: int,
) -> Transition | InitErrorDetails:
    """The transition of `row.actions[index]` from the previous action of the row, or the error."""
    action = row.actions[index]
    spec = action.data.transition
    assert spec is not None  # noqa: S101 - only called with a transition
    tloc = (*loc, "data", "transition")
    full = Box(0, 0, width, height)
    if effect is not None or clip.kind is not ClipKind.VIDEO or clip.box != full or clip.opacity < 1:
        return _error(
            tloc,
            "transition_kind",
            f"action {action.id!r}: transitions join full-frame video actions "
            "(no x, y, width, height other than the frame, opacity 1)",
            None,
        )
    others = [other for i, other in enumerate(row.actions) if i != index and not other.disable]
    previous = [other for other in others if abs(other.end - action.start) <= 1 / fps + 1e-6]
    if not previous:
        before = sorted((o for o in others if o.end <= action.start), key=lambda o: o.end)
        named = f" (the previous action, {before[-1].id!r}, ends at {before[-1].end:g} s)" if before else ""
        return _error(
            tloc,
            "transition_without_previous",
            f"action {action.id!r} has a transition, but no earlier action of its row ends at its start "
            f"({action.start:g} s, within one frame){named}",
            None,
        )
    other = previous[-1]
    other_data = other.data
    other_kind = KIND_ALIASES.get((other_data.type or other.effectId or "").strip().lower())
    other_full = other_data.x in (None, 0) and other_data.y in (None, 0) and other_data.width in (None, width)
    other_full = other_full and other_data.height in (None, height) and other_data.opacity == 1
    if other_kind is not ClipKind.VIDEO or not other_full:
        return _error(
            tloc,
            "transition_kind",
            f"the transition of action {action.id!r} comes from action {other.id!r}: transitions join "
            "full-frame video actions (no x, y, width, height other than the frame, opacity 1)",
            None,
        )
    if spec.duration > min(action.end - action.start, other.end - other.start) + 1e-9:
        return _error(
            (*tloc, "duration"),
            "transition_too_long",
            f"the transition of action {action.id!r} lasts {spec.duration:g} s, longer than action "
            f"{action.id!r} or the action it comes from, {other.id!r}",
            spec.duration,
        )
    return Transition(TRANSITION_ALIASES[spec.type.strip().lower()], spec.duration, other.id)


def _clip(
    action: EditorAction, kind: ClipKind, row: int, assets: Mapping[str, str], *, width: int, height: int
) -> Clip:
    data = action.data
    duration = action.end - action.start
    fade_in = min(data.fadeIn, duration)
    fade_out = min(data.fadeOut, duration - fade_in)
    text = None
    if kind is ClipKind.TEXT:
        text = TextStyle(
            text=data.text or "",
            font_size=round(data.fontSize),
            color=data.color,
            background_color=data.backgroundColor,
            align=Align(data.align),
        )
    return Clip(
        id=action.id,
        kind=kind,
        layer=row,
        start=action.start,
        end=action.end,
        source_key=assets[data.src] if data.src is not None and kind in _FILE_KINDS else None,
        src=data.src if kind in _FILE_KINDS else None,
        trim_start=data.trimStart,
        speed=data.speed,
        volume=data.volume,
        muted=data.muted,
        fade_in=fade_in,
        fade_out=fade_out,
        box=_box(data, kind, width, height),
        fit=Fit(data.fit),
        opacity=data.opacity,
        text=text,
        captions=_captions(data, height) if kind is ClipKind.CAPTIONS else None,
    )


def _captions_problem(data: ActionData, loc: tuple[str | int, ...]) -> InitErrorDetails | None:
    """A captions action has either a file (`src`) or `cues`, and each cue ends after it starts."""
    if (data.src is None) == (data.cues is None):
        return _error(
            (*loc, "data", "src"),
            "captions_source",
            "a captions action needs either data.src (an uploaded .srt or .vtt file) or data.cues, not "
            + ("both" if data.src is not None else "neither"),
            data.src,
        )
    for i, cue in enumerate(data.cues or ()):
        if cue.end <= cue.start:
            return _error(
                (*loc, "data", "cues", i, "end"),
                "end_not_after_start",
                f"end ({cue.end}) must be greater than start ({cue.start})",
                cue.end,
            )
    return None


def _captions(data: ActionData, height: int) -> CaptionStyle:
    """The captions' style; cues from `data.cues` (a file's are read later: `render.captions`)."""
    cues = None
    if data.cues is not None:
        cues = tuple(Cue(c.start, c.end, c.text) for c in data.cues if c.text.strip())
    fields = data.model_fields_set
    return CaptionStyle(
        cues=cues,
        font_size=round(data.fontSize if "fontSize" in fields else height / 18),
        color=data.color,
        background=data.background if "background" in fields else limits.DEFAULT_CAPTION_BACKGROUND,
        position=CaptionPosition(data.position),
        margin=round(data.margin if data.margin is not None else height / 20),
        max_width=data.maxWidth,
    )


def _box(data: ActionData, kind: ClipKind, width: int, height: int) -> Box | None:
    """Pixels of the output frame; media default to the full frame.

    Text without a height is centred vertically in the frame, or top-aligned at `y` when `y` is set
    (height 0 marks that); without a width it spans from `x` to the right edge.
    """
    if kind is ClipKind.AUDIO:
        return None
    x = round(data.x or 0)
    y = round(data.y or 0)
    if kind is ClipKind.TEXT:
        box_w = round(data.width) if data.width is not None else max(2, width - x)
        box_h = height if data.y is None else 0
        if data.height is not None:
            box_h = round(data.height)
        return Box(x, y, box_w, box_h)
    return Box(
        x,
        y,
        _even(data.width if data.width is not None else width),
        _even(data.height if data.height is not None else height),
    )
