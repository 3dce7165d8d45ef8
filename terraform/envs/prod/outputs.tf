output "service" {
  description = "The module's description of the deployed service (bucket, table, queue and function names, ...): modules/export_service/README.md. Readers take its attributes as outputs of their own (scripts/terraform/outputs.py)."
  value       = module.export_service.service
}

output "api_url" {
  description = "Base URL of the API; clients append `/health`, `/export`, ..."
  value       = module.export_service.service.api_invoke_url
}

output "worker_repository_url" {
  description = "ECR repository of the worker image (null when worker_image_uri names an existing image)."
  value       = one(aws_ecr_repository.worker[*].repository_url)
}

output "worker_image_uri" {
  description = "The image the worker and the DLQ consumer run."
  value       = local.worker_image_uri
}
