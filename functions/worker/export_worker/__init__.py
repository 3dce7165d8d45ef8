"""Worker Lambda: renders queued export jobs (SQS → render → S3 → jobs table)."""
