"""The worker's CloudWatch metrics (Powertools EMF): their names, namespace and dimensions, defined once.

Terraform's alarms and dashboard (``terraform/modules/export_service/monitoring.tf``) read these series by
name; a unit test keeps the two in step. Every series carries Powertools' ``service`` dimension; the only
other dimension is ``ErrorCode``, limited to the closed set of job failure codes so that a new or
unexpected code cannot add series without bound.
"""

from __future__ import annotations

from enum import StrEnum

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from export_common.errors import ErrorCode
from export_worker.attempt import Outcome, RecordResult
from render.errors import RenderError

# The default of POWERTOOLS_METRICS_NAMESPACE (Terraform's `powertools_metrics_namespace` defaults to it).
METRICS_NAMESPACE = "VideoExport"
ERROR_CODE_DIMENSION = "ErrorCode"
# what a failure code outside the closed set is counted as
OTHER_ERROR_CODE = "OTHER"


class WorkerMetric(StrEnum):
    JOBS_SUCCEEDED = "JobsSucceeded"
    JOBS_FAILED = "JobsFailed"
    # dimension ErrorCode: which failures grow
    JOBS_FAILED_BY_CODE = "JobsFailedByCode"
    JOBS_RETRIED = "JobsRetried"
    # jobs a client cancelled (DELETE /export/{jobId}) that this worker stopped and ended
    JOBS_CANCELLED = "JobsCancelled"
    MESSAGES_SKIPPED = "MessagesSkipped"
    POISON_MESSAGES = "PoisonMessages"
    # wall-clock seconds of the render, and seconds of video it produced (sum over sum: the fleet's ratio)
    RENDER_SECONDS = "RenderSeconds"
    OUTPUT_SECONDS = "OutputSeconds"
    # the same ratio per job, so that its percentiles show the slow renders a fleet-wide sum hides
    RENDER_SECONDS_PER_OUTPUT_SECOND = "RenderSecondsPerOutputSecond"
    # fan-out: long jobs split into chunk tasks, and tasks finished
    JOBS_FANNED_OUT = "JobsFannedOut"
    FANOUT_TASKS_DONE = "FanoutTasksDone"


def _render_error_codes(cls: type[RenderError]) -> set[str]:
    return {cls.code}.union(*(_render_error_codes(sub) for sub in cls.__subclasses__()))


# Every code a job can end FAILED with: the service's own and the renderer's.
JOB_FAILURE_CODES: frozenset[str] = frozenset(
    {code.value for code in ErrorCode} | _render_error_codes(RenderError)
)


def error_code_dimension(code: str) -> str:
    """The ``ErrorCode`` dimension of a failure: the code itself when it is a known one."""
    return code if code in JOB_FAILURE_CODES else OTHER_ERROR_CODE


def record_result(metrics: Metrics, result: RecordResult) -> None:
    """Adds the metrics of one processed message (flushed with the invocation by ``log_metrics``)."""
    if result.outcome is Outcome.SUCCEEDED and result.render is not None:
        render = result.render
        metrics.add_metric(name=WorkerMetric.JOBS_SUCCEEDED, unit=MetricUnit.Count, value=1)
        metrics.add_metric(
            name=WorkerMetric.RENDER_SECONDS, unit=MetricUnit.Seconds, value=render.render_seconds
        )
        metrics.add_metric(
            name=WorkerMetric.OUTPUT_SECONDS, unit=MetricUnit.Seconds, value=render.duration_seconds
        )
        if render.duration_seconds > 0:
            metrics.add_metric(
                name=WorkerMetric.RENDER_SECONDS_PER_OUTPUT_SECOND,
                unit=MetricUnit.NoUnit,
                value=render.render_seconds / render.duration_seconds,
            )
    elif result.outcome is Outcome.FAILED and result.error_code:
        metrics.add_metric(name=WorkerMetric.JOBS_FAILED, unit=MetricUnit.Count, value=1)
        # a document of its own (its dimensions differ from the invocation's other metrics), in the same
        # namespace and service as they are
        with single_metric(
            name=WorkerMetric.JOBS_FAILED_BY_CODE,
            unit=MetricUnit.Count,
            value=1,
            namespace=metrics.namespace,
            default_dimensions={"service": metrics.service} if metrics.service else None,
        ) as metric:
            metric.add_dimension(name=ERROR_CODE_DIMENSION, value=error_code_dimension(result.error_code))
    elif result.outcome in (Outcome.SKIPPED, Outcome.DROPPED):
        metrics.add_metric(name=WorkerMetric.MESSAGES_SKIPPED, unit=MetricUnit.Count, value=1)
        if result.outcome is Outcome.DROPPED:
            metrics.add_metric(name=WorkerMetric.POISON_MESSAGES, unit=MetricUnit.Count, value=1)
    elif result.outcome is Outcome.CANCELLED:
        metrics.add_metric(name=WorkerMetric.JOBS_CANCELLED, unit=MetricUnit.Count, value=1)
    elif result.outcome is Outcome.RETRY:
        metrics.add_metric(name=WorkerMetric.JOBS_RETRIED, unit=MetricUnit.Count, value=1)
    elif result.outcome is Outcome.SPLIT:
        metrics.add_metric(name=WorkerMetric.JOBS_FANNED_OUT, unit=MetricUnit.Count, value=1)
    elif result.outcome is Outcome.TASK_DONE:
        metrics.add_metric(name=WorkerMetric.FANOUT_TASKS_DONE, unit=MetricUnit.Count, value=1)
