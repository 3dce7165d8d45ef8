# One role per function, each allowed only the actions and resources that function uses.

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

################################################################################
# API
################################################################################

resource "aws_iam_role" "api" {
  name               = "${local.api_function_name}-role"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "api" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.api.arn}:*"]
  }

  # DeleteItem frees an Idempotency-Key reservation when the job could not be queued.
  statement {
    sid       = "JobsTable"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.jobs.arn]
  }

  # GetQueueAttributes: the queue check of GET /health.
  statement {
    sid       = "EnqueueJobs"
    actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.jobs.arn]
  }

  # Presigned PUT URLs act with the signer's rights; s3:GetObject also covers HeadObject.
  statement {
    sid       = "UploadAndCheckAssets"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${aws_s3_bucket.this["assets"].arn}/${local.assets_prefix}*"]
  }

  # With s3:ListBucket S3 answers HeadObject on a missing key with 404 instead of 403, so POST /export
  # tells a missing asset from a denied one and GET /health's probe of a never-issued key is healthy.
  # No s3:prefix condition: HeadObject sends no prefix parameter, and AWS documents the 404 rule only
  # for "s3:ListBucket on the bucket", so a prefix-conditioned grant may not count. The bucket holds
  # only uploads under assets/ (random UUID keys), which this function issues anyway.
  statement {
    sid       = "TellMissingAssets"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.this["assets"].arn]
  }

  # Presigned GET URLs of finished renders.
  statement {
    sid       = "DownloadExports"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.this["exports"].arn}/${local.exports_prefix}*"]
  }

  statement {
    sid       = "ReadSigningSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.signing.arn]
  }
}

resource "aws_iam_role_policy" "api" {
  name   = "least-privilege"
  role   = aws_iam_role.api.id
  policy = data.aws_iam_policy_document.api.json
}

################################################################################
# Worker
################################################################################

resource "aws_iam_role" "worker" {
  name               = "${local.worker_function_name}-role"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.worker.arn}:*"]
  }

  statement {
    sid       = "JobsTable"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.jobs.arn]
  }

  # What the SQS event source mapping needs, plus ChangeMessageVisibility for releasing a job early and
  # SendMessage for the task messages of a fanned-out job.
  statement {
    sid = "ConsumeJobs"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ChangeMessageVisibility",
      "sqs:SendMessage",
    ]
    resources = [aws_sqs_queue.jobs.arn]
  }

  statement {
    sid       = "ReadAssets"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.this["assets"].arn}/${local.assets_prefix}*"]
  }

  statement {
    sid       = "WriteExports"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.this["exports"].arn}/${local.exports_prefix}*"]
  }

  # Chunks and audio tracks of fanned-out exports: written by their tasks, read by the join.
  statement {
    sid       = "FanoutWork"
    actions   = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.this["exports"].arn}/${local.work_prefix}*"]
  }
}

resource "aws_iam_role_policy" "worker" {
  name   = "least-privilege"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

################################################################################
# DLQ consumer (the worker image, another handler): ends jobs whose message was dead-lettered
################################################################################

resource "aws_iam_role" "dlq" {
  name               = "${local.dlq_function_name}-role"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "dlq" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.dlq.arn}:*"]
  }

  # Reads the job, marks it FAILED (a conditional update); never creates or deletes items.
  statement {
    sid       = "JobsTable"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.jobs.arn]
  }

  # What the SQS event source mapping on the dead-letter queue needs; no access to the job queue.
  statement {
    sid = "ConsumeDeadLetters"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ChangeMessageVisibility",
    ]
    resources = [aws_sqs_queue.jobs_dlq.arn]
  }
}

resource "aws_iam_role_policy" "dlq" {
  name   = "least-privilege"
  role   = aws_iam_role.dlq.id
  policy = data.aws_iam_policy_document.dlq.json
}

################################################################################
# X-Ray (its write actions support no resource-level scoping; AWS's managed policy holds just those)
################################################################################

resource "aws_iam_role_policy_attachment" "xray" {
  for_each = var.lambda_tracing_mode == "Active" ? {
    api       = aws_iam_role.api.name
    worker    = aws_iam_role.worker.name
    dlq       = aws_iam_role.dlq.name
    callbacks = aws_iam_role.callbacks.name
  } : {}

  role       = each.value
  policy_arn = "arn:${local.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

################################################################################
# Webhook delivery
################################################################################

resource "aws_iam_role" "callbacks" {
  name               = "${local.callbacks_function_name}-role"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "callbacks" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.callbacks.arn}:*"]
  }

  # Reads the job, updates its `callback` map (conditional writes); never creates or deletes items.
  statement {
    sid       = "JobsTable"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.jobs.arn]
  }

  # The event source mapping, plus SendMessage: waits and retries are new messages on the same queue.
  statement {
    sid = "ConsumeAndRequeueCallbacks"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ChangeMessageVisibility",
      "sqs:SendMessage",
    ]
    resources = [aws_sqs_queue.callbacks.arn]
  }

  # The presigned download URL in a SUCCEEDED job's webhook acts with the signer's rights.
  statement {
    sid       = "PresignExports"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.this["exports"].arn}/${local.exports_prefix}*"]
  }

  statement {
    sid       = "ReadSigningSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.signing.arn]
  }
}

resource "aws_iam_role_policy" "callbacks" {
  name   = "least-privilege"
  role   = aws_iam_role.callbacks.id
  policy = data.aws_iam_policy_document.callbacks.json
}

# The API (safety message at job creation), the worker and the DLQ consumer (every terminal transition)
# queue webhooks; nothing else.
data "aws_iam_policy_document" "queue_callbacks" {
  statement {
    sid       = "QueueCallbacks"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.callbacks.arn]
  }
}

resource "aws_iam_role_policy" "queue_callbacks" {
  for_each = {
    api    = aws_iam_role.api.id
    worker = aws_iam_role.worker.id
    dlq    = aws_iam_role.dlq.id
  }

  name   = "queue-callbacks"
  role   = each.value
  policy = data.aws_iam_policy_document.queue_callbacks.json
}
