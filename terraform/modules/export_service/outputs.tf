output "api_invoke_url" {
  description = "Base URL of the API stage (`https://<id>.execute-api.<region>.amazonaws.com/<stage>`); clients append `/health`, `/export`, ..."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "rest_api_id" {
  description = "ID of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "api_stage_name" {
  description = "Name of the REST API stage."
  value       = aws_api_gateway_stage.this.stage_name
}

output "assets_bucket_name" {
  description = "Bucket of uploaded assets (keys `assets/<uuid><ext>`)."
  value       = aws_s3_bucket.this["assets"].id
}

output "exports_bucket_name" {
  description = "Bucket of rendered exports (keys `exports/<jobId>.mp4`)."
  value       = aws_s3_bucket.this["exports"].id
}

output "jobs_table_name" {
  description = "DynamoDB jobs table."
  value       = aws_dynamodb_table.jobs.name
}

output "job_queue_url" {
  description = "URL of the SQS job queue."
  value       = aws_sqs_queue.jobs.url
}

output "job_dlq_url" {
  description = "URL of the job queue's dead-letter queue."
  value       = aws_sqs_queue.jobs_dlq.url
}

output "export_signing_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the HMAC signing secret (the value itself is never output)."
  value       = aws_secretsmanager_secret.signing.arn
}

output "api_function_name" {
  description = "Name of the API Lambda function."
  value       = aws_lambda_function.api.function_name
}

output "worker_function_name" {
  description = "Name of the worker Lambda function."
  value       = aws_lambda_function.worker.function_name
}

output "api_role_arn" {
  description = "ARN of the API function's IAM role."
  value       = aws_iam_role.api.arn
}

output "worker_role_arn" {
  description = "ARN of the worker function's IAM role."
  value       = aws_iam_role.worker.arn
}

output "dlq_function_name" {
  description = "Name of the DLQ consumer Lambda function (the worker image with handler `export_worker.handler.dlq_lambda_handler`)."
  value       = aws_lambda_function.dlq.function_name
}

output "dlq_role_arn" {
  description = "ARN of the DLQ consumer function's IAM role."
  value       = aws_iam_role.dlq.arn
}

output "callbacks_queue_url" {
  description = "Queue of webhook deliveries (`{\"jobId\", \"attempt\", \"notBefore\"?}`)."
  value       = aws_sqs_queue.callbacks.url
}

output "callbacks_dlq_url" {
  description = "Dead-letter queue of webhook messages that could not be processed (AWS unavailable), to redrive."
  value       = aws_sqs_queue.callbacks_dlq.url
}

output "callbacks_function_name" {
  description = "Name of the webhook delivery function."
  value       = aws_lambda_function.callbacks.function_name
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard (jobs, render speed, queues, functions, API)."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms by role: `dlq-messages-visible`, `dlq-messages-received`, `worker-errors`, `worker-throttles`, `api-5xx`, `job-queue-age`."
  value       = { for key, alarm in aws_cloudwatch_metric_alarm.this : key => alarm.alarm_name }
}
