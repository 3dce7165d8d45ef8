"""Render engine: an editor timeline to an mp4 in one ffmpeg pass.

Kept import-light on purpose: the API Lambda ships `render.model` (pydantic and the stdlib only);
the heavy parts (`render.pipeline`, `render.compiler`) are imported explicitly by the worker.
"""
