"""Limits of one export request, shared by the API (validation) and the renderer.

One place for each number: the API rejects what the worker could not render in time or memory.
"""

from typing import Final

# One hour: an export longer than FANOUT_THRESHOLD_SECONDS renders as up to FANOUT_MAX_CHUNKS chunks at
# once, so a worker renders at most 3600 / 20 = 180 s of output, well inside one invocation's render
# limit (the worker plans 2 s of render per output second: 360 s of RENDER_TIMEOUT_SECONDS' 840 s),
# and the join (stream copy, no encode) keeps an hour's chunks and output inside the 10 GiB /tmp.
MAX_DURATION_SECONDS: Final = 3600.0
# How long one ffmpeg run may take by default: a worker Lambda's 900 s less a minute for the upload
# and the final state write (the worker's RENDER_TIMEOUT_SECONDS may set its own).
RENDER_TIMEOUT_SECONDS: Final = 840.0
MAX_ACTIONS: Final = 200
MAX_ROWS: Final = 100
MAX_ASSETS: Final = 50
# Where uploads live in the assets bucket; the Terraform module grants and expires this prefix too.
ASSET_KEY_PREFIX: Final = "assets/"
MAX_TEXT_LENGTH: Final = 500  # a text action's text, and one caption's
# Captions files (SRT, WebVTT): an hour of dense captions is about 100 KiB; the API reads at most this much.
MAX_CAPTIONS_BYTES: Final = 1024 * 1024
MAX_CAPTION_CUES: Final = 5000  # in one file or one action's data.cues
DEFAULT_CAPTION_BACKGROUND: Final = "#00000099"  # black at 60 %
DEFAULT_CAPTION_MAX_WIDTH: Final = 0.8
MAX_ID_LENGTH: Final = 200
# An asset's `src` is an opaque key: editors write long cloud URLs with signed query strings there.
MAX_SRC_LENGTH: Final = 4096

MIN_OUTPUT_SIDE: Final = 16
MAX_OUTPUT_WIDTH: Final = 3840
MAX_OUTPUT_HEIGHT: Final = 2160
MIN_FPS: Final = 1.0
MAX_FPS: Final = 60.0

DEFAULT_WIDTH: Final = 1280
DEFAULT_HEIGHT: Final = 720
DEFAULT_FPS: Final = 30.0
DEFAULT_BACKGROUND: Final = "#000000"

MIN_SPEED: Final = 0.25
MAX_SPEED: Final = 4.0
MAX_VOLUME: Final = 2.0
MIN_FONT_SIZE: Final = 4
MAX_FONT_SIZE: Final = 400
DEFAULT_FONT_SIZE: Final = 48
# Layout coordinates may place a visual partly outside the frame, but not absurdly far away.
MAX_COORDINATE: Final = 10 * MAX_OUTPUT_WIDTH

# A transition between two actions of a row, seconds centred on the cut.
MIN_TRANSITION_SECONDS: Final = 0.1
MAX_TRANSITION_SECONDS: Final = 2.0

# Fan-out (render/fanout.py): an output longer than the threshold renders as chunks on several workers.
# The worker's Terraform variables default to these (a unit test ties them).
FANOUT_THRESHOLD_SECONDS: Final = 60.0
FANOUT_MAX_CHUNKS: Final = 20
# A shorter chunk costs more in start-up (download, probe, ffmpeg start) than it saves.
FANOUT_MIN_CHUNK_SECONDS: Final = 10.0
