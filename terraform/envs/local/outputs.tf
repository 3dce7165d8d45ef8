output "service" {
  description = "The module's description of the deployed service (bucket, table, queue and function names, ...): modules/export_service/README.md. Readers take its attributes as outputs of their own (scripts/terraform/outputs.py)."
  value       = module.export_service.service
}

output "api_url" {
  description = "Base URL of the API through LocalStack's path-style execute-api endpoint; clients append `/health`, `/export`, ..."
  value       = "${var.localstack_endpoint}/_aws/execute-api/${module.export_service.service.rest_api_id}/${module.export_service.service.api_stage_name}"
}

output "demo_url" {
  description = "Where `make demo` serves the browser demo; its origin is in the buckets' CORS rules."
  value       = "${local.demo_origins[0]}/"
}

output "cors_allowed_origins" {
  description = "Browser origins the buckets' CORS rules allow."
  value       = local.demo_origins
}
