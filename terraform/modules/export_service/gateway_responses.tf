# API Gateway's own error responses (throttling, a body over its limit, a WAF rule, the function's timeout,
# ...) in the service's error shape `{"error": "<message>", "code": "<CODE>"}`, with the codes and statuses
# of export_common.errors. The list is generated from export_common.gateway_responses (a unit test keeps
# gateway_responses.json equal to it); DEFAULT_4XX and DEFAULT_5XX keep the status API Gateway chose.

locals {
  gateway_responses = jsondecode(file("${path.module}/gateway_responses.json"))
}

resource "aws_api_gateway_gateway_response" "this" {
  for_each = local.gateway_responses

  rest_api_id   = aws_api_gateway_rest_api.this.id
  response_type = each.key
  status_code   = each.value.status
  response_templates = {
    "application/json" = each.value.template
  }
  # what the API function's own answers carry (export_api.app.RESPONSE_HEADERS)
  response_parameters = {
    "gatewayresponse.header.Cache-Control"          = "'no-store'"
    "gatewayresponse.header.X-Content-Type-Options" = "'nosniff'"
  }
}
