# The operators' view: CloudWatch alarms on what needs a person, and one dashboard of how the service runs.
#
# Alarms notify `alarm_topic_arn` when they fire and when they clear; without a topic they still exist
# and change state (visible on the dashboard and in the console) but notify nobody. Every alarm treats
# missing data as not breaching: each watched metric is published whenever there is something to count
# (AWS/SQS while a queue holds or moves messages, AWS/Lambda and AWS/ApiGateway per invocation or
# request), so no data means nothing happened.
#
# The job metrics are the worker's own (Powertools EMF, namespace `powertools_metrics_namespace`,
# dimension `service`; names in functions/worker/export_worker/metrics.py, which a unit test keeps in
# step with this file).

locals {
  alarm_actions = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]
  # Older than two whole renders: the queue is not keeping up, or a job keeps coming back.
  queue_age_alarm_threshold_seconds = coalesce(var.queue_age_alarm_threshold_seconds, 2 * var.worker_timeout)

  api_name = aws_api_gateway_rest_api.this.name

  alarms = {
    # A dead letter waiting: the DLQ consumer is off (dlq_consumer_enabled) or cannot resolve it.
    dlq-messages-visible = {
      description = "Messages wait in the dead-letter queue ${aws_sqs_queue.jobs_dlq.name}: the DLQ consumer is disabled or keeps handing them back. See the module README, Operating it."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = aws_sqs_queue.jobs_dlq.name }
      statistic   = "Maximum"
      threshold   = 0
      periods     = 1
    }
    # Every dead letter is received by the consumer at least once, however fast it is handled: SQS gave
    # up on a job message (its receive limit ran out before the worker ended the job).
    dlq-messages-received = {
      description = "The DLQ consumer received dead letters from ${aws_sqs_queue.jobs_dlq.name}: SQS gave up on job messages. See the module README, Operating it."
      namespace   = "AWS/SQS"
      metric      = "NumberOfMessagesReceived"
      dimensions  = { QueueName = aws_sqs_queue.jobs_dlq.name }
      statistic   = "Sum"
      threshold   = 0
      periods     = 1
    }
    # Invocation errors: crashes, timeouts, out-of-memory kills (a failed job is not one: it is reported
    # as a partial batch failure or ends FAILED).
    worker-errors = {
      description = "The worker function ${aws_lambda_function.worker.function_name} failed invocations (crash, timeout, out of memory)."
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      dimensions  = { FunctionName = aws_lambda_function.worker.function_name }
      statistic   = "Sum"
      threshold   = var.worker_errors_alarm_threshold
      periods     = 1
    }
    worker-throttles = {
      description = "The worker function ${aws_lambda_function.worker.function_name} was throttled: raise its reserved concurrency or lower worker_maximum_concurrency."
      namespace   = "AWS/Lambda"
      metric      = "Throttles"
      dimensions  = { FunctionName = aws_lambda_function.worker.function_name }
      statistic   = "Sum"
      threshold   = var.worker_throttles_alarm_threshold
      periods     = 1
    }
    api-5xx = {
      description = "The API ${local.api_name} (stage ${var.api_stage_name}) answered 5xx: a dependency is unavailable or a bug."
      namespace   = "AWS/ApiGateway"
      metric      = "5XXError"
      dimensions  = { ApiName = local.api_name, Stage = var.api_stage_name }
      statistic   = "Sum"
      threshold   = var.api_5xx_alarm_threshold
      periods     = 1
    }
    # Two periods in a row: one old message in one sample may be a job that just came back.
    job-queue-age = {
      description = "The oldest message in ${aws_sqs_queue.jobs.name} is older than ${local.queue_age_alarm_threshold_seconds} s: the worker does not keep up or a job keeps coming back."
      namespace   = "AWS/SQS"
      metric      = "ApproximateAgeOfOldestMessage"
      dimensions  = { QueueName = aws_sqs_queue.jobs.name }
      statistic   = "Maximum"
      threshold   = local.queue_age_alarm_threshold_seconds
      periods     = 2
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name_prefix}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = var.alarm_period_seconds
  evaluation_periods  = each.value.periods
  datapoints_to_alarm = each.value.periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"

  actions_enabled           = true
  alarm_actions             = local.alarm_actions
  ok_actions                = local.alarm_actions
  insufficient_data_actions = []

  tags = var.tags
}

locals {
  ns      = var.powertools_metrics_namespace
  service = var.powertools_service_name
  api_dim = ["ApiName", local.api_name, "Stage", var.api_stage_name]

  # The dashboard's metric graphs, row by row (three of width 8, then two of 12); each one a time series
  # in this region with the given statistic and period unless a line says otherwise.
  dashboard_graphs = [
    {
      title = "Jobs succeeded and failed", stat = "Sum", period = 300, extra = {}
      metrics = [
        [local.ns, "JobsSucceeded", "service", local.service, { label = "succeeded" }],
        [local.ns, "JobsFailed", "service", local.service, { label = "failed" }],
        [local.ns, "JobsRetried", "service", local.service, { label = "retried" }],
      ]
    },
    {
      # one line per code that occurred (the codes are a closed set, see export_worker.metrics)
      title = "Jobs failed by error code", stat = "Sum", period = 300, extra = { stacked = true }
      metrics = [[{
        expression = "SEARCH('{${local.ns},ErrorCode,service} MetricName=\"JobsFailedByCode\" service=\"${local.service}\"', 'Sum', 300)"
        id         = "failed_by_code"
        label      = ""
      }]]
    },
    {
      title = "Render seconds per output second", stat = "Sum", period = 300, extra = {}
      metrics = [
        [{ expression = "render_seconds / output_seconds", id = "fleet", label = "all jobs (sum / sum)" }],
        [local.ns, "RenderSeconds", "service", local.service, { id = "render_seconds", visible = false }],
        [local.ns, "OutputSeconds", "service", local.service, { id = "output_seconds", visible = false }],
        [local.ns, "RenderSecondsPerOutputSecond", "service", local.service, { stat = "p50", label = "per job, median" }],
        [local.ns, "RenderSecondsPerOutputSecond", "service", local.service, { stat = "p90", label = "per job, p90" }],
      ]
    },
    {
      title = "Queue depth", stat = "Maximum", period = 60, extra = {}
      metrics = [
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.jobs.name, { label = "jobs waiting" }],
        ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", aws_sqs_queue.jobs.name, { label = "jobs in flight" }],
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.jobs_dlq.name, { label = "dead letters waiting" }],
        ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", aws_sqs_queue.jobs_dlq.name, { label = "dead letters in flight" }],
      ]
    },
    {
      title = "Age of the oldest job message (s)", stat = "Maximum", period = 60
      extra = { annotations = { horizontal = [{ label = "alarm", value = local.queue_age_alarm_threshold_seconds }] } }
      metrics = [
        ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", aws_sqs_queue.jobs.name, { label = "oldest job message" }],
      ]
    },
    {
      title = "Functions", stat = "Sum", period = 300, extra = {}
      metrics = [
        ["AWS/Lambda", "Invocations", "FunctionName", aws_lambda_function.worker.function_name, { label = "worker invocations" }],
        ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.worker.function_name, { label = "worker errors" }],
        ["AWS/Lambda", "Throttles", "FunctionName", aws_lambda_function.worker.function_name, { label = "worker throttles" }],
        ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.dlq.function_name, { label = "DLQ consumer errors" }],
        ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.api.function_name, { label = "API function errors" }],
      ]
    },
    {
      title = "API requests and errors", stat = "Sum", period = 300, extra = {}
      metrics = [
        concat(["AWS/ApiGateway", "Count"], local.api_dim, [{ label = "requests" }]),
        concat(["AWS/ApiGateway", "4XXError"], local.api_dim, [{ label = "4xx" }]),
        concat(["AWS/ApiGateway", "5XXError"], local.api_dim, [{ label = "5xx" }]),
      ]
    },
    {
      title = "API latency (ms)", stat = "p50", period = 300, extra = {}
      metrics = [
        concat(["AWS/ApiGateway", "Latency"], local.api_dim, [{ label = "p50" }]),
        concat(["AWS/ApiGateway", "Latency"], local.api_dim, [{ stat = "p99", label = "p99" }]),
      ]
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name_prefix
  dashboard_body = jsonencode({
    widgets = concat(
      [{
        type = "alarm", x = 0, y = 0, width = 24, height = 3
        properties = {
          title  = "Alarms"
          alarms = [for alarm in aws_cloudwatch_metric_alarm.this : alarm.arn]
        }
      }],
      [for i, graph in local.dashboard_graphs : {
        type   = "metric"
        x      = i < 6 ? (i % 3) * 8 : (i % 2) * 12
        y      = 3 + (i < 6 ? floor(i / 3) : 2) * 6
        width  = i < 6 ? 8 : 12
        height = 6
        properties = merge(
          { title = graph.title, region = local.region, view = "timeSeries", stat = graph.stat, period = graph.period, metrics = graph.metrics },
          graph.extra,
        )
      }],
    )
  })
}
