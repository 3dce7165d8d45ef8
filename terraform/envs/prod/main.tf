# AWS production root: the shared module with kept-environment settings, plus the worker's ECR
# repository (LocalStack's free edition has no ECR, so it lives here and not in the module). Given an
# existing image (`worker_image_uri`, as `make rehearse-prod` does on LocalStack), the root creates no ECR.

provider "aws" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids

  default_tags {
    tags = local.tags
  }
}

data "aws_caller_identity" "current" {}

locals {
  tags = merge(var.tags, {
    Project     = "video-export"
    Environment = "prod"
    ManagedBy   = "terraform"
  })
  create_worker_repository = var.worker_image_uri == null
  worker_image_uri = (local.create_worker_repository
    ? "${one(aws_ecr_repository.worker[*].repository_url)}:${var.worker_image_tag}"
  : var.worker_image_uri)
  # /health's version: the pushed tag, else the given image's tag or digest.
  service_version = coalesce(var.worker_image_tag, regex("[^:@/]+$", local.worker_image_uri))
}

resource "aws_ecr_repository" "worker" {
  count = local.create_worker_repository ? 1 : 0

  name                 = "${var.name_prefix}-worker"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = false

  image_scanning_configuration {
    scan_on_push = true
  }

  # KMS with the AWS managed key (aws/ecr).
  encryption_configuration {
    encryption_type = "KMS"
  }

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_ecr_lifecycle_policy" "worker" {
  count = local.create_worker_repository ? 1 : 0

  repository = aws_ecr_repository.worker[0].name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the newest ${var.worker_images_to_keep} images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = var.worker_images_to_keep
      }
      action = { type = "expire" }
    }]
  })
}

module "export_service" {
  source = "../../modules/export_service"

  name_prefix        = var.name_prefix
  bucket_name_suffix = "-${data.aws_caller_identity.current.account_id}"
  tags               = local.tags

  # Kept environment: nothing is deleted by accident.
  force_destroy                           = false
  dynamodb_deletion_protection_enabled    = true
  dynamodb_point_in_time_recovery_enabled = true
  secret_recovery_window_days             = 30
  log_retention_days                      = var.log_retention_days

  # Explicit lifecycle rules.
  assets_expiration_days                 = var.assets_expiration_days
  exports_expiration_days                = var.exports_expiration_days
  abort_incomplete_multipart_upload_days = 1
  cors_allowed_origins                   = var.cors_allowed_origins

  api_zip_path     = var.api_zip_path
  worker_image_uri = local.worker_image_uri
  service_version  = local.service_version

  worker_memory_size          = var.worker_memory_size
  worker_ephemeral_storage_mb = var.worker_ephemeral_storage_mb
  worker_timeout              = var.worker_timeout
  worker_reserved_concurrency = var.worker_reserved_concurrency
  api_reserved_concurrency    = var.api_reserved_concurrency
  max_receive_count           = var.max_receive_count
  max_attempts                = var.max_attempts
  job_heartbeat_seconds       = var.job_heartbeat_seconds

  api_throttling_rate_limit  = var.api_throttling_rate_limit
  api_throttling_burst_limit = var.api_throttling_burst_limit
  manage_api_gateway_account = var.manage_api_gateway_account
  signing_secret_version     = var.signing_secret_version

  # Webhooks: https to public addresses only, unless a tfvars file says otherwise (the rehearsal's does).
  callback_allowed_schemes  = var.callback_allowed_schemes
  callback_allowed_networks = var.callback_allowed_networks

  # Alarms notify the operators' topic (null: they only change state).
  alarm_topic_arn                   = var.alarm_topic_arn
  alarm_period_seconds              = 300
  queue_age_alarm_threshold_seconds = var.queue_age_alarm_threshold_seconds
}
