output "api_url" {
  description = "Base URL of the API; clients append `/health`, `/export`, ..."
  value       = module.export_service.api_invoke_url
}

output "worker_repository_url" {
  description = "ECR repository of the worker image (null when worker_image_uri names an existing image)."
  value       = one(aws_ecr_repository.worker[*].repository_url)
}

output "worker_image_uri" {
  description = "The image the worker and the DLQ consumer run."
  value       = local.worker_image_uri
}

output "rest_api_id" {
  description = "ID of the REST API."
  value       = module.export_service.rest_api_id
}

output "api_stage_name" {
  description = "Name of the REST API stage."
  value       = module.export_service.api_stage_name
}

output "assets_bucket_name" {
  description = "Bucket of uploaded assets."
  value       = module.export_service.assets_bucket_name
}

output "exports_bucket_name" {
  description = "Bucket of rendered exports."
  value       = module.export_service.exports_bucket_name
}

output "jobs_table_name" {
  description = "DynamoDB jobs table."
  value       = module.export_service.jobs_table_name
}

output "job_queue_url" {
  description = "URL of the SQS job queue."
  value       = module.export_service.job_queue_url
}

output "job_dlq_url" {
  description = "URL of the dead-letter queue."
  value       = module.export_service.job_dlq_url
}

output "export_signing_secret_arn" {
  description = "ARN of the signing secret (read its value with `aws secretsmanager get-secret-value`)."
  value       = module.export_service.export_signing_secret_arn
}

output "api_function_name" {
  description = "Name of the API Lambda function."
  value       = module.export_service.api_function_name
}

output "worker_function_name" {
  description = "Name of the worker Lambda function."
  value       = module.export_service.worker_function_name
}

output "dlq_function_name" {
  description = "Name of the DLQ consumer Lambda function."
  value       = module.export_service.dlq_function_name
}

output "callbacks_queue_url" {
  description = "Queue of webhook deliveries."
  value       = module.export_service.callbacks_queue_url
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = module.export_service.dashboard_name
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms by role."
  value       = module.export_service.alarm_names
}
