# The upload guard: a presigned PUT without `size` binds no length, so the assets bucket notifies this
# small function (the API zip, handler export_api.upload_guard) of every upload under assets/, and it
# deletes one larger than max_upload_bytes as soon as it lands.

locals {
  upload_guard_function_name = "${var.name_prefix}-upload-guard"
}

resource "aws_cloudwatch_log_group" "upload_guard" {
  #checkov:skip=CKV_AWS_158:Logs hold no secrets (an object key and its size); the AWS managed encryption of CloudWatch Logs suffices.
  #checkov:skip=CKV_AWS_338:Retention is a setting (log_retention_days).
  name              = "/aws/lambda/${local.upload_guard_function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_iam_role" "upload_guard" {
  name               = "${local.upload_guard_function_name}-role"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "upload_guard" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.upload_guard.arn}:*"]
  }

  # HeadObject (s3:GetObject) reads the size again before the delete.
  statement {
    sid       = "RemoveOversizedUploads"
    actions   = ["s3:GetObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.this["assets"].arn}/${local.assets_prefix}*"]
  }
}

resource "aws_iam_role_policy" "upload_guard" {
  name   = "least-privilege"
  role   = aws_iam_role.upload_guard.id
  policy = data.aws_iam_policy_document.upload_guard.json
}

resource "aws_lambda_function" "upload_guard" {
  #checkov:skip=CKV_AWS_116:Invoked asynchronously by S3; a lost event leaves one oversized upload, which POST /export still refuses (400) and the lifecycle rule expires.
  #checkov:skip=CKV_AWS_117:Talks only to S3's public endpoint; a VPC would add NAT or endpoint cost and cold-start time.
  #checkov:skip=CKV_AWS_173:The environment holds names and limits, no secrets.
  #checkov:skip=CKV_AWS_272:The zip is built and deployed by this repository's pipeline; code signing needs a signing profile outside its scope.
  #checkov:skip=CKV_AWS_115:One short call per upload; a reservation would take from the account pool for a function that is mostly idle.
  function_name    = local.upload_guard_function_name
  description      = "Video-export upload guard: deletes an uploaded asset larger than max_upload_bytes."
  role             = aws_iam_role.upload_guard.arn
  runtime          = "python3.13"
  architectures    = ["x86_64"]
  handler          = "export_api.upload_guard.lambda_handler"
  filename         = var.api_zip_path
  source_code_hash = filebase64sha256(var.api_zip_path)
  memory_size      = 256
  timeout          = 30

  environment {
    variables = local.common_environment
  }

  tracing_config {
    mode = var.lambda_tracing_mode
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.upload_guard, aws_iam_role_policy.upload_guard]
}

resource "aws_lambda_permission" "upload_guard" {
  statement_id   = "AllowAssetsBucketNotifications"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.upload_guard.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.this["assets"].arn
  source_account = local.account_id
}

resource "aws_s3_bucket_notification" "assets" {
  bucket = aws_s3_bucket.this["assets"].id

  lambda_function {
    lambda_function_arn = aws_lambda_function.upload_guard.arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = local.assets_prefix
  }

  depends_on = [aws_lambda_permission.upload_guard]
}
