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
# Statements several roles hold, each written once; every role's policy below is composed of these
# (source_policy_documents) and its own statements.
################################################################################

data "aws_iam_policy_document" "write_own_logs" {
  for_each = {
    api       = aws_cloudwatch_log_group.api.arn
    worker    = aws_cloudwatch_log_group.worker.arn
    dlq       = aws_cloudwatch_log_group.dlq.arn
    callbacks = aws_cloudwatch_log_group.callbacks.arn
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${each.value}:*"]
  }
}

# The worker, the DLQ consumer and the webhook function read a job and update it (conditional writes:
# the job's state, the FAILED mark, the `callback` map); they never create or delete items. Each may touch
# only the items of the key prefixes it owns (dynamodb:LeadingKeys, export_common.table): jobs (`job#`),
# and for the worker the lease items of a fanned-out job's tasks (`task#`).
data "aws_iam_policy_document" "read_and_update_jobs" {
  for_each = {
    worker    = ["${local.table_key_prefixes.job}*", "${local.table_key_prefixes.task}*"]
    dlq       = ["${local.table_key_prefixes.job}*"]
    callbacks = ["${local.table_key_prefixes.job}*"]
  }

  statement {
    sid       = "JobsTable"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.jobs.arn]

    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = each.value
    }
  }
}

# What an SQS event source mapping needs of its queue; SendMessage too where the function sends to the
# queue it consumes (the worker: task messages of a fanned-out job; the webhook function: waits and
# retries are new messages). The DLQ consumer has no access to the job queue.
data "aws_iam_policy_document" "consume_queue" {
  for_each = {
    worker    = { sid = "ConsumeJobs", queue_arn = aws_sqs_queue.jobs.arn, sends = true }
    dlq       = { sid = "ConsumeDeadLetters", queue_arn = aws_sqs_queue.jobs_dlq.arn, sends = false }
    callbacks = { sid = "ConsumeAndRequeueCallbacks", queue_arn = aws_sqs_queue.callbacks.arn, sends = true }
  }

  statement {
    sid = each.value.sid
    actions = concat(
      ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
      each.value.sends ? ["sqs:SendMessage"] : [],
    )
    resources = [each.value.queue_arn]
  }
}

# Each secret has one reader: the API (request signatures), the webhook function (webhook signatures).
# DescribeSecret: the API checks that the previous version is still AWSPREVIOUS before accepting it.
data "aws_iam_policy_document" "read_secret" {
  for_each = {
    signing = { sid = "ReadSigningSecret", arn = aws_secretsmanager_secret.this["signing"].arn }
    webhook = { sid = "ReadWebhookSecret", arn = aws_secretsmanager_secret.this["webhook"].arn }
  }

  statement {
    sid       = each.value.sid
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [each.value.arn]
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
  source_policy_documents = [
    data.aws_iam_policy_document.write_own_logs["api"].json,
    data.aws_iam_policy_document.read_secret["signing"].json,
  ]

  # The only function that creates jobs, each action on the key prefixes it needs (dynamodb:LeadingKeys):
  # it reads jobs, Idempotency-Key reservations and GET /health's probe key; writes jobs, reservations and
  # replay records (`sig#`); updates only jobs (the FAILED mark when a job cannot be queued); deletes only
  # a reservation (freed when its job could not be queued).
  dynamic "statement" {
    for_each = {
      JobsTableRead = {
        actions = ["dynamodb:GetItem"]
        keys    = ["${local.table_key_prefixes.job}*", "${local.table_key_prefixes.idempotency}*", local.table_key_prefixes.health_probe]
      }
      JobsTableCreate = {
        actions = ["dynamodb:PutItem"]
        keys    = ["${local.table_key_prefixes.job}*", "${local.table_key_prefixes.idempotency}*", "${local.table_key_prefixes.signature}*"]
      }
      JobsTableUpdate = {
        actions = ["dynamodb:UpdateItem"]
        keys    = ["${local.table_key_prefixes.job}*"]
      }
      JobsTableFreeReservation = {
        actions = ["dynamodb:DeleteItem"]
        keys    = ["${local.table_key_prefixes.idempotency}*"]
      }
    }

    content {
      sid       = statement.key
      actions   = statement.value.actions
      resources = [aws_dynamodb_table.jobs.arn]

      condition {
        test     = "ForAllValues:StringLike"
        variable = "dynamodb:LeadingKeys"
        values   = statement.value.keys
      }
    }
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
  source_policy_documents = [
    data.aws_iam_policy_document.write_own_logs["worker"].json,
    data.aws_iam_policy_document.read_and_update_jobs["worker"].json,
    data.aws_iam_policy_document.consume_queue["worker"].json,
  ]

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
  source_policy_documents = [
    data.aws_iam_policy_document.write_own_logs["dlq"].json,
    data.aws_iam_policy_document.read_and_update_jobs["dlq"].json,
    data.aws_iam_policy_document.consume_queue["dlq"].json,
  ]
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
  source_policy_documents = [
    data.aws_iam_policy_document.write_own_logs["callbacks"].json,
    data.aws_iam_policy_document.read_and_update_jobs["callbacks"].json,
    data.aws_iam_policy_document.consume_queue["callbacks"].json,
    data.aws_iam_policy_document.read_secret["webhook"].json,
  ]

  # The presigned download URL in a SUCCEEDED job's webhook acts with the signer's rights.
  statement {
    sid       = "PresignExports"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.this["exports"].arn}/${local.exports_prefix}*"]
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
