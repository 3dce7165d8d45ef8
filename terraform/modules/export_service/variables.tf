################################################################################
# Naming
################################################################################

variable "name_prefix" {
  description = "Prefix of every resource name, e.g. `video-export-prod`. Lowercase letters, digits and hyphens, 3 to 40 characters (S3 bucket names are derived from it)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-40 lowercase letters, digits or hyphens, starting and ending with a letter or digit."
  }
}

variable "bucket_name_suffix" {
  description = "Appended to the bucket names (`<name_prefix>-assets<suffix>`) so that they are globally unique, e.g. `-123456789012`. Empty for none."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[a-z0-9-]{0,20}$", var.bucket_name_suffix))
    error_message = "bucket_name_suffix may hold at most 20 lowercase letters, digits or hyphens."
  }
}

variable "tags" {
  description = "Tags added to every resource that supports them."
  type        = map(string)
  default     = {}
}

################################################################################
# Removal behaviour (what differs between a throw-away and a kept environment)
################################################################################

variable "force_destroy" {
  description = "Whether `terraform destroy` may delete non-empty S3 buckets. True only for throw-away environments."
  type        = bool
  default     = false
}

variable "dynamodb_deletion_protection_enabled" {
  description = "Whether the jobs table refuses deletion until the flag is turned off."
  type        = bool
  default     = true
}

variable "dynamodb_point_in_time_recovery_enabled" {
  description = "Whether point-in-time recovery (35 days of continuous backups) is enabled on the jobs table."
  type        = bool
  default     = true
}

variable "secret_recovery_window_days" {
  description = "Days Secrets Manager keeps the deleted signing secret before removing it for good. 0 (delete at once) or an integer from 7 to 30."
  type        = number
  default     = 30

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

################################################################################
# S3
################################################################################

variable "assets_expiration_days" {
  description = "Days after which uploaded assets (`assets/`) are deleted. An integer from 1 to 3650."
  type        = number
  default     = 7

  validation {
    condition     = var.assets_expiration_days >= 1 && var.assets_expiration_days <= 3650
    error_message = "assets_expiration_days must be between 1 and 3650."
  }
}

variable "exports_expiration_days" {
  description = "Days after which rendered exports (`exports/`) are deleted. An integer from 1 to 3650."
  type        = number
  default     = 30

  validation {
    condition     = var.exports_expiration_days >= 1 && var.exports_expiration_days <= 3650
    error_message = "exports_expiration_days must be between 1 and 3650."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which unfinished multipart uploads are aborted (their parts cost storage). An integer from 1 to 30."
  type        = number
  default     = 1

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1 && var.abort_incomplete_multipart_upload_days <= 30
    error_message = "abort_incomplete_multipart_upload_days must be between 1 and 30."
  }
}

variable "cors_allowed_origins" {
  description = "Browser origins (`scheme://host[:port]`, no path) whose pages may PUT uploads to the assets bucket and play or GET exports, with the presigned URLs, e.g. [\"https://app.example.com\"]. Empty: no CORS rule, so every browser page is refused (server-side clients are unaffected)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for origin in var.cors_allowed_origins : can(regex("^https?://[^/?#\\s]+$", origin))])
    error_message = "cors_allowed_origins must hold origins like https://app.example.com (a scheme and a host, optionally a port, no path or trailing slash)."
  }
}

variable "cors_max_age_seconds" {
  description = "How long browsers may cache the CORS pre-flight answer, in seconds. An integer from 0 to 86400."
  type        = number
  default     = 3000

  validation {
    condition     = var.cors_max_age_seconds >= 0 && var.cors_max_age_seconds <= 86400
    error_message = "cors_max_age_seconds must be between 0 and 86400."
  }
}

################################################################################
# SQS
################################################################################

variable "max_attempts" {
  description = "MAX_ATTEMPTS: attempts of one job that really start rendering (claims counted on the job record) before the job ends FAILED. Deliveries that find the job busy or final cost none. An integer from 1 to 100."
  type        = number
  default     = 3

  validation {
    condition     = var.max_attempts >= 1 && var.max_attempts <= 100
    error_message = "max_attempts must be between 1 and 100."
  }
}

variable "max_receive_count" {
  description = "Receives of one job message before SQS moves it to the dead-letter queue. Only a safety net: the worker ends every job after max_attempts attempts itself; receives that find the job busy (a duplicate message re-checking a live lease about every job lease) also count here. An integer from max_attempts + 1 to 1000."
  type        = number
  default     = 50

  validation {
    condition     = var.max_receive_count > var.max_attempts && var.max_receive_count <= 1000
    error_message = "max_receive_count must be more than max_attempts and at most 1000."
  }
}

variable "job_heartbeat_seconds" {
  description = "JOB_HEARTBEAT_SECONDS: how often a running attempt extends its job's lease and its message's visibility. A dead attempt is taken over within job_lease_seconds of its last heartbeat. An integer from 5 to 900."
  type        = number
  default     = 60

  validation {
    condition     = var.job_heartbeat_seconds >= 5 && var.job_heartbeat_seconds <= 900
    error_message = "job_heartbeat_seconds must be between 5 and 900."
  }
}

variable "job_lease_seconds" {
  description = "JOB_LEASE_SECONDS: how long a job's lease, and its message's visibility, run past the last heartbeat, so the longest a crashed attempt delays its job. Null: two heartbeats (one missed heartbeat is survived). At least twice job_heartbeat_seconds, at most 43200."
  type        = number
  default     = null

  validation {
    condition     = var.job_lease_seconds == null || (coalesce(var.job_lease_seconds, 0) >= 2 * var.job_heartbeat_seconds && coalesce(var.job_lease_seconds, 0) <= 43200)
    error_message = "job_lease_seconds must be null or between 2 * job_heartbeat_seconds and 43200."
  }
}

variable "queue_visibility_timeout_multiplier" {
  description = "The job queue's visibility timeout is the worker timeout times this factor. An event source mapping needs at least the function timeout (factor 1). It only decides when a message comes back whose worker died before its claim: from the claim on, the worker keeps each message's visibility at one job lease (heartbeat). The product must not exceed 43200 seconds (12 hours)."
  type        = number
  default     = 1

  validation {
    condition     = var.queue_visibility_timeout_multiplier >= 1 && var.queue_visibility_timeout_multiplier * var.worker_timeout <= 43200
    error_message = "queue_visibility_timeout_multiplier must be at least 1 and queue_visibility_timeout_multiplier * worker_timeout at most 43200."
  }
}

variable "queue_message_retention_seconds" {
  description = "How long the job queue keeps a message, in seconds. An integer from 60 (1 minute) to 1209600 (14 days)."
  type        = number
  default     = 345600

  validation {
    condition     = var.queue_message_retention_seconds >= 60 && var.queue_message_retention_seconds <= 1209600
    error_message = "queue_message_retention_seconds must be between 60 and 1209600."
  }
}

variable "dlq_message_retention_seconds" {
  description = "How long the dead-letter queue keeps a message, in seconds, counted from when the message was first sent to the job queue (SQS keeps that time when it dead-letters a message). At most 1209600 (14 days), and at least the job queue's retention plus the longest a live attempt can hold a job (worker_timeout plus one lease) plus one more lease, so that a dead letter of a message that aged in the job queue still gets a look after a live lease ended."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds <= 1209600 && var.dlq_message_retention_seconds >= var.queue_message_retention_seconds + var.worker_timeout + 2 * coalesce(var.job_lease_seconds, 2 * var.job_heartbeat_seconds)
    error_message = "dlq_message_retention_seconds must be at most 1209600 and at least queue_message_retention_seconds + worker_timeout + 2 * job lease."
  }
}

################################################################################
# Lambda: common
################################################################################

variable "log_retention_days" {
  description = "Retention of the Lambda and API Gateway log groups, in days. One of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts."
  }
}

variable "lambda_tracing_mode" {
  description = "X-Ray tracing mode of both functions: `Active` or `PassThrough`."
  type        = string
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.lambda_tracing_mode)
    error_message = "lambda_tracing_mode must be Active or PassThrough."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of both functions (Powertools logger)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "service_version" {
  description = "SERVICE_VERSION reported by `GET /health`, e.g. the git commit."
  type        = string
  default     = "dev"
}

variable "powertools_service_name" {
  description = "POWERTOOLS_SERVICE_NAME of both functions."
  type        = string
  default     = "video-export"
}

variable "powertools_metrics_namespace" {
  description = "POWERTOOLS_METRICS_NAMESPACE of both functions."
  type        = string
  default     = "VideoExport"
}

################################################################################
# Lambda: API
################################################################################

variable "api_zip_path" {
  description = "Path of the API Lambda zip built by `scripts/build_lambdas.py` (`build/api.zip`), relative to the directory Terraform runs in or absolute."
  type        = string
}

variable "api_handler" {
  description = "Handler of the API Lambda."
  type        = string
  default     = "export_api.handler.lambda_handler"
}

variable "api_memory_size" {
  description = "Memory of the API Lambda in MB. An integer from 128 to 10240."
  type        = number
  default     = 512

  validation {
    condition     = var.api_memory_size >= 128 && var.api_memory_size <= 10240
    error_message = "api_memory_size must be between 128 and 10240."
  }
}

variable "api_timeout" {
  description = "Timeout of the API Lambda in seconds. An integer from 1 to 29 (API Gateway's integration limit)."
  type        = number
  default     = 15

  validation {
    condition     = var.api_timeout >= 1 && var.api_timeout <= 29
    error_message = "api_timeout must be between 1 and 29."
  }
}

variable "api_reserved_concurrency" {
  description = "Reserved concurrency of the API Lambda: null (or -1) for none, sharing the account pool; 0 disables the function; otherwise both a guaranteed share and a cap (a burst beyond it is throttled: API Gateway answers 429/502 instead of every call slowing down)."
  type        = number
  default     = null

  validation {
    condition     = var.api_reserved_concurrency == null || coalesce(var.api_reserved_concurrency, -1) >= -1
    error_message = "api_reserved_concurrency must be null, -1 or more."
  }
}

variable "upload_url_expiry_seconds" {
  description = "UPLOAD_URL_EXPIRY_SECONDS: lifetime of presigned upload URLs. An integer from 60 to 604800 (7 days)."
  type        = number
  default     = 900

  validation {
    condition     = var.upload_url_expiry_seconds >= 60 && var.upload_url_expiry_seconds <= 604800
    error_message = "upload_url_expiry_seconds must be between 60 and 604800."
  }
}

variable "download_url_expiry_seconds" {
  description = "DOWNLOAD_URL_EXPIRY_SECONDS: lifetime of presigned download URLs. An integer from 60 to 604800 (7 days)."
  type        = number
  default     = 3600

  validation {
    condition     = var.download_url_expiry_seconds >= 60 && var.download_url_expiry_seconds <= 604800
    error_message = "download_url_expiry_seconds must be between 60 and 604800."
  }
}

variable "max_upload_bytes" {
  description = "MAX_UPLOAD_BYTES: size limit of one uploaded asset. An integer from 1 to 5368709120 (5 GiB, the single-PUT limit)."
  type        = number
  default     = 2147483648

  validation {
    condition     = var.max_upload_bytes >= 1 && var.max_upload_bytes <= 5368709120
    error_message = "max_upload_bytes must be between 1 and 5368709120."
  }
}

variable "job_ttl_days" {
  description = "JOB_TTL_DAYS: job records expire (DynamoDB TTL) after this many days. An integer from 1 to 365."
  type        = number
  default     = 30

  validation {
    condition     = var.job_ttl_days >= 1 && var.job_ttl_days <= 365
    error_message = "job_ttl_days must be between 1 and 365."
  }
}

################################################################################
# Lambda: worker
################################################################################

variable "worker_image_uri" {
  description = "Container image of the worker Lambda, `<registry>/<repository>:<tag>` or `...@sha256:<digest>`."
  type        = string
}

variable "worker_image_command" {
  description = "Handler the worker image runs (the image CMD override)."
  type        = list(string)
  default     = ["export_worker.handler.lambda_handler"]
}

variable "worker_architecture" {
  description = "Instruction set of the worker image: `x86_64` or `arm64`."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.worker_architecture)
    error_message = "worker_architecture must be x86_64 or arm64."
  }
}

variable "worker_memory_size" {
  description = "Memory of the worker Lambda in MB (also buys CPU: 1769 MB is one vCPU). An integer from 128 to 10240."
  type        = number
  default     = 3008

  validation {
    condition     = var.worker_memory_size >= 128 && var.worker_memory_size <= 10240
    error_message = "worker_memory_size must be between 128 and 10240."
  }
}

variable "worker_ephemeral_storage_mb" {
  description = "Size of the worker's /tmp in MB (inputs and the rendered output live there). An integer from 512 to 10240."
  type        = number
  default     = 10240

  validation {
    condition     = var.worker_ephemeral_storage_mb >= 512 && var.worker_ephemeral_storage_mb <= 10240
    error_message = "worker_ephemeral_storage_mb must be between 512 and 10240."
  }
}

variable "worker_timeout" {
  description = "Timeout of the worker Lambda in seconds. An integer from 30 to 900 (15 minutes)."
  type        = number
  default     = 900

  validation {
    condition     = var.worker_timeout >= 30 && var.worker_timeout <= 900
    error_message = "worker_timeout must be between 30 and 900."
  }
}

variable "worker_reserved_concurrency" {
  description = "Reserved concurrency of the worker Lambda: null (or -1) for none; 0 pauses rendering (messages wait in the queue); otherwise the most renders that run at once. Keep worker_maximum_concurrency at or below it, so the event source does not invoke into throttling."
  type        = number
  default     = null

  validation {
    condition     = var.worker_reserved_concurrency == null || coalesce(var.worker_reserved_concurrency, -1) >= -1
    error_message = "worker_reserved_concurrency must be null, -1 or more."
  }
}

variable "worker_batch_size" {
  description = "Messages per worker invocation. An integer from 1 to 10; 1 gives every render the whole timeout."
  type        = number
  default     = 1

  validation {
    condition     = var.worker_batch_size >= 1 && var.worker_batch_size <= 10
    error_message = "worker_batch_size must be between 1 and 10."
  }
}

variable "worker_maximum_concurrency" {
  description = "Most concurrent worker invocations the SQS event source starts (2 to 1000), or null: worker_reserved_concurrency when that is 2 or more (so the event source never invokes into throttling), else no limit."
  type        = number
  default     = null

  validation {
    condition     = var.worker_maximum_concurrency == null || (coalesce(var.worker_maximum_concurrency, 2) >= 2 && coalesce(var.worker_maximum_concurrency, 2) <= 1000)
    error_message = "worker_maximum_concurrency must be null or between 2 and 1000."
  }
}

################################################################################
# Fan-out: long exports render as chunks on several worker Lambdas
################################################################################

variable "fanout_threshold_seconds" {
  description = "FANOUT_THRESHOLD_SECONDS: outputs longer than this many seconds are cut into chunks rendered by several worker invocations at once, then joined by stream copy; shorter ones render in one pass. A number from 1 to 3600."
  type        = number
  default     = 60

  validation {
    condition     = var.fanout_threshold_seconds >= 1 && var.fanout_threshold_seconds <= 3600
    error_message = "fanout_threshold_seconds must be between 1 and 3600."
  }
}

variable "fanout_max_chunks" {
  description = "FANOUT_MAX_CHUNKS: the most chunks one export is cut into (each one worker invocation; the audio is one more). An integer from 2 to 99; keep worker_reserved_concurrency at or above it plus one, or chunks wait for each other."
  type        = number
  default     = 20

  validation {
    condition     = var.fanout_max_chunks >= 2 && var.fanout_max_chunks <= 99 && floor(var.fanout_max_chunks) == var.fanout_max_chunks
    error_message = "fanout_max_chunks must be a whole number between 2 and 99."
  }
}

variable "fanout_min_chunk_seconds" {
  description = "FANOUT_MIN_CHUNK_SECONDS: no chunk is shorter than this many seconds of output (a shorter one costs more in start-up, downloads and probing than it saves). A number from 1 to 3600."
  type        = number
  default     = 10

  validation {
    condition     = var.fanout_min_chunk_seconds >= 1 && var.fanout_min_chunk_seconds <= 3600
    error_message = "fanout_min_chunk_seconds must be between 1 and 3600."
  }
}

variable "work_expiration_days" {
  description = "Days after which the chunks and audio tracks of fanned-out exports (`work/` in the exports bucket) are deleted; the join reads them within minutes. An integer from 1 to 30."
  type        = number
  default     = 1

  validation {
    condition     = var.work_expiration_days >= 1 && var.work_expiration_days <= 30
    error_message = "work_expiration_days must be between 1 and 30."
  }
}

################################################################################
# Lambda: DLQ consumer (the worker image, handler export_worker.handler.dlq_lambda_handler)
################################################################################

variable "dlq_consumer_memory_size" {
  description = "Memory of the DLQ consumer Lambda in MB (it only reads and updates job records). An integer from 128 to 10240."
  type        = number
  default     = 256

  validation {
    condition     = var.dlq_consumer_memory_size >= 128 && var.dlq_consumer_memory_size <= 10240
    error_message = "dlq_consumer_memory_size must be between 128 and 10240."
  }
}

variable "dlq_consumer_timeout" {
  description = "Timeout of the DLQ consumer Lambda in seconds (a batch of up to 10 dead letters, two DynamoDB calls each). An integer from 10 to 900."
  type        = number
  default     = 60

  validation {
    condition     = var.dlq_consumer_timeout >= 10 && var.dlq_consumer_timeout <= 900
    error_message = "dlq_consumer_timeout must be between 10 and 900."
  }
}

variable "dlq_consumer_enabled" {
  description = "Whether the DLQ consumer's event source mapping polls the dead-letter queue. Turn it off to inspect raw dead letters (they then stay until the DLQ's retention ends them); jobs whose last attempt died stay QUEUED or RUNNING meanwhile."
  type        = bool
  default     = true
}

################################################################################
# Signing secret
################################################################################

variable "signing_secret_length" {
  description = "Length of the generated HMAC signing secret (letters and digits). An integer from 32 to 4096."
  type        = number
  default     = 64

  validation {
    condition     = var.signing_secret_length >= 32 && var.signing_secret_length <= 4096
    error_message = "signing_secret_length must be between 32 and 4096."
  }
}

variable "signing_secret_version" {
  description = "Generation of the signing secret. The value is generated once per generation and never stored in the Terraform state; increase this number to rotate it (every client then needs the new secret)."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.signing_secret_version >= 1 && floor(var.signing_secret_version) == var.signing_secret_version
    error_message = "signing_secret_version must be a whole number of at least 1."
  }
}

variable "previous_secret_grace_seconds" {
  description = "After a rotation (make rotate-secret), how long the API still accepts the previous signing secret, counted from the new version's creation (PREVIOUS_SECRET_GRACE_SECONDS): the time clients have to move. make revoke-previous-secret ends it at once. An integer from 0 to 2592000 (30 days)."
  type        = number
  default     = 86400

  validation {
    condition     = var.previous_secret_grace_seconds >= 0 && var.previous_secret_grace_seconds <= 2592000
    error_message = "previous_secret_grace_seconds must be between 0 and 2592000."
  }
}

variable "secret_cache_seconds" {
  description = "How long the API and the callbacks function keep a secret they read (SIGNING_SECRET_CACHE_SECONDS): a rotated value is in use within this time. Nothing a caller sends forces an earlier read. An integer from 0 to 3600."
  type        = number
  default     = 60

  validation {
    condition     = var.secret_cache_seconds >= 0 && var.secret_cache_seconds <= 3600
    error_message = "secret_cache_seconds must be between 0 and 3600."
  }
}

variable "webhook_secret_version" {
  description = "Generation of the webhook signing secret (its own secret: receivers verify webhooks with it, never with the request-signing secret). The value is generated once per generation and never stored in the Terraform state; increase this number to rotate it (every receiver then needs the new secret)."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.webhook_secret_version >= 1 && floor(var.webhook_secret_version) == var.webhook_secret_version
    error_message = "webhook_secret_version must be a whole number of at least 1."
  }
}

variable "secret_admin_principal_arns" {
  description = "IAM principals (role or user ARNs, as aws:PrincipalArn names them) that may read both secrets' values besides the function that uses each: the operators who hand the signing secret to Base44 and the webhook secret to receivers. [] leaves the values to the functions alone (an operator then changes the policy to read them)."
  type        = list(string)
  default     = []
  nullable    = false
}

################################################################################
# API Gateway
################################################################################

variable "waf_enabled" {
  description = "Whether a WAF web ACL guards the API stage (waf.tf): a per-IP rate rule (waf_rate_limit_per_ip) and AWS's known-bad-inputs rules. Costs a web ACL, two rules and a per-request fee. On in the prod root; LocalStack's free edition has no WAFv2."
  type        = bool
  default     = false
}

variable "waf_rate_limit_per_ip" {
  description = "Requests one IP address may send in waf_rate_window_seconds before WAF answers it 429 until its rate falls. Set it above the peak of your busiest signed caller (a Base44 backend) and below what the stage throttle allows in that window. An integer from 10 to 2000000000."
  type        = number
  default     = 1200

  validation {
    condition     = var.waf_rate_limit_per_ip >= 10 && var.waf_rate_limit_per_ip <= 2000000000
    error_message = "waf_rate_limit_per_ip must be between 10 and 2000000000."
  }
}

variable "waf_rate_window_seconds" {
  description = "The window of waf_rate_limit_per_ip, in seconds: 60, 120, 300 or 600."
  type        = number
  default     = 300

  validation {
    condition     = contains([60, 120, 300, 600], var.waf_rate_window_seconds)
    error_message = "waf_rate_window_seconds must be 60, 120, 300 or 600."
  }
}

variable "api_stage_name" {
  description = "Stage of the REST API; the invoke URL ends with it."
  type        = string
  default     = "v1"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.api_stage_name))
    error_message = "api_stage_name must be 1-64 letters, digits, hyphens or underscores."
  }
}

variable "api_throttling_rate_limit" {
  description = "Steady-state requests per second the stage accepts before answering 429."
  type        = number
  default     = 20

  validation {
    condition     = var.api_throttling_rate_limit > 0
    error_message = "api_throttling_rate_limit must be positive."
  }
}

variable "api_throttling_burst_limit" {
  description = "Burst of requests the stage accepts above the rate limit."
  type        = number
  default     = 50

  validation {
    condition     = var.api_throttling_burst_limit >= 1
    error_message = "api_throttling_burst_limit must be at least 1."
  }
}

variable "api_xray_tracing_enabled" {
  description = "Whether the API stage sends X-Ray traces."
  type        = bool
  default     = true
}

variable "api_access_logs_enabled" {
  description = "Whether the API stage writes JSON access logs to its own log group. API Gateway needs an account-wide CloudWatch role for this (see `manage_api_gateway_account`)."
  type        = bool
  default     = true
}

variable "api_execution_logging_level" {
  description = "API Gateway execution logging of every method: `OFF`, `ERROR` or `INFO`. Anything but OFF needs the account-wide CloudWatch role."
  type        = string
  default     = "ERROR"

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.api_execution_logging_level)
    error_message = "api_execution_logging_level must be OFF, ERROR or INFO."
  }
}

variable "manage_api_gateway_account" {
  description = "Whether this module creates the IAM role API Gateway uses to write logs and registers it in the (account and region wide) API Gateway settings. Turn it off when something else in the account manages that setting."
  type        = bool
  default     = true
  nullable    = false
}

################################################################################
# Completion webhooks (export_callbacks)
################################################################################

variable "callback_allowed_schemes" {
  description = "URL schemes a job's callbackUrl may use (CALLBACK_ALLOWED_SCHEMES). [\"https\"] in production; a local stack whose receivers run on the host adds \"http\"."
  type        = list(string)
  default     = ["https"]
  nullable    = false

  validation {
    condition     = length(var.callback_allowed_schemes) > 0 && alltrue([for s in var.callback_allowed_schemes : contains(["https", "http"], s)])
    error_message = "callback_allowed_schemes must list https and/or http."
  }
}

variable "callback_allowed_networks" {
  description = "CIDRs a webhook may be delivered to although they are not public (CALLBACK_ALLOWED_NETWORKS): every other loopback, private, link-local (instance metadata), unique-local or reserved address is refused after DNS resolution. [] in production; [\"127.0.0.0/8\"] for a local stack."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for n in var.callback_allowed_networks : can(cidrhost(n, 0))])
    error_message = "callback_allowed_networks must hold CIDR blocks, e.g. 127.0.0.0/8."
  }
}

variable "callback_allowed_ports" {
  description = "Ports a callbackUrl may use beyond its scheme's own (CALLBACK_ALLOWED_PORTS): 443 for https and 80 where http is allowed are always accepted; entries are ports or ranges, \"8080\" or \"1024-65535\". [] in production; a local stack whose test receivers listen on ephemeral ports adds [\"1024-65535\"]."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for p in var.callback_allowed_ports : can(regex("^[0-9]{1,5}(-[0-9]{1,5})?$", p))])
    error_message = "callback_allowed_ports must hold ports or ranges, e.g. 8080 or 1024-65535."
  }
}

variable "callback_first_delay_seconds" {
  description = "Seconds between the first failed webhook attempt and the second (CALLBACK_FIRST_DELAY_SECONDS); each later wait is callback_backoff_factor times longer, at most callback_max_delay_seconds. An integer from 1 to 86400."
  type        = number
  default     = 30

  validation {
    condition     = var.callback_first_delay_seconds >= 1 && var.callback_first_delay_seconds <= 86400
    error_message = "callback_first_delay_seconds must be between 1 and 86400."
  }
}

variable "callback_backoff_factor" {
  description = "Growth of the wait between webhook attempts (CALLBACK_BACKOFF_FACTOR). A number from 1 to 10."
  type        = number
  default     = 2

  validation {
    condition     = var.callback_backoff_factor >= 1 && var.callback_backoff_factor <= 10
    error_message = "callback_backoff_factor must be between 1 and 10."
  }
}

variable "callback_max_delay_seconds" {
  description = "Longest wait between two webhook attempts, in seconds (CALLBACK_MAX_DELAY_SECONDS); waits beyond SQS's 900 s are chained messages. An integer from 1 to 604800. The defaults (30 s doubling to 6 h, 15 attempts) keep retrying for about 32.5 hours."
  type        = number
  default     = 21600

  validation {
    condition     = var.callback_max_delay_seconds >= 1 && var.callback_max_delay_seconds <= 604800
    error_message = "callback_max_delay_seconds must be between 1 and 604800."
  }
}

variable "callback_max_attempts" {
  description = "Webhook attempts before its state is FAILED (CALLBACK_MAX_ATTEMPTS). An integer from 1 to 100."
  type        = number
  default     = 15

  validation {
    condition     = var.callback_max_attempts >= 1 && var.callback_max_attempts <= 100
    error_message = "callback_max_attempts must be between 1 and 100."
  }
}

variable "callback_watch_seconds" {
  description = "Delay of the safety message queued when a job with a callbackUrl is created (CALLBACK_WATCH_SECONDS): it looks at the job this often until the job ends, then delivers the webhook if no terminal transition queued it (a crash in between). An integer from 0 to 900."
  type        = number
  default     = 900

  validation {
    condition     = var.callback_watch_seconds >= 0 && var.callback_watch_seconds <= 900
    error_message = "callback_watch_seconds must be between 0 and 900."
  }
}

variable "callback_timeout_seconds" {
  description = "Time one webhook attempt may take, in seconds (CALLBACK_TIMEOUT_SECONDS): resolve, connect, TLS, send and read the answer. An integer from 1 to 60, at least 10 below callback_function_timeout."
  type        = number
  default     = 10

  validation {
    condition     = var.callback_timeout_seconds >= 1 && var.callback_timeout_seconds <= 60 && var.callback_timeout_seconds + 10 <= var.callback_function_timeout
    error_message = "callback_timeout_seconds must be between 1 and 60 and at least 10 below callback_function_timeout."
  }
}

variable "callback_max_response_bytes" {
  description = "At most this many bytes of a receiver's answer are read (CALLBACK_MAX_RESPONSE_BYTES). An integer from 0 to 1048576."
  type        = number
  default     = 65536

  validation {
    condition     = var.callback_max_response_bytes >= 0 && var.callback_max_response_bytes <= 1048576
    error_message = "callback_max_response_bytes must be between 0 and 1048576."
  }
}

variable "callback_function_timeout" {
  description = "Timeout of the webhook delivery function in seconds; also the lease of one attempt (a dead attempt is taken over after twice this, the callbacks queue's visibility timeout). An integer from 15 to 300."
  type        = number
  default     = 30

  validation {
    condition     = var.callback_function_timeout >= 15 && var.callback_function_timeout <= 300
    error_message = "callback_function_timeout must be between 15 and 300."
  }
}

variable "callback_maximum_concurrency" {
  description = "Most concurrent invocations of the webhook delivery function (its event source mapping's maximum_concurrency). An integer from 2 to 1000."
  type        = number
  default     = 5

  validation {
    condition     = var.callback_maximum_concurrency >= 2 && var.callback_maximum_concurrency <= 1000
    error_message = "callback_maximum_concurrency must be between 2 and 1000."
  }
}

variable "callback_max_receive_count" {
  description = "Receives of one callbacks message before SQS parks it in the callbacks DLQ. Only failures to reach AWS count (a failed POST is a new message, not a receive). An integer from 1 to 1000."
  type        = number
  default     = 10

  validation {
    condition     = var.callback_max_receive_count >= 1 && var.callback_max_receive_count <= 1000
    error_message = "callback_max_receive_count must be between 1 and 1000."
  }
}

################################################################################
# Monitoring (monitoring.tf)
################################################################################

variable "alarm_topic_arn" {
  description = "SNS topic every alarm notifies when it fires and when it clears, e.g. the operators' paging topic. Null: the alarms still exist and change state, but notify nobody."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:[a-z-]+:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", coalesce(var.alarm_topic_arn, "-")))
    error_message = "alarm_topic_arn must be null or the ARN of an SNS topic."
  }
}

variable "alarm_period_seconds" {
  description = "Period over which every alarm evaluates its metric, in seconds: 60 or a multiple of 60 up to 3600. An alarm fires after one period (two for the queue age)."
  type        = number
  default     = 300

  validation {
    condition     = var.alarm_period_seconds >= 60 && var.alarm_period_seconds <= 3600 && var.alarm_period_seconds % 60 == 0
    error_message = "alarm_period_seconds must be a multiple of 60 from 60 to 3600."
  }
}

variable "worker_errors_alarm_threshold" {
  description = "The worker-errors alarm fires when the worker has more failed invocations (crashes, timeouts, out-of-memory kills) than this in one alarm period. An integer of 0 or more; 0 alarms on the first."
  type        = number
  default     = 0

  validation {
    condition     = var.worker_errors_alarm_threshold >= 0
    error_message = "worker_errors_alarm_threshold must be 0 or more."
  }
}

variable "worker_throttles_alarm_threshold" {
  description = "The worker-throttles alarm fires when the worker is throttled more often than this in one alarm period. An integer of 0 or more."
  type        = number
  default     = 0

  validation {
    condition     = var.worker_throttles_alarm_threshold >= 0
    error_message = "worker_throttles_alarm_threshold must be 0 or more."
  }
}

variable "api_5xx_alarm_threshold" {
  description = "The api-5xx alarm fires when the API stage answers more 5xx responses than this in one alarm period. An integer of 0 or more; the service answers client errors with 4xx, so any 5xx is a dependency outage or a bug."
  type        = number
  default     = 0

  validation {
    condition     = var.api_5xx_alarm_threshold >= 0
    error_message = "api_5xx_alarm_threshold must be 0 or more."
  }
}

variable "queue_age_alarm_threshold_seconds" {
  description = "The job-queue-age alarm fires when the oldest job message is older than this, in seconds, for two alarm periods. Null: twice worker_timeout (longer than two whole renders). An integer from 60 to 1209600."
  type        = number
  default     = null

  validation {
    condition     = var.queue_age_alarm_threshold_seconds == null || (coalesce(var.queue_age_alarm_threshold_seconds, 60) >= 60 && coalesce(var.queue_age_alarm_threshold_seconds, 60) <= 1209600)
    error_message = "queue_age_alarm_threshold_seconds must be null or between 60 and 1209600."
  }
}
