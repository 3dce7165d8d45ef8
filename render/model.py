# ruff: noqa: N815 - field names are the wire format (camelCase, as the editor writes them)
"""The `POST /export` body as a pydantic model, shared by the API (validation) and the worker.

Imports only pydantic and the stdlib (plus the pure modules `render.limits`, `render.colors`,
`render.composition`, `render.editor_formats`, `render.json_types`): the API Lambda ships it
without ffmpeg.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from render import limits
from render.colors import parse_color
from render.composition import Composition
from render.editor_formats.react_timeline_editor import EditorTimeline, build_composition
from render.encoding import OutputFormat, Quality
from render.frames import EPSILON, frame_shown_at, output_frames
from render.json_types import STRICT, WholeNumber

ASSET_KEY_PATTERN: Final = rf"^{limits.ASSET_KEY_PREFIX}[A-Za-z0-9][A-Za-z0-9._-]*$"
_ASSET_KEY = re.compile(ASSET_KEY_PATTERN)


class Asset(BaseModel):
    """An uploaded file: `src` is the name the timeline uses, `s3Key` where it was uploaded."""

    model_config = ConfigDict(**STRICT, extra="forbid")

    src: str = Field(min_length=1, max_length=limits.MAX_SRC_LENGTH)
    s3Key: Annotated[str, Field(pattern=ASSET_KEY_PATTERN, max_length=300)]

    @field_validator("s3Key")
    @classmethod
    def _no_dot_dot(cls, value: str) -> str:
        if ".." in value:
            raise PydanticCustomError("invalid_asset_key", "s3Key must not contain '..'")
        return value


class Poster(BaseModel):
    """`output.poster`: one JPEG of the output's frame at `at` seconds, the size of the video."""

    model_config = ConfigDict(**STRICT, extra="forbid")

    at: float = Field(ge=0, description="seconds on the output; must lie inside it")


class OutputSettings(BaseModel):
    model_config = ConfigDict(**STRICT, extra="forbid")

    width: WholeNumber = Field(limits.DEFAULT_WIDTH, ge=limits.MIN_OUTPUT_SIDE, le=limits.MAX_OUTPUT_WIDTH)
    height: WholeNumber = Field(limits.DEFAULT_HEIGHT, ge=limits.MIN_OUTPUT_SIDE, le=limits.MAX_OUTPUT_HEIGHT)
    fps: float = Field(limits.DEFAULT_FPS, ge=limits.MIN_FPS, le=limits.MAX_FPS)
    backgroundColor: str = Field(limits.DEFAULT_BACKGROUND, max_length=64, validate_default=True)
    # Enums are read from their JSON strings (strict mode would otherwise want enum instances).
    quality: Quality = Field(
        Quality.STANDARD,
        strict=False,
        description="encoder effort: draft (at least twice as fast), standard, high (slower, better picture)",
    )
    format: OutputFormat = Field(
        OutputFormat.MP4,
        strict=False,
        description="mp4 (H.264 + AAC) or m4a (AAC audio only, no picture work at all)",
    )
    poster: Poster | None = Field(None, description="optional: a JPEG of the output frame at `at` seconds")

    @field_validator("width", "height")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise PydanticCustomError("odd_size", "must be even (H.264 in yuv420p needs even sides)")
        return value

    @field_validator("backgroundColor")
    @classmethod
    def _color(cls, value: str) -> str:
        return parse_color(value)


class ExportRequest(BaseModel):
    """The body of `POST /export`."""

    model_config = ConfigDict(**STRICT, extra="forbid", title="ExportRequest")

    timeline: EditorTimeline
    assets: list[Asset] = Field(default_factory=list, max_length=limits.MAX_ASSETS)
    output: OutputSettings = Field(default_factory=OutputSettings)
    callbackUrl: str | None = Field(
        None,
        min_length=1,
        max_length=2048,
        description=(
            "optional: where the service POSTs the job's outcome once it is SUCCEEDED or FAILED, signed "
            "over this URL's path (the webhook contract: README, 'Completion webhooks'). https and a "
            "public address in production; the renderer ignores it"
        ),
    )
    # Validation builds the composition to check the timeline; it is kept, so the worker, the planner and
    # the fan-out read one (immutable) composition per request instead of rebuilding it at every step.
    _composition: Composition | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check_timeline(self) -> ExportRequest:
        """Cross-field checks, raised with the path of each offending field."""
        errors: list[InitErrorDetails] = []
        seen: set[str] = set()
        for i, asset in enumerate(self.assets):
            if asset.src in seen:
                errors.append(
                    InitErrorDetails(
                        type=PydanticCustomError("duplicate_asset", f"src {asset.src!r} is listed twice"),
                        loc=("assets", i, "src"),
                        input=asset.src,
                    )
                )
            seen.add(asset.src)
        composition, timeline_errors = self._build()
        errors.extend(timeline_errors)
        if not timeline_errors:
            errors.extend(self._check_poster(composition))
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        self._composition = composition
        return self

    def _check_poster(self, composition: Composition) -> list[InitErrorDetails]:
        """A poster is a frame of the output: at a time inside it, of an output that has pictures."""
        poster = self.output.poster
        if poster is None:
            return []
        loc = ("output", "poster", "at")
        if not self.output.format.has_video:
            reason = f"format {self.output.format.value!r} has no picture to take a poster from"
            return [
                InitErrorDetails(
                    type=PydanticCustomError("poster_without_video", reason), loc=loc, input=poster.at
                )
            ]
        last = output_frames(composition) - 1
        if poster.at > last / composition.fps + EPSILON:
            reason = f"must lie inside the output (0 to {last / composition.fps:.3f} s, its last frame)"
            return [
                InitErrorDetails(type=PydanticCustomError("poster_outside", reason), loc=loc, input=poster.at)
            ]
        return []

    def _build(self) -> tuple[Composition, list[InitErrorDetails]]:
        return build_composition(
            self.timeline,
            {a.src: a.s3Key for a in self.assets},
            width=self.output.width,
            height=self.output.height,
            fps=self.output.fps,
            background_color=self.output.backgroundColor,
        )

    def to_composition(self) -> Composition:
        """The internal model the planner works on (the request is valid, so no errors here)."""
        if self._composition is None:
            self._composition, _ = self._build()
        return self._composition

    def poster_frame(self) -> int | None:
        """The output frame `output.poster.at` names (validation keeps it inside the output)."""
        poster = self.output.poster
        if poster is None:
            return None
        composition = self.to_composition()
        return min(frame_shown_at(poster.at, composition.fps), output_frames(composition) - 1)

    def used_asset_keys(self) -> list[str]:
        """s3Keys of the assets the enabled actions use, in first-use order (what the worker downloads)."""
        keys: dict[str, None] = {}
        for clip in self.to_composition().clips:
            if clip.source_key is not None:
                keys[clip.source_key] = None
        return list(keys)
