# LocalStack root. `tflocal` (terraform-local) writes the endpoint overrides at run time
# (localstack_providers_override.tf), so nothing here names an endpoint.

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

locals {
  tags = {
    Project     = "video-export"
    Environment = "local"
    ManagedBy   = "terraform"
  }
}

module "export_service" {
  source = "../../modules/export_service"

  name_prefix = var.name_prefix
  tags        = local.tags

  # Throw-away environment: everything goes on `make dev-down`.
  force_destroy                           = true
  dynamodb_deletion_protection_enabled    = false
  dynamodb_point_in_time_recovery_enabled = true # harmless locally; keeps the checkov scan free of exceptions
  secret_recovery_window_days             = 0
  log_retention_days                      = 1

  # Short lifetimes keep the local disk small.
  assets_expiration_days  = 1
  exports_expiration_days = 1

  api_zip_path     = var.api_zip_path
  worker_image_uri = var.worker_image_uri
  service_version  = var.service_version
  log_level        = "DEBUG"

  # The local executor runs functions as host processes: a short timeout surfaces hangs quickly.
  worker_timeout    = var.worker_timeout
  max_receive_count = var.max_receive_count
  max_attempts      = var.max_attempts
  # Crash recovery within a minute (see terraform/README.md): a heartbeat every 10 s, a lease of three
  # (two missed heartbeats survived: renders share two cores with everything else here).
  job_heartbeat_seconds = var.job_heartbeat_seconds
  job_lease_seconds     = var.job_lease_seconds

  # Fan-out at a smaller scale, so the end-to-end tests fan a short timeline out into several chunks
  # while the other tests' timelines (up to 36 s) keep the single pass.
  fanout_threshold_seconds = var.fanout_threshold_seconds
  fanout_max_chunks        = var.fanout_max_chunks
  fanout_min_chunk_seconds = var.fanout_min_chunk_seconds

  # Generous throttling: tests fire bursts.
  api_throttling_rate_limit  = 1000
  api_throttling_burst_limit = 1000
}
