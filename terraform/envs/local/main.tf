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
  demo_origins = ["http://127.0.0.1:${var.demo_port}", "http://localhost:${var.demo_port}"]
}

module "export_service" {
  source = "../../modules/export_service"

  name_prefix = var.name_prefix
  tags        = local.tags

  # Throw-away environment: everything goes on `make dev-down`.
  force_destroy                        = true
  dynamodb_deletion_protection_enabled = false
  secret_recovery_window_days          = 0
  log_retention_days                   = 1

  # The browser demo's page uploads and plays from its own origin (make demo); any other is refused.
  cors_allowed_origins = local.demo_origins

  # Short lifetimes keep the local disk small.
  assets_expiration_days  = 1
  exports_expiration_days = 1

  api_zip_path     = var.api_zip_path
  worker_image_uri = var.worker_image_uri
  service_version  = var.service_version
  log_level        = "DEBUG"

  # The local executor runs functions as host processes: a short timeout surfaces hangs quickly.
  worker_timeout = var.worker_timeout
  # Crash recovery within a minute (see terraform/README.md): a heartbeat every 10 s, a lease of three
  # (two missed heartbeats survived: renders share the host's cores with LocalStack and the tests).
  job_heartbeat_seconds = var.job_heartbeat_seconds
  job_lease_seconds     = var.job_lease_seconds

  # Webhook receivers run on this host (tests, a developer's server): http to 127.0.0.0/8 on unprivileged
  # ports is allowed,
  # and the retry schedule is seconds, not hours (2, 4, 8, ... s, five attempts), so a retry test ends quickly.
  callback_allowed_schemes     = ["https", "http"]
  callback_allowed_networks    = ["127.0.0.0/8"]
  callback_allowed_ports       = ["1024-65535"]
  callback_first_delay_seconds = 2
  callback_max_delay_seconds   = 30
  callback_max_attempts        = 5
  callback_watch_seconds       = 30

  # Secrets: a rotated value is read within 2 s, and the previous signing secret stays valid 20 s after a
  # rotation, so the end-to-end tests see a grace window begin and end (tests/e2e/test_secret_rotation.py).
  secret_cache_seconds          = 2
  previous_secret_grace_seconds = 20

  # Alarms notify nobody here (no topic) and evaluate every minute, so a test sees them change state soon.
  alarm_period_seconds = 60

  # Fan-out at a smaller scale, so the end-to-end tests fan a short timeline out into several chunks
  # while the other tests' timelines (up to 36 s) keep the single pass.
  fanout_threshold_seconds = var.fanout_threshold_seconds
  fanout_max_chunks        = var.fanout_max_chunks
  fanout_min_chunk_seconds = var.fanout_min_chunk_seconds

  # Generous throttling: tests fire bursts.
  api_throttling_rate_limit  = 1000
  api_throttling_burst_limit = 1000
}
