"""Posters, m4a exports and usage through the worker's handler on moto, with real ffmpeg."""

from __future__ import annotations

from pathlib import Path

from export_common.jobs import JobStatus
from export_common.keys import output_key, poster_key, work_poster_key
from tests.markers import requires_ffmpeg
from tests.unit.worker.conftest import EXPORTS_BUCKET, Bench, FakeContext
from tests.unit.worker.test_fanout import CHUNKS, SECONDS, _drain, _fan_out, _streams, long_clip
from tests.video_frames import frame_count

pytestmark = requires_ffmpeg
__all__ = ["long_clip"]  # the fixture, shared with the fan-out tests


def _head(bench: Bench, key: str) -> str:
    return str(bench.s3.head_object(Bucket=EXPORTS_BUCKET, Key=key)["ContentType"])


def test_a_single_pass_writes_its_poster_and_reports_one_task(bench: Bench, tmp_path: Path) -> None:
    request = bench.request(bench.upload())
    request["output"]["poster"] = {"at": 0.5}
    job_id = bench.create_job(request)
    bench.deliver(FakeContext())
    job = bench.job(job_id)
    assert job.status is JobStatus.SUCCEEDED and job.output is not None, job
    assert job.output.poster_key == poster_key(job_id)
    assert _head(bench, poster_key(job_id)) == "image/jpeg"
    target = tmp_path / "poster.jpg"
    bench.s3.download_file(EXPORTS_BUCKET, poster_key(job_id), str(target))
    assert target.read_bytes()[:2] == b"\xff\xd8"
    usage = job.usage
    assert usage.tasks == 1 and usage.render_seconds > 0 and usage.lambda_gb_seconds > usage.render_seconds


def test_an_m4a_export_is_audio_only_under_its_own_key(
    bench: Bench, long_clip: bytes, tmp_path: Path
) -> None:
    request = bench.request(bench.upload(long_clip), seconds=SECONDS)
    request["output"]["format"] = "m4a"
    _fan_out(bench)  # long enough to fan out, but an audio-only export never does
    job_id = bench.create_job(request)
    _drain(bench)
    job = bench.job(job_id)
    assert job.status is JobStatus.SUCCEEDED and job.output is not None, job
    assert job.output.key == output_key(job_id, "m4a") and job.chunks is None
    assert _head(bench, job.output.key) == "audio/mp4"
    target = tmp_path / "out.m4a"
    bench.s3.download_file(EXPORTS_BUCKET, job.output.key, str(target))
    assert _streams(target) == ["audio"]
    assert job.usage.tasks == 1


def test_a_fanned_out_poster_comes_from_its_chunk_and_usage_sums_every_task(
    bench: Bench, long_clip: bytes, tmp_path: Path
) -> None:
    _fan_out(bench)
    request = bench.request(bench.upload(long_clip), seconds=SECONDS)
    request["output"]["poster"] = {"at": 2.5}  # frame 25: chunk 2
    job_id = bench.create_job(request)
    _drain(bench)
    job = bench.job(job_id)
    assert job.status is JobStatus.SUCCEEDED and job.output is not None, job
    assert job.output.poster_key == poster_key(job_id)
    assert work_poster_key(job_id) in bench.exports()
    target = tmp_path / "poster.jpg"
    bench.s3.download_file(EXPORTS_BUCKET, poster_key(job_id), str(target))
    assert frame_count(target) == 1
    assert job.usage.tasks == CHUNKS + 1  # the chunks and the join (the split renders nothing)
