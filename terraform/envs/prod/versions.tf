terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }

  # Remote state with S3-native locking. bucket, key and region come from `terraform init
  # -backend-config=...` (scripts/deploy.sh passes TF_STATE_BUCKET, TF_STATE_KEY, TF_STATE_REGION).
  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}
