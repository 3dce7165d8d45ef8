# The API function (zip), the worker function (container image) and the DLQ consumer (the worker image
# with another handler), with their log groups and SQS mappings.

resource "aws_cloudwatch_log_group" "api" {
  #checkov:skip=CKV_AWS_158:Logs hold no secrets (Powertools logger, no request bodies); the AWS managed encryption of CloudWatch Logs suffices.
  #checkov:skip=CKV_AWS_338:Retention is a setting (log_retention_days); a year of debug logs is not worth its cost here.
  name              = "/aws/lambda/${local.api_function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "worker" {
  #checkov:skip=CKV_AWS_158:Logs hold no secrets (Powertools logger, no request bodies); the AWS managed encryption of CloudWatch Logs suffices.
  #checkov:skip=CKV_AWS_338:Retention is a setting (log_retention_days); a year of debug logs is not worth its cost here.
  name              = "/aws/lambda/${local.worker_function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "dlq" {
  #checkov:skip=CKV_AWS_158:Logs hold no secrets (Powertools logger, job ids and at most a 200-character prefix of a malformed message body); the AWS managed encryption of CloudWatch Logs suffices.
  #checkov:skip=CKV_AWS_338:Retention is a setting (log_retention_days); a year of debug logs is not worth its cost here.
  name              = "/aws/lambda/${local.dlq_function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_lambda_function" "api" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway only; a dead-letter queue applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:Talks only to public AWS endpoints (S3, SQS, DynamoDB, Secrets Manager); a VPC would add NAT or endpoint cost and cold-start time.
  #checkov:skip=CKV_AWS_173:The environment holds names and limits, no secrets (the signing secret is read from Secrets Manager).
  #checkov:skip=CKV_AWS_272:The zip is built and deployed by this repository's pipeline; code signing needs a signing profile outside its scope.
  function_name    = local.api_function_name
  description      = "Video-export REST API (presign, create and read export jobs)."
  role             = aws_iam_role.api.arn
  runtime          = "python3.13"
  architectures    = ["x86_64"]
  handler          = var.api_handler
  filename         = var.api_zip_path
  source_code_hash = filebase64sha256(var.api_zip_path)
  memory_size      = var.api_memory_size
  timeout          = var.api_timeout

  reserved_concurrent_executions = var.api_reserved_concurrency

  environment {
    variables = local.api_environment
  }

  tracing_config {
    mode = var.lambda_tracing_mode
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.api, aws_iam_role_policy.api]
}

resource "aws_lambda_function" "worker" {
  #checkov:skip=CKV_AWS_116:Invoked by the SQS event source mapping; failed messages go to the job queue's own dead-letter queue.
  #checkov:skip=CKV_AWS_117:Talks only to public AWS endpoints (S3, DynamoDB, SQS); a VPC would add NAT or endpoint cost for multi-GB media transfers.
  #checkov:skip=CKV_AWS_173:The environment holds names and limits, no secrets.
  #checkov:skip=CKV_AWS_272:Container images cannot use Lambda code signing; the image is pushed with an immutable tag to a private ECR repository.
  function_name = local.worker_function_name
  description   = "Video-export worker: renders queued export jobs with ffmpeg."
  role          = aws_iam_role.worker.arn
  package_type  = "Image"
  image_uri     = var.worker_image_uri
  architectures = [var.worker_architecture]
  memory_size   = var.worker_memory_size
  timeout       = var.worker_timeout

  reserved_concurrent_executions = var.worker_reserved_concurrency

  image_config {
    command = var.worker_image_command
  }

  ephemeral_storage {
    size = var.worker_ephemeral_storage_mb
  }

  environment {
    variables = local.worker_environment
  }

  tracing_config {
    mode = var.lambda_tracing_mode
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.worker, aws_iam_role_policy.worker]
}

resource "aws_lambda_event_source_mapping" "worker_jobs" {
  event_source_arn        = aws_sqs_queue.jobs.arn
  function_name           = aws_lambda_function.worker.arn
  batch_size              = var.worker_batch_size
  function_response_types = ["ReportBatchItemFailures"]

  # With a reservation and no cap of its own, the event source starts no more workers than are
  # reserved: an invocation beyond them would be throttled and its message hidden for a whole
  # visibility timeout (a chunk waiting 15 minutes instead of a few seconds).
  dynamic "scaling_config" {
    for_each = local.worker_event_concurrency == null ? [] : [local.worker_event_concurrency]
    content {
      maximum_concurrency = scaling_config.value
    }
  }
}

# The backstop for jobs whose last attempt died (timeout, crash) before it could mark them FAILED:
# export_worker.dlq decides per dead letter (see terraform/README.md, "Dead letters").
resource "aws_lambda_function" "dlq" {
  #checkov:skip=CKV_AWS_116:Invoked by the SQS event source mapping on the dead-letter queue itself; a letter it reports failed stays in that queue.
  #checkov:skip=CKV_AWS_117:Talks only to public AWS endpoints (DynamoDB, SQS); a VPC would add NAT or endpoint cost.
  #checkov:skip=CKV_AWS_173:The environment holds names and limits, no secrets.
  #checkov:skip=CKV_AWS_272:Container images cannot use Lambda code signing; the image is pushed with an immutable tag to a private ECR repository.
  #checkov:skip=CKV_AWS_115:Its event source mapping caps it at 2 concurrent invocations (scaling_config); a reservation would take from the account pool for a function that is idle nearly always.
  function_name = local.dlq_function_name
  description   = "Video-export DLQ consumer: ends jobs whose message was dead-lettered (FAILED; a cancelled one CANCELLED, its files deleted)."
  role          = aws_iam_role.dlq.arn
  package_type  = "Image"
  image_uri     = var.worker_image_uri
  architectures = [var.worker_architecture]
  memory_size   = var.dlq_consumer_memory_size
  timeout       = var.dlq_consumer_timeout

  image_config {
    command = ["export_worker.handler.dlq_lambda_handler"]
  }

  environment {
    variables = local.dlq_environment
  }

  tracing_config {
    mode = var.lambda_tracing_mode
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.dlq, aws_iam_role_policy.dlq]
}

resource "aws_lambda_event_source_mapping" "dlq" {
  event_source_arn        = aws_sqs_queue.jobs_dlq.arn
  function_name           = aws_lambda_function.dlq.arn
  enabled                 = var.dlq_consumer_enabled
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = 2
  }
}

resource "aws_cloudwatch_log_group" "callbacks" {
  #checkov:skip=CKV_AWS_158:Logs hold no secrets (job ids, attempt numbers, HTTP statuses; never the signing secret, the callback URL or bodies); the AWS managed encryption of CloudWatch Logs suffices.
  #checkov:skip=CKV_AWS_338:Retention is a setting (log_retention_days); a year of debug logs is not worth its cost here.
  name              = "/aws/lambda/${local.callbacks_function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

# Completion webhooks: signs and POSTs each ended job's outcome to its callbackUrl (export_callbacks),
# from the API zip with its own handler.
resource "aws_lambda_function" "callbacks" {
  #checkov:skip=CKV_AWS_116:Invoked by the SQS event source mapping; failed messages go to the callbacks queue's own dead-letter queue.
  #checkov:skip=CKV_AWS_117:Calls receivers on the internet and public AWS endpoints; in a VPC it would need a NAT gateway. SSRF is guarded in code (public addresses only, checked after resolution).
  #checkov:skip=CKV_AWS_173:The environment holds names and limits, no secrets (the signing secret is read from Secrets Manager).
  #checkov:skip=CKV_AWS_272:The zip is built and deployed by this repository's pipeline; code signing needs a signing profile outside its scope.
  #checkov:skip=CKV_AWS_115:Its event source mapping caps its concurrency (callback_maximum_concurrency); a reservation would take from the account pool for a function that is mostly idle.
  function_name    = local.callbacks_function_name
  description      = "Video-export completion webhooks: signed POST of each ended job to its callbackUrl."
  role             = aws_iam_role.callbacks.arn
  runtime          = "python3.13"
  architectures    = ["x86_64"]
  handler          = "export_callbacks.handler.lambda_handler"
  filename         = var.api_zip_path
  source_code_hash = filebase64sha256(var.api_zip_path)
  memory_size      = 256
  timeout          = var.callback_function_timeout

  environment {
    variables = local.callbacks_environment
  }

  tracing_config {
    mode = var.lambda_tracing_mode
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.callbacks, aws_iam_role_policy.callbacks]
}

resource "aws_lambda_event_source_mapping" "callbacks" {
  event_source_arn        = aws_sqs_queue.callbacks.arn
  function_name           = aws_lambda_function.callbacks.arn
  batch_size              = 1
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.callback_maximum_concurrency
  }
}
