# Job queue (body `{"jobId": "<uuid>"}`, or a fan-out task: export_common.fanout.TaskMessage) and its
# dead-letter queue.

# Consumed by the DLQ consumer function (lambda.tf). It deliberately has no redrive policy of its own:
# a dead letter the consumer reports failed (its job is still RUNNING under a live lease) becomes
# visible again after the visibility timeout and is looked at once more, until the DLQ's retention
# ends it. SQS keeps a message's original enqueue time when it moves it here, so the retention must
# outlast the job queue's (variables.tf checks that).
resource "aws_sqs_queue" "jobs_dlq" {
  name                       = "${var.name_prefix}-jobs-dlq"
  visibility_timeout_seconds = local.dlq_visibility_timeout
  message_retention_seconds  = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled    = true
  tags                       = var.tags
}

resource "aws_sqs_queue" "jobs" {
  name                       = "${var.name_prefix}-jobs"
  visibility_timeout_seconds = local.queue_visibility_timeout
  message_retention_seconds  = var.queue_message_retention_seconds
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true
  tags                       = var.tags

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.jobs_dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

# Only the job queue may send its failures to the dead-letter queue.
resource "aws_sqs_queue_redrive_allow_policy" "jobs_dlq" {
  queue_url = aws_sqs_queue.jobs_dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.jobs.arn]
  })
}

# Completion webhooks: each message `{"jobId", "attempt", "notBefore"?}` is one look at a job's webhook
# (export_common.callbacks). Waits longer than SQS's 15-minute delay are chained by re-sending, so each
# message lives at most about 15 minutes plus its processing; failed processing (AWS unavailable) is retried
# by SQS and, after callback_max_receive_count receives, parked in the callbacks DLQ for an operator to
# redrive (a job's webhook then stays DELIVERING/RETRYING on GET /export/{jobId}).
resource "aws_sqs_queue" "callbacks_dlq" {
  name                      = "${var.name_prefix}-callbacks-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue" "callbacks" {
  name                       = "${var.name_prefix}-callbacks"
  visibility_timeout_seconds = local.callback_visibility_timeout
  message_retention_seconds  = 345600
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true
  tags                       = var.tags

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.callbacks_dlq.arn
    maxReceiveCount     = var.callback_max_receive_count
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "callbacks_dlq" {
  queue_url = aws_sqs_queue.callbacks_dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.callbacks.arn]
  })
}
