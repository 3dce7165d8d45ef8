"""Every terminal transition of the worker and its DLQ consumer queues the job's webhook, exactly then."""

from __future__ import annotations

import os
import time

from export_common.jobs import JobStatus, job_message_body
from export_worker import handler
from tests.markers import requires_ffmpeg
from tests.unit.worker.conftest import Bench


@requires_ffmpeg
def test_a_succeeded_job_queues_its_webhook_once(bench: Bench) -> None:
    job_id = bench.create_job()

    assert bench.deliver() == (1, [])
    assert bench.job(job_id).status is JobStatus.SUCCEEDED
    assert bench.callback_job_ids() == [job_id]

    # a duplicate delivery of the finished job transitions nothing, so it queues nothing
    bench.send(job_message_body(job_id))
    assert bench.deliver() == (1, [])
    assert bench.callback_job_ids() == []


@requires_ffmpeg
def test_a_failed_render_queues_its_webhook(bench: Bench) -> None:
    job_id = bench.create_job(bench.request(bench.upload(os.urandom(2048))))

    assert bench.deliver() == (1, [])
    assert bench.job(job_id).status is JobStatus.FAILED
    assert bench.callback_job_ids() == [job_id]


def test_a_stored_request_that_no_longer_validates_queues_its_webhook(bench: Bench) -> None:
    job_id = bench.create_job({"timeline": "not a timeline"})

    assert bench.deliver() == (1, [])
    assert bench.job(job_id).status is JobStatus.FAILED
    assert bench.callback_job_ids() == [job_id]


def test_a_job_out_of_attempts_queues_its_webhook_when_it_is_failed(bench: Bench) -> None:
    job_id = bench.create_job(send=False)
    for attempt in range(bench.settings.max_attempts):  # every attempt claimed, then died
        assert bench.repo.claim(job_id, lease_seconds=1, now=time.time() - 100 + 10 * attempt) is not None
    bench.send(job_message_body(job_id))

    assert bench.deliver() == (1, [])
    assert bench.job(job_id).status is JobStatus.FAILED
    assert bench.callback_job_ids() == [job_id]


def test_the_dlq_consumer_queues_the_webhook_of_each_job_it_fails_and_no_other(bench: Bench) -> None:
    dead = bench.create_job(send=False)
    live = bench.create_job(send=False)
    assert bench.repo.claim(live, lease_seconds=600, now=bench.clock()) is not None
    for job_id in (dead, live):
        bench.sqs.send_message(QueueUrl=bench.dlq_url, MessageBody=job_message_body(job_id))

    bench.deliver(queue_url=bench.dlq_url, entry=handler.dlq_lambda_handler)

    assert bench.job(dead).status is JobStatus.FAILED
    assert bench.callback_job_ids() == [dead]
