# One object with everything a root or a client needs to find the deployed service; the roots pass it
# through whole (output "service"), beside their own outputs. Each attribute is described in README.md.
output "service" {
  description = "The deployed service: API, storage, queues, functions, roles, monitoring (attributes in README.md, \"The service output\"). The signing secret's value is never in it."
  value = {
    # API: base URL of the stage (`https://<id>.execute-api.<region>.amazonaws.com/<stage>`), its parts
    api_invoke_url = aws_api_gateway_stage.this.invoke_url
    rest_api_id    = aws_api_gateway_rest_api.this.id
    api_stage_name = aws_api_gateway_stage.this.stage_name

    # storage: uploads (`assets/<uuid><ext>`), renders (`exports/<jobId>.mp4`), jobs
    assets_bucket_name  = aws_s3_bucket.this["assets"].id
    exports_bucket_name = aws_s3_bucket.this["exports"].id
    jobs_table_name     = aws_dynamodb_table.jobs.name

    # queues
    job_queue_url       = aws_sqs_queue.jobs.url
    job_dlq_url         = aws_sqs_queue.jobs_dlq.url
    callbacks_queue_url = aws_sqs_queue.callbacks.url
    callbacks_dlq_url   = aws_sqs_queue.callbacks_dlq.url

    # the HMAC secrets' ARNs (their values are never outputs): requests, and completion webhooks
    export_signing_secret_arn = aws_secretsmanager_secret.this["signing"].arn
    export_webhook_secret_arn = aws_secretsmanager_secret.this["webhook"].arn
    # how long the previous signing secret stays valid after `make rotate-secret`
    previous_secret_grace_seconds = var.previous_secret_grace_seconds

    # functions and their roles
    api_function_name       = aws_lambda_function.api.function_name
    worker_function_name    = aws_lambda_function.worker.function_name
    dlq_function_name       = aws_lambda_function.dlq.function_name
    callbacks_function_name = aws_lambda_function.callbacks.function_name
    # deletes uploads over max_upload_bytes as they land (assets bucket notification)
    upload_guard_function_name = aws_lambda_function.upload_guard.function_name
    api_role_arn               = aws_iam_role.api.arn
    worker_role_arn            = aws_iam_role.worker.arn
    dlq_role_arn               = aws_iam_role.dlq.arn
    callbacks_role_arn         = aws_iam_role.callbacks.arn

    # monitoring: the dashboard, and the alarms by role
    dashboard_name = aws_cloudwatch_dashboard.this.dashboard_name
    alarm_names    = { for key, alarm in aws_cloudwatch_metric_alarm.this : key => alarm.alarm_name }
  }
}
