terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }

  # State stays in this directory (gitignored); `make dev-down` destroys the deployment.
  backend "local" {}
}
