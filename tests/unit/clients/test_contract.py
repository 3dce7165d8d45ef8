"""The clients restate a few facts of the service (they ship on their own, without it): these tests keep
each restatement equal to the service's one definition."""

from __future__ import annotations

import re
from pathlib import Path

from export_api.media import ALLOWED_MEDIA
from export_common.jobs import JobStatus
from video_export.client import EXT_TYPES, FINAL

ROOT = Path(__file__).resolve().parents[3]
FINAL_STATES = {status.value for status in JobStatus if status.is_final}


def test_the_python_client_waits_for_the_services_final_states() -> None:
    assert set(FINAL) == FINAL_STATES


def test_the_node_client_waits_for_the_services_final_states() -> None:
    source = (ROOT / "clients" / "node" / "export-client.mjs").read_text(encoding="utf-8")
    declared = re.search(r"const FINAL_STATUSES = new Set\(\[([^\]]*)\]\)", source)
    assert declared is not None, "export-client.mjs no longer declares FINAL_STATUSES"
    assert set(re.findall(r'"([A-Z_]+)"', declared.group(1))) == FINAL_STATES


def test_every_type_the_python_client_sends_is_one_the_api_accepts_for_that_extension() -> None:
    for ext, media_type in EXT_TYPES.items():
        assert media_type in ALLOWED_MEDIA, media_type
        assert ext in ALLOWED_MEDIA[media_type], (ext, media_type)
