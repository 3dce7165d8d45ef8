# `make rehearse-prod` (scripts/rehearse_prod.sh): terraform/envs/prod applied to LocalStack. Every setting
# the rehearsal changes about the prod root is in this file, each with why. Besides these, only endpoints
# differ (the provider's from tflocal, the S3 backend's from AWS_ENDPOINT_URL) and the state bucket
# (-backend-config, as scripts/deploy.sh passes it). Not a *.auto.tfvars: a real deploy never reads it.

# LocalStack's account ("test" credentials). Also a guard: with real credentials this file refuses to
# plan anything in a real account.
allowed_account_ids = ["000000000000"]

# LocalStack's free edition has no ECR: no repository is created, and the worker runs this image, which
# the local Lambda executor maps by its repository name (video-export-worker) to the worker's code.
worker_image_uri = "localhost/video-export-worker:dev"

# The rehearsal's webhook receiver is tests/webhook_receiver.py on 127.0.0.1 over http (no public https
# receiver exists here) on an ephemeral port; prod's SSRF rules (https on 443 to public addresses only)
# would refuse it with 400.
callback_allowed_schemes  = ["https", "http"]
callback_allowed_networks = ["127.0.0.0/8"]
callback_allowed_ports    = ["1024-65535"]

# LocalStack's free edition has no WAFv2 ("not included in your current license plan"): the web ACL and its
# association are validated and scanned (make tf-validate tf-scan) but not applied here.
waf_enabled = false
