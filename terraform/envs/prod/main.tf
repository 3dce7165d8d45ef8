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

  # Kept environment: the module's defaults already delete nothing by accident (no force_destroy,
  # deletion protection and point-in-time recovery on the table, a 30-day recovery window for the
  # secret) and size the worker for the longest render (3008 MB, 10 GiB /tmp, 900 s). Only what differs
  # from them is set here.
  log_retention_days          = var.log_retention_days
  worker_reserved_concurrency = var.worker_reserved_concurrency

  # A per-IP rate rule in front of the API, so one address cannot use up the shared stage throttle.
  waf_enabled = var.waf_enabled

  api_zip_path     = var.api_zip_path
  worker_image_uri = local.worker_image_uri
  service_version  = local.service_version

  # Per deployment, from a tfvars file (null: the module's default).
  cors_allowed_origins       = var.cors_allowed_origins
  manage_api_gateway_account = var.manage_api_gateway_account
  signing_secret_version     = var.signing_secret_version
  webhook_secret_version     = var.webhook_secret_version
  # the operators' role(s): the only principals besides each function's role that may read the secrets
  secret_admin_principal_arns = var.secret_admin_principal_arns
  alarm_topic_arn             = var.alarm_topic_arn

  # Webhooks: https to public addresses only (the module's rules), unless a tfvars file says otherwise
  # (the rehearsal's does).
  callback_allowed_schemes  = var.callback_allowed_schemes
  callback_allowed_networks = var.callback_allowed_networks
  callback_allowed_ports    = var.callback_allowed_ports
}
