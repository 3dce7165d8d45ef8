"""The worker's metrics as CloudWatch receives them: the EMF documents Powertools prints, parsed back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from export_common.errors import ErrorCode
from export_worker.attempt import Outcome, RecordResult
from export_worker.metrics import (
    ERROR_CODE_DIMENSION,
    JOB_FAILURE_CODES,
    OTHER_ERROR_CODE,
    WorkerMetric,
    record_result,
)
from render.errors import InvalidMediaError, RenderResourcesError

NAMESPACE = "VideoExportUnderTest"
SERVICE = "video-export-test"


@dataclass(frozen=True)
class Rendered:
    duration_seconds: float
    render_seconds: float
    width: int = 160
    height: int = 90
    size_bytes: int = 1000


def _emitted(capsys: pytest.CaptureFixture[str], *results: RecordResult) -> list[dict[str, Any]]:
    """Records the results as one invocation does and returns the EMF documents printed."""
    capsys.readouterr()
    metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
    for result in results:
        record_result(metrics, result)
    metrics.flush_metrics()
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]


def _series(docs: list[dict[str, Any]]) -> dict[tuple[str, tuple[str, ...]], list[Any]]:
    """(metric name, dimension names) -> values, over every document; checks each is well formed."""
    found: dict[tuple[str, tuple[str, ...]], list[Any]] = {}
    for doc in docs:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == NAMESPACE
        (dimensions,) = directive["Dimensions"]
        assert doc["service"] == SERVICE and all(name in doc for name in dimensions)
        for metric in directive["Metrics"]:
            value = doc[metric["Name"]]
            found.setdefault((metric["Name"], tuple(sorted(dimensions))), []).extend(
                value if isinstance(value, list) else [value]
            )
    return found


def test_a_succeeded_job_counts_and_reports_its_render_speed(capsys: pytest.CaptureFixture[str]) -> None:
    result = RecordResult(
        Outcome.SUCCEEDED, job_id="j", render=Rendered(duration_seconds=4.0, render_seconds=6.0)
    )

    series = _series(_emitted(capsys, result))

    assert series == {
        (WorkerMetric.JOBS_SUCCEEDED, ("service",)): [1.0],
        (WorkerMetric.RENDER_SECONDS, ("service",)): [6.0],
        (WorkerMetric.OUTPUT_SECONDS, ("service",)): [4.0],
        (WorkerMetric.RENDER_SECONDS_PER_OUTPUT_SECOND, ("service",)): [1.5],
    }


def test_an_empty_output_reports_no_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    result = RecordResult(Outcome.SUCCEEDED, render=Rendered(duration_seconds=0.0, render_seconds=0.5))

    series = _series(_emitted(capsys, result))

    assert (WorkerMetric.RENDER_SECONDS_PER_OUTPUT_SECOND, ("service",)) not in series
    assert series[(WorkerMetric.JOBS_SUCCEEDED, ("service",))] == [1.0]


def test_failures_are_counted_in_total_and_by_error_code(capsys: pytest.CaptureFixture[str]) -> None:
    results = [
        RecordResult(Outcome.FAILED, job_id="a", error_code=InvalidMediaError.code),
        RecordResult(Outcome.FAILED, job_id="b", error_code=ErrorCode.RETRIES_EXHAUSTED.value),
        RecordResult(Outcome.FAILED, job_id="c", error_code=InvalidMediaError.code),
    ]

    docs = _emitted(capsys, *results)

    assert _series(docs)[(WorkerMetric.JOBS_FAILED, ("service",))] == [1.0, 1.0, 1.0]
    by_code = [doc[ERROR_CODE_DIMENSION] for doc in docs if WorkerMetric.JOBS_FAILED_BY_CODE in doc]
    assert sorted(by_code) == ["INVALID_MEDIA", "INVALID_MEDIA", "RETRIES_EXHAUSTED"]
    assert all(
        sorted(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == [ERROR_CODE_DIMENSION, "service"]
        for doc in docs
        if WorkerMetric.JOBS_FAILED_BY_CODE in doc
    )


def test_an_unknown_error_code_cannot_add_a_series(capsys: pytest.CaptureFixture[str]) -> None:
    docs = _emitted(capsys, RecordResult(Outcome.FAILED, job_id="x", error_code="SOMETHING_NEW_42"))

    (doc,) = [doc for doc in docs if WorkerMetric.JOBS_FAILED_BY_CODE in doc]
    assert doc[ERROR_CODE_DIMENSION] == OTHER_ERROR_CODE


def test_the_error_codes_are_the_closed_set_of_service_and_render_codes() -> None:
    assert {
        ErrorCode.RETRIES_EXHAUSTED,
        ErrorCode.INVALID_JOB,
        ErrorCode.PAYLOAD_TOO_LARGE,
    } <= JOB_FAILURE_CODES
    # render codes, subclasses of subclasses included
    assert {
        InvalidMediaError.code,
        RenderResourcesError.code,
        "ASSET_MISSING",
        "RENDER_TIMEOUT",
    } <= JOB_FAILURE_CODES
    assert OTHER_ERROR_CODE not in JOB_FAILURE_CODES
    assert len(JOB_FAILURE_CODES) < 40  # bounded: a series per code stays cheap


def test_skips_poison_and_retries_are_counted(capsys: pytest.CaptureFixture[str]) -> None:
    results = [
        RecordResult(Outcome.SKIPPED, reason="nothing to do"),
        RecordResult(Outcome.DROPPED, reason="poison message"),
        RecordResult(Outcome.RETRY, job_id="r", reason="job busy"),
    ]

    series = _series(_emitted(capsys, *results))

    assert series == {
        (WorkerMetric.MESSAGES_SKIPPED, ("service",)): [1.0, 1.0],
        (WorkerMetric.POISON_MESSAGES, ("service",)): [1.0],
        (WorkerMetric.JOBS_RETRIED, ("service",)): [1.0],
    }
