variable "region" {
  description = "Region LocalStack emulates."
  type        = string
  default     = "us-east-1"
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "video-export-local"
}

variable "localstack_endpoint" {
  description = "LocalStack's edge URL as clients reach it; only used to build `api_url`."
  type        = string
  default     = "http://127.0.0.1:4566"
}

variable "demo_port" {
  description = "Port of `make demo` (examples/browser_demo) on 127.0.0.1 and localhost: the buckets' CORS rules allow that origin (DEMO_PORT)."
  type        = number
  default     = 8044
}

variable "api_zip_path" {
  description = "The API Lambda zip built by `make build`, relative to this directory."
  type        = string
  default     = "../../../build/api.zip"
}

variable "worker_image_uri" {
  description = "Placeholder image of the worker: the local Lambda executor maps it to functions/worker in this repository (LocalStack's free edition has no ECR)."
  type        = string
  default     = "000000000000.dkr.ecr.us-east-1.localhost.localstack.cloud:4566/video-export-worker:local"
}

variable "worker_timeout" {
  description = "Timeout of the worker Lambda in seconds."
  type        = number
  default     = 300
}

variable "job_heartbeat_seconds" {
  description = "How often a running attempt extends its job's lease and its message's visibility."
  type        = number
  default     = 10
}

variable "job_lease_seconds" {
  description = "How long a lease and a message's visibility run past the last heartbeat (the longest a crash delays a job)."
  type        = number
  default     = 30
}

variable "fanout_threshold_seconds" {
  description = "Outputs longer than this many seconds fan out into chunks (above the 36 s of the fault suite's single-pass jobs)."
  type        = number
  default     = 40
}

variable "fanout_max_chunks" {
  description = "The most chunks one export is cut into."
  type        = number
  default     = 6
}

variable "fanout_min_chunk_seconds" {
  description = "The shortest chunk, in seconds of output."
  type        = number
  default     = 6
}

variable "service_version" {
  description = "Version string reported by /health."
  type        = string
  default     = "local"
}
