# Cancelled exports (DELETE /export/{jobId}): the worker that stops a cancelled job deletes what the job
# wrote, its export under exports/<jobId> and a fanned-out job's parts under work/<jobId>/
# (export_common.keys.job_prefixes); so does the DLQ consumer when it ends a cancelled job whose worker
# died mid-cancel. Listing is limited to those two prefixes.

data "aws_iam_policy_document" "cancel_cleanup" {
  statement {
    sid       = "FindCancelledJobFiles"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.this["exports"].arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.exports_prefix}*", "${local.work_prefix}*"]
    }
  }

  statement {
    sid     = "DeleteCancelledJobFiles"
    actions = ["s3:DeleteObject"]
    resources = [
      "${aws_s3_bucket.this["exports"].arn}/${local.exports_prefix}*",
      "${aws_s3_bucket.this["exports"].arn}/${local.work_prefix}*",
    ]
  }
}

resource "aws_iam_role_policy" "cancel_cleanup" {
  for_each = {
    worker = aws_iam_role.worker.id
    dlq    = aws_iam_role.dlq.id
  }

  name   = "cancel-cleanup"
  role   = each.value
  policy = data.aws_iam_policy_document.cancel_cleanup.json
}

moved {
  from = aws_iam_role_policy.worker_cancel
  to   = aws_iam_role_policy.cancel_cleanup["worker"]
}
