# REST API (v1: LocalStack's free edition has no HTTP APIs) with a Lambda proxy integration per route.
# Authentication is the HMAC request signature checked by the API function (docs/architecture.md).

locals {
  # route key => {path part, parent route key (null: the API root), HTTP method or null for a bare resource}
  api_resources = {
    health  = { path_part = "health", parent = null }
    export  = { path_part = "export", parent = null }
    presign = { path_part = "presign", parent = "export" }
    quote   = { path_part = "quote", parent = "export" }
    job     = { path_part = "{jobId}", parent = "export" }
    other   = { path_part = "{proxy+}", parent = null }
  }
  # "ANY" routes: every other method of a route, every path without one, sent to the API function, which
  # answers 405 METHOD_NOT_ALLOWED (with Allow) or 404 NOT_FOUND in the service's error shape instead of
  # API Gateway's "Missing Authentication Token" (gateway_responses.tf has API Gateway's own errors)
  api_routes = {
    "GET /health"            = "health"
    "POST /export"           = "export"
    "POST /export/presign"   = "presign"
    "POST /export/quote"     = "quote"
    "GET /export/{jobId}"    = "job"
    "DELETE /export/{jobId}" = "job"
    "ANY /"                  = "root"
    "ANY /health"            = "health"
    "ANY /export"            = "export"
    "ANY /export/presign"    = "presign"
    "ANY /export/quote"      = "quote"
    "ANY /export/{jobId}"    = "job"
    "ANY /{proxy+}"          = "other"
  }
}

resource "aws_api_gateway_rest_api" "this" {
  name        = "${var.name_prefix}-api"
  description = "Video-export API"
  tags        = var.tags

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_resource" "top" {
  for_each = { for key, r in local.api_resources : key => r if r.parent == null }

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = each.value.path_part
}

resource "aws_api_gateway_resource" "nested" {
  for_each = { for key, r in local.api_resources : key => r if r.parent != null }

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.top[each.value.parent].id
  path_part   = each.value.path_part
}

locals {
  api_resource_ids = merge(
    { root = aws_api_gateway_rest_api.this.root_resource_id },
    { for key, r in aws_api_gateway_resource.top : key => r.id },
    { for key, r in aws_api_gateway_resource.nested : key => r.id },
  )
}

resource "aws_api_gateway_method" "route" {
  #checkov:skip=CKV_AWS_59:Every request is authenticated by its HMAC signature (x-base44-signature) in the API function; API Gateway has no authorizer type for that scheme.
  #checkov:skip=CKV2_AWS_53:Bodies are validated by the API function (pydantic) so that every client error is the service's JSON error, not a gateway message.
  for_each = local.api_routes

  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = local.api_resource_ids[each.value]
  http_method   = split(" ", each.key)[0]
  authorization = "NONE"
}

resource "aws_api_gateway_integration" "route" {
  for_each = local.api_routes

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = local.api_resource_ids[each.value]
  http_method             = aws_api_gateway_method.route[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_function.api.invoke_arn
}

# API Gateway may invoke the API function only for this stage and its routes
# (`<execution arn>/<stage>/<METHOD>/<path>`), not for any stage, method or path of the REST API.
resource "aws_lambda_permission" "api_gateway" {
  for_each = local.api_routes

  # a statement id allows letters, digits, "-" and "_" only
  statement_id  = "AllowApiGatewayInvoke-${replace(replace(replace(each.key, " ", "-"), "/", "_"), "/[{}+]/", "")}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.api.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn = format(
    "%s/%s/%s%s",
    aws_api_gateway_rest_api.this.execution_arn,
    var.api_stage_name,
    # an ANY route is invoked with the request's own method in the ARN
    replace(split(" ", each.key)[0], "ANY", "*"),
    replace(split(" ", each.key)[1], "/\\{[^}]+\\}/", "*"),
  )
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  # A new deployment whenever a route, integration or gateway response changes. Only configured
  # values are hashed: attributes the API fills in after creation would redeploy on every plan.
  triggers = {
    redeployment = sha1(jsonencode({
      resources         = [for r in concat(values(aws_api_gateway_resource.top), values(aws_api_gateway_resource.nested)) : [r.id, r.path]]
      methods           = [for m in aws_api_gateway_method.route : [m.id, m.http_method, m.authorization]]
      integrations      = [for i in aws_api_gateway_integration.route : [i.id, i.type, i.uri, i.integration_http_method]]
      gateway_responses = [for g in aws_api_gateway_gateway_response.this : [g.response_type, g.status_code, g.response_templates]]
    }))
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "api_access" {
  #checkov:skip=CKV_AWS_158:Access logs hold request metadata only; the AWS managed encryption of CloudWatch Logs suffices.
  #checkov:skip=CKV_AWS_338:Retention is a setting (log_retention_days).
  count = var.api_access_logs_enabled ? 1 : 0

  name              = "/aws/apigateway/${var.name_prefix}-api/${var.api_stage_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:Responses are per-job and signed-request specific; caching them would serve stale job states.
  #checkov:skip=CKV2_AWS_29:The WAF web ACL is attached by waf.tf when waf_enabled (on in the prod root); LocalStack's free edition has no WAFv2, so the local root leaves it off.
  #checkov:skip=CKV2_AWS_77:The web ACL (waf.tf) has AWS's known-bad-inputs rules (Log4JRCE among them) but not the anonymous-IP list this check also asks for: its hosting-provider rule would block the signed callers, which are backends on cloud hosts (Base44).
  #checkov:skip=CKV2_AWS_51:Clients are browsers and scripts calling a public regional endpoint; mutual TLS client certificates do not apply.
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.api_stage_name
  xray_tracing_enabled = var.api_xray_tracing_enabled
  tags                 = var.tags

  dynamic "access_log_settings" {
    for_each = aws_cloudwatch_log_group.api_access
    content {
      destination_arn = access_log_settings.value.arn
      format = jsonencode({
        requestId          = "$context.requestId"
        extendedRequestId  = "$context.extendedRequestId"
        ip                 = "$context.identity.sourceIp"
        requestTime        = "$context.requestTime"
        httpMethod         = "$context.httpMethod"
        resourcePath       = "$context.resourcePath"
        status             = "$context.status"
        responseLength     = "$context.responseLength"
        integrationLatency = "$context.integrationLatency"
        errorMessage       = "$context.error.message"
      })
    }
  }

  depends_on = [aws_api_gateway_account.this]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:Caching is off on purpose: job states change while clients poll.
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    logging_level          = var.api_execution_logging_level
    data_trace_enabled     = false
    throttling_rate_limit  = var.api_throttling_rate_limit
    throttling_burst_limit = var.api_throttling_burst_limit
    caching_enabled        = false
  }
}

################################################################################
# Account-wide API Gateway logging role (one per account and region)
################################################################################

data "aws_iam_policy_document" "api_gateway_assume" {
  count = var.manage_api_gateway_account ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "api_gateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  name               = "${var.name_prefix}-apigw-cloudwatch"
  assume_role_policy = data.aws_iam_policy_document.api_gateway_assume[0].json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "api_gateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  role       = aws_iam_role.api_gateway_cloudwatch[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_api_gateway_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.api_gateway_cloudwatch[0].arn
  depends_on          = [aws_iam_role_policy_attachment.api_gateway_cloudwatch]
}
