"""The operators' view as deployed: the alarms and the dashboard watch this stack's queues, functions and
API, and a dead letter left waiting really turns the DLQ alarm to ALARM and, once gone, back to OK.

LocalStack's CloudWatch evaluates simple metric alarms, and its SQS publishes the queue-depth metrics
(ApproximateNumberOfMessagesVisible/NotVisible/Delayed, every 60 s) and its Lambda Invocations and
Errors. It publishes no ApproximateAgeOfOldestMessage, NumberOfMessagesReceived, Lambda Throttles or
API Gateway metrics, so those alarms are checked by their definition only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from export_worker.metrics import ERROR_CODE_DIMENSION, WorkerMetric
from tests.e2e.stack import TIMINGS, Stack

# SQS publishes its metrics every 60 s and the local alarm period is 60 s: a state change takes up to two
# minutes on an idle machine; more on a loaded one.
STATE_CHANGE_TIMEOUT_SECONDS = 300.0


def _queue_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def alarms(stack: Stack) -> dict[str, dict[str, Any]]:
    """The deployed alarms by role (the keys of the `alarm_names` output)."""
    names: dict[str, str] = stack.outputs["alarm_names"]
    found = stack.client("cloudwatch").describe_alarms(AlarmNames=list(names.values()))["MetricAlarms"]
    by_name = {alarm["AlarmName"]: alarm for alarm in found}
    assert set(by_name) == set(names.values())
    return {role: by_name[name] for role, name in names.items()}


def _watches(alarm: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    return (
        alarm["Namespace"],
        alarm["MetricName"],
        {d["Name"]: d["Value"] for d in alarm["Dimensions"]},
    )


def test_the_alarms_watch_this_stacks_queues_functions_and_api(
    stack: Stack, alarms: dict[str, dict[str, Any]]
) -> None:
    # Given the names of what the stack deployed, each checked to exist
    jobs_queue = _queue_name(stack.outputs["job_queue_url"])
    dlq = _queue_name(stack.outputs["job_dlq_url"])
    sqs = stack.client("sqs")
    assert (
        sqs.get_queue_url(QueueName=jobs_queue)["QueueUrl"] and sqs.get_queue_url(QueueName=dlq)["QueueUrl"]
    )
    worker = stack.client("lambda").get_function_configuration(
        FunctionName=stack.outputs["worker_function_name"]
    )
    api_name = stack.client("apigateway").get_rest_api(restApiId=stack.outputs["rest_api_id"])["name"]
    stage = stack.outputs["api_stage_name"]

    # Then every alarm watches one of them
    assert {role: _watches(alarm) for role, alarm in alarms.items()} == {
        "dlq-messages-visible": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": dlq}),
        "dlq-messages-received": ("AWS/SQS", "NumberOfMessagesReceived", {"QueueName": dlq}),
        "worker-errors": ("AWS/Lambda", "Errors", {"FunctionName": worker["FunctionName"]}),
        "worker-throttles": ("AWS/Lambda", "Throttles", {"FunctionName": worker["FunctionName"]}),
        "api-5xx": ("AWS/ApiGateway", "5XXError", {"ApiName": api_name, "Stage": stage}),
        "job-queue-age": ("AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": jobs_queue}),
    }
    # the oldest message may be two whole renders old before anyone is told
    assert alarms["job-queue-age"]["Threshold"] == 2 * worker["Timeout"]
    assert alarms["job-queue-age"]["EvaluationPeriods"] == 2
    for role, alarm in alarms.items():
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold", role
        assert alarm["TreatMissingData"] == "notBreaching", role
        assert alarm["Period"] == 60, role  # the local root's alarm_period_seconds
        # the local root sets no topic: the alarms notify nobody, and fire and clear alike where one is set
        assert alarm["ActionsEnabled"] and alarm["AlarmActions"] == alarm["OKActions"] == [], role
        assert alarm["StateValue"] in {"OK", "ALARM", "INSUFFICIENT_DATA"}, role


def test_the_dashboard_shows_jobs_by_code_render_speed_and_queue_depth(
    stack: Stack, alarms: dict[str, dict[str, Any]]
) -> None:
    body = json.loads(
        stack.client("cloudwatch").get_dashboard(DashboardName=stack.outputs["dashboard_name"])[
            "DashboardBody"
        ]
    )
    widgets = {w["properties"].get("title"): w["properties"] for w in body["widgets"]}
    # the worker's deployed environment names the namespace and service its metrics go to
    env = stack.client("lambda").get_function_configuration(
        FunctionName=stack.outputs["worker_function_name"]
    )["Environment"]["Variables"]
    namespace, service = env["POWERTOOLS_METRICS_NAMESPACE"], env["POWERTOOLS_SERVICE_NAME"]

    def series(title: str) -> list[list[Any]]:
        return [m for m in widgets[title]["metrics"] if isinstance(m[0], str)]

    def expressions(title: str) -> list[str]:
        return [m[0]["expression"] for m in widgets[title]["metrics"] if isinstance(m[0], dict)]

    assert set(widgets["Alarms"]["alarms"]) == {alarm["AlarmArn"] for alarm in alarms.values()}
    assert [m[:4] for m in series("Jobs succeeded and failed")][:2] == [
        [namespace, WorkerMetric.JOBS_SUCCEEDED, "service", service],
        [namespace, WorkerMetric.JOBS_FAILED, "service", service],
    ]
    (by_code,) = expressions("Jobs failed by error code")
    assert f"{{{namespace},{ERROR_CODE_DIMENSION},service}}" in by_code
    assert f'MetricName="{WorkerMetric.JOBS_FAILED_BY_CODE}"' in by_code and f'service="{service}"' in by_code
    speed = {(m[0], m[1]) for m in series("Render seconds per output second")}
    assert speed == {
        (namespace, WorkerMetric.RENDER_SECONDS),
        (namespace, WorkerMetric.OUTPUT_SECONDS),
        (namespace, WorkerMetric.RENDER_SECONDS_PER_OUTPUT_SECOND),
    }
    assert expressions("Render seconds per output second") == ["render_seconds / output_seconds"]
    depth = {(m[1], m[3]) for m in series("Queue depth")}
    jobs_queue, dlq = _queue_name(stack.outputs["job_queue_url"]), _queue_name(stack.outputs["job_dlq_url"])
    assert {
        ("ApproximateNumberOfMessagesVisible", jobs_queue),
        ("ApproximateNumberOfMessagesVisible", dlq),
    } <= depth


def _wait_for_state(stack: Stack, alarm_name: str, state: str, timeout: float) -> float:
    """Seconds until the alarm is in ``state``; fails with the alarm's last reason after ``timeout``."""
    cloudwatch = stack.client("cloudwatch")
    started = time.monotonic()
    while True:
        (alarm,) = cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
        if alarm["StateValue"] == state:
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, (
            f"{alarm_name} still {alarm['StateValue']} after {timeout:.0f} s: {alarm.get('StateReason')}"
        )
        time.sleep(5)


@pytest.fixture
def dlq_consumer_paused(stack: Stack) -> Iterator[Callable[[], None]]:
    """The DLQ consumer's event source mapping disabled (what `dlq_consumer_enabled = false` does), then
    enabled again whatever happens; yields a function that empties the DLQ."""
    lambda_ = stack.client("lambda")
    (mapping,) = lambda_.list_event_source_mappings(FunctionName=stack.outputs["dlq_function_name"])[
        "EventSourceMappings"
    ]
    uuid = mapping["UUID"]
    lambda_.update_event_source_mapping(UUID=uuid, Enabled=False)
    deadline = time.monotonic() + 60
    while lambda_.get_event_source_mapping(UUID=uuid)["State"] != "Disabled":
        assert time.monotonic() < deadline, "the DLQ consumer's mapping did not stop"
        time.sleep(1)
    sqs, dlq_url = stack.client("sqs"), stack.outputs["job_dlq_url"]

    def drain() -> None:
        while messages := sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages"):
            for message in messages:
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])

    try:
        yield drain
    finally:
        drain()
        lambda_.update_event_source_mapping(UUID=uuid, Enabled=True)


def test_a_dead_letter_left_waiting_raises_the_dlq_alarm_and_its_removal_clears_it(
    stack: Stack, alarms: dict[str, dict[str, Any]], dlq_consumer_paused: Callable[[], None]
) -> None:
    name = alarms["dlq-messages-visible"]["AlarmName"]
    # Given an empty DLQ whose alarm is OK (no dead letters: missing data is not breaching)
    dlq_consumer_paused()
    _wait_for_state(stack, name, "OK", STATE_CHANGE_TIMEOUT_SECONDS)

    # When a message waits in the DLQ (nobody consumes it)
    stack.client("sqs").send_message(
        QueueUrl=stack.outputs["job_dlq_url"], MessageBody=json.dumps({"probe": "monitoring e2e"})
    )

    # Then LocalStack's SQS metric reaches CloudWatch and the alarm fires
    to_alarm = _wait_for_state(stack, name, "ALARM", STATE_CHANGE_TIMEOUT_SECONDS)
    (alarm,) = stack.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert json.loads(alarm["StateReasonData"])["recentDatapoints"][-1] >= 1

    # And once the DLQ is empty again it clears
    dlq_consumer_paused()
    to_ok = _wait_for_state(stack, name, "OK", STATE_CHANGE_TIMEOUT_SECONDS)
    TIMINGS["DLQ alarm: dead letter → ALARM, DLQ emptied → OK"] = f"{to_alarm:.0f} s, {to_ok:.0f} s"
