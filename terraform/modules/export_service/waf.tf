# An optional WAF web ACL on the API stage (waf_enabled; on in the prod root) with a per-IP rate rule, so
# one address cannot use up the stage's throttle (api_throttling_*) that every caller shares, and AWS's
# known-bad-inputs rules. LocalStack's free edition has no WAFv2, so the local root leaves it off and the
# prod rehearsal (rehearsal.tfvars) turns it off.

resource "aws_wafv2_web_acl" "api" {
  #checkov:skip=CKV2_AWS_31:Request logging would copy every request (signature headers included) into another log store; the rule metrics and sampled requests are on.
  count = var.waf_enabled ? 1 : 0

  name        = "${var.name_prefix}-api"
  description = "Per-IP rate limit and known bad inputs in front of the video-export API."
  scope       = "REGIONAL"
  tags        = var.tags

  default_action {
    allow {}
  }

  rule {
    name     = "rate-per-ip"
    priority = 0

    action {
      block {
        custom_response {
          response_code            = 429
          custom_response_body_key = "too-many-requests"
        }
      }
    }

    statement {
      rate_based_statement {
        aggregate_key_type    = "IP"
        limit                 = var.waf_rate_limit_per_ip
        evaluation_window_sec = var.waf_rate_window_seconds
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name_prefix}-api-rate-per-ip"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "known-bad-inputs"
    priority = 1

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name_prefix}-api-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  # The service's error shape, as API Gateway's own 429 would be.
  custom_response_body {
    key          = "too-many-requests"
    content_type = "APPLICATION_JSON"
    content      = jsonencode({ error = "Too many requests from this address; retry later.", code = "RATE_LIMITED" })
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name_prefix}-api"
    sampled_requests_enabled   = true
  }
}

resource "aws_wafv2_web_acl_association" "api" {
  count = var.waf_enabled ? 1 : 0

  resource_arn = aws_api_gateway_stage.this.arn
  web_acl_arn  = aws_wafv2_web_acl.api[0].arn
}
