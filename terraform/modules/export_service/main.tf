data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  # the SQS event source's cap: its own setting, else the reservation (the event source needs 2 at least)
  worker_event_concurrency = (
    var.worker_maximum_concurrency != null ? var.worker_maximum_concurrency :
    coalesce(var.worker_reserved_concurrency, -1) >= 2 ? var.worker_reserved_concurrency : null
  )
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  api_function_name       = "${var.name_prefix}-api"
  worker_function_name    = "${var.name_prefix}-worker"
  dlq_function_name       = "${var.name_prefix}-dlq-consumer"
  callbacks_function_name = "${var.name_prefix}-callbacks"

  # Object key prefixes fixed by docs/architecture.md.
  assets_prefix  = "assets/"
  exports_prefix = "exports/"
  # Chunks and audio tracks of fanned-out exports, in the exports bucket (export_common.fanout).
  work_prefix = "work/"
  # Partition key prefixes of the jobs table (export_common.table), which the IAM policies scope each
  # role's items to (dynamodb:LeadingKeys).
  table_key_prefixes = {
    job          = "job#"
    task         = "task#"
    idempotency  = "idem#"
    signature    = "sig#"
    health_probe = "health#probe"
  }

  # Only what a message waits whose worker died before claiming its job (an event source mapping needs
  # at least the function timeout); from the claim on, the worker's heartbeat keeps each message's
  # visibility at one job lease, so a crashed attempt's job comes back within one lease.
  queue_visibility_timeout = var.worker_timeout * var.queue_visibility_timeout_multiplier
  job_lease_seconds        = coalesce(var.job_lease_seconds, 2 * var.job_heartbeat_seconds)
  # A dead letter whose job is still RUNNING under a live lease comes back after this long: one whole
  # lease, so the second look finds the lease over. At least 6x the consumer's timeout (AWS advice
  # for a Lambda event source; below the function timeout the mapping is refused).
  dlq_visibility_timeout = max(local.job_lease_seconds, 6 * var.dlq_consumer_timeout)
  # A callbacks message whose delivery function died comes back after this; its attempt's lease (the
  # function timeout) has run out by then, so the attempt is taken over.
  callback_visibility_timeout = 2 * var.callback_function_timeout

  # Environment variables named in docs/architecture.md, split by who reads them.
  common_environment = {
    JOBS_TABLE_NAME              = aws_dynamodb_table.jobs.name
    ASSETS_BUCKET_NAME           = aws_s3_bucket.this["assets"].id
    EXPORTS_BUCKET_NAME          = aws_s3_bucket.this["exports"].id
    MAX_UPLOAD_BYTES             = tostring(var.max_upload_bytes)
    JOB_TTL_DAYS                 = tostring(var.job_ttl_days)
    SERVICE_VERSION              = var.service_version
    POWERTOOLS_SERVICE_NAME      = var.powertools_service_name
    POWERTOOLS_METRICS_NAMESPACE = var.powertools_metrics_namespace
    LOG_LEVEL                    = var.log_level
    # the worker cuts long exports with these, and the API's quote names the same cut and cost
    FANOUT_THRESHOLD_SECONDS = tostring(var.fanout_threshold_seconds)
    FANOUT_MAX_CHUNKS        = tostring(var.fanout_max_chunks)
    FANOUT_MIN_CHUNK_SECONDS = tostring(var.fanout_min_chunk_seconds)
    WORKER_MEMORY_MB         = tostring(var.worker_memory_size)
  }
  api_environment = merge(local.common_environment, {
    JOB_QUEUE_URL                 = aws_sqs_queue.jobs.url
    SIGNING_SECRET_ARN            = aws_secretsmanager_secret.this["signing"].arn
    SIGNING_SECRET_CACHE_SECONDS  = tostring(var.secret_cache_seconds)
    PREVIOUS_SECRET_GRACE_SECONDS = tostring(var.previous_secret_grace_seconds)
    UPLOAD_URL_EXPIRY_SECONDS     = tostring(var.upload_url_expiry_seconds)
    DOWNLOAD_URL_EXPIRY_SECONDS   = tostring(var.download_url_expiry_seconds)
    CALLBACK_QUEUE_URL            = aws_sqs_queue.callbacks.url
    CALLBACK_ALLOWED_SCHEMES      = join(",", var.callback_allowed_schemes)
    CALLBACK_ALLOWED_NETWORKS     = join(",", var.callback_allowed_networks)
    CALLBACK_ALLOWED_PORTS        = join(",", var.callback_allowed_ports)
    CALLBACK_WATCH_SECONDS        = tostring(var.callback_watch_seconds)
  })
  worker_environment = merge(local.common_environment, {
    JOB_LEASE_SECONDS     = tostring(local.job_lease_seconds)
    JOB_HEARTBEAT_SECONDS = tostring(var.job_heartbeat_seconds)
    MAX_ATTEMPTS          = tostring(var.max_attempts)
    CALLBACK_QUEUE_URL    = aws_sqs_queue.callbacks.url
    # the split sends its task messages to the job queue
    JOB_QUEUE_URL = aws_sqs_queue.jobs.url
    # the disk budget a task is checked against before it fetches anything
    EPHEMERAL_STORAGE_MB = tostring(var.worker_ephemeral_storage_mb)
  })
  # The DLQ consumer parses the worker's settings (bucket names are required there, though it never
  # touches S3) and logs MAX_RECEIVE_COUNT with each job it fails.
  dlq_environment = merge(local.common_environment, {
    MAX_RECEIVE_COUNT  = tostring(var.max_receive_count)
    CALLBACK_QUEUE_URL = aws_sqs_queue.callbacks.url
  })
  callbacks_environment = merge(local.common_environment, {
    WEBHOOK_SECRET_ARN           = aws_secretsmanager_secret.this["webhook"].arn
    SIGNING_SECRET_CACHE_SECONDS = tostring(var.secret_cache_seconds)
    CALLBACK_QUEUE_URL           = aws_sqs_queue.callbacks.url
    DOWNLOAD_URL_EXPIRY_SECONDS  = tostring(var.download_url_expiry_seconds)
    CALLBACK_FIRST_DELAY_SECONDS = tostring(var.callback_first_delay_seconds)
    CALLBACK_BACKOFF_FACTOR      = tostring(var.callback_backoff_factor)
    CALLBACK_MAX_DELAY_SECONDS   = tostring(var.callback_max_delay_seconds)
    CALLBACK_MAX_ATTEMPTS        = tostring(var.callback_max_attempts)
    CALLBACK_WATCH_SECONDS       = tostring(var.callback_watch_seconds)
    CALLBACK_TIMEOUT_SECONDS     = tostring(var.callback_timeout_seconds)
    CALLBACK_MAX_RESPONSE_BYTES  = tostring(var.callback_max_response_bytes)
    CALLBACK_ALLOWED_SCHEMES     = join(",", var.callback_allowed_schemes)
    CALLBACK_ALLOWED_NETWORKS    = join(",", var.callback_allowed_networks)
    CALLBACK_ALLOWED_PORTS       = join(",", var.callback_allowed_ports)
    CALLBACK_LEASE_SECONDS       = tostring(var.callback_function_timeout)
  })
}
