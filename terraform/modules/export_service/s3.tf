# Two private buckets: browser uploads (`assets/`) and rendered outputs (`exports/`, with the chunks of
# fanned-out exports under `work/`). Clients only ever reach them through presigned URLs made by the API
# Lambda.

locals {
  buckets = {
    assets = {
      prefix          = local.assets_prefix
      expiration_days = var.assets_expiration_days
      # A page uploads with the presigned PUT (signed Content-Type) or the presigned POST form; it never
      # reads an asset back.
      cors = {
        methods         = ["PUT", "POST"]
        allowed_headers = ["content-type"]
        expose_headers  = ["ETag"]
      }
      # prefixes of intermediate files that expire sooner than the bucket's own
      short_lived = {}
    }
    exports = {
      prefix          = local.exports_prefix
      expiration_days = var.exports_expiration_days
      # A <video crossorigin> plays the presigned GET with range requests; fetch() may read the ranges too.
      cors = {
        methods         = ["GET", "HEAD"]
        allowed_headers = ["range"]
        expose_headers  = ["ETag", "Content-Length", "Content-Range", "Accept-Ranges"]
      }
      short_lived = { work = { prefix = local.work_prefix, days = var.work_expiration_days } }
    }
  }

  # No origin, no CORS rule: browsers on other origins are refused until a root names its app's origins.
  cors_buckets = length(var.cors_allowed_origins) > 0 ? local.buckets : {}
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a third bucket per environment; object access is audited with CloudTrail data events at the account level.
  #checkov:skip=CKV_AWS_21:Objects are short-lived, written once and expired by lifecycle rules; versioning would only keep deleted renders around.
  #checkov:skip=CKV_AWS_144:Assets and exports are transient and re-creatable from the request; cross-region replication is not worth its cost.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) is used on purpose: a KMS key would add a per-request cost and a kms:Decrypt grant to every presigned-URL client path.
  #checkov:skip=CKV2_AWS_62:Only the assets bucket has a consumer of its notifications (upload_guard.tf); the exports bucket is written by the worker alone.
  for_each = local.buckets

  bucket        = "${var.name_prefix}-${each.key}${var.bucket_name_suffix}"
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = local.buckets

  bucket                  = aws_s3_bucket.this[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

data "aws_iam_policy_document" "bucket_tls_only" {
  for_each = local.buckets

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this[each.key].arn,
      "${aws_s3_bucket.this[each.key].arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  policy = data.aws_iam_policy_document.bucket_tls_only[each.key].json

  # A bucket policy is refused while the public access block is still being applied.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_cors_configuration" "this" {
  for_each = local.cors_buckets

  bucket = aws_s3_bucket.this[each.key].id
  cors_rule {
    allowed_headers = each.value.cors.allowed_headers
    allowed_methods = each.value.cors.methods
    allowed_origins = var.cors_allowed_origins
    expose_headers  = each.value.cors.expose_headers
    max_age_seconds = var.cors_max_age_seconds
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    id     = "expire-${each.key}"
    status = "Enabled"
    filter {
      prefix = local.buckets[each.key].prefix
    }
    expiration {
      days = local.buckets[each.key].expiration_days
    }
  }

  dynamic "rule" {
    for_each = local.buckets[each.key].short_lived
    content {
      id     = "expire-${rule.key}"
      status = "Enabled"
      filter {
        prefix = rule.value.prefix
      }
      expiration {
        days = rule.value.days
      }
    }
  }

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }
}
