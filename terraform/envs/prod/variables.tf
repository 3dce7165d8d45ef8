variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "us-east-1"
}

variable "allowed_account_ids" {
  description = "AWS account IDs this root may touch (a guard against deploying with the wrong credentials); null allows any."
  type        = list(string)
  default     = null
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "video-export-prod"
}

variable "tags" {
  description = "Extra tags for every resource (cost centre, owner, ...)."
  type        = map(string)
  default     = {}
}

variable "worker_image_tag" {
  description = "Tag of the worker image in this root's ECR repository (scripts/deploy.sh pushes the git commit). Tags are immutable. Required unless worker_image_uri is set."
  type        = string
  default     = null

  validation {
    condition = (var.worker_image_tag == null ? var.worker_image_uri != null
    : can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.worker_image_tag)))
    error_message = "worker_image_tag must be a valid Docker tag, and is required unless worker_image_uri is set."
  }
}

variable "worker_image_uri" {
  description = "An existing worker image, `<registry>/<repository>:<tag>` or `...@sha256:<digest>`, instead of this root's ECR repository. null (default): the root creates the repository and deploys worker_image_tag from it; set: no ECR resources at all (make rehearse-prod on LocalStack, which has no ECR). Switching an existing deployment to it would destroy the repository, which prevent_destroy refuses."
  type        = string
  default     = null

  validation {
    condition     = var.worker_image_uri == null || can(regex("^[^\\s@]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$", var.worker_image_uri))
    error_message = "worker_image_uri must be <registry>/<repository>:<tag> or <registry>/<repository>@sha256:<digest>."
  }
}

variable "worker_images_to_keep" {
  description = "Images the ECR lifecycle policy keeps (older ones are expired)."
  type        = number
  default     = 20
}

variable "api_zip_path" {
  description = "The API Lambda zip built by `make build`, relative to this directory."
  type        = string
  default     = "../../../build/api.zip"
}

variable "cors_allowed_origins" {
  description = "Origins of the web apps whose pages upload assets and play exports with presigned URLs, e.g. [\"https://app.example.com\"]. null: the module's [] (browsers are refused)."
  type        = list(string)
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the log groups in days."
  type        = number
  default     = 90
}

variable "worker_reserved_concurrency" {
  description = "Most renders that run at once (-1: no reservation)."
  type        = number
  default     = 10
}

variable "manage_api_gateway_account" {
  description = "Whether this stack sets the account-wide API Gateway CloudWatch role (false if another stack owns it). null: the module's true."
  type        = bool
  default     = null
}

variable "signing_secret_version" {
  description = "Generation of the signing secret; set it above the module's 1, and increase it, to rotate the secret. null: the module's 1."
  type        = number
  default     = null
}

variable "waf_enabled" {
  description = "Whether the WAF web ACL (per-IP rate rule) guards the API stage. On in production; only the LocalStack rehearsal (rehearsal.tfvars) turns it off, as LocalStack's free edition has no WAFv2."
  type        = bool
  default     = true
}

variable "webhook_secret_version" {
  description = "Generation of the webhook signing secret; set it above the module's 1, and increase it, to rotate it. null: the module's 1."
  type        = number
  default     = null
}

variable "secret_admin_principal_arns" {
  description = "Operator roles (aws:PrincipalArn) that may read the signing and webhook secrets besides the functions, e.g. [\"arn:aws:iam::123456789012:role/video-export-operators\"]. null: the module's [] (the functions alone)."
  type        = list(string)
  default     = null
}

variable "alarm_topic_arn" {
  description = "SNS topic the alarms notify when they fire and when they clear (the operators' paging topic); null for none."
  type        = string
  default     = null
}

variable "callback_allowed_schemes" {
  description = "URL schemes a job's callbackUrl may use. null: the module's [\"https\"], production's rule; only the LocalStack rehearsal (rehearsal.tfvars) adds \"http\"."
  type        = list(string)
  default     = null
}

variable "callback_allowed_ports" {
  description = "Ports a callbackUrl may use beyond 443 (and 80 with http). null: the module's [], production's rule; only the LocalStack rehearsal (rehearsal.tfvars) allows the receiver's ephemeral port."
  type        = list(string)
  default     = null
}

variable "callback_allowed_networks" {
  description = "Non-public CIDRs webhooks may still be delivered to. null: the module's [] (loopback, private, link-local and reserved addresses are refused), production's rule; only the LocalStack rehearsal (rehearsal.tfvars) allows 127.0.0.0/8."
  type        = list(string)
  default     = null
}
