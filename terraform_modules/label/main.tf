# Naming and tagging convention: a stable name and a tag map, using only terraform_data (works offline).

terraform {
  required_version = ">= 1.5"
}

resource "terraform_data" "this" {
  input = {
    name = local.name
    tags = local.tags
  }
}

locals {
  name = "${var.environment}-${var.name}"
  tags = merge(var.tags, {
    Name        = "${var.environment}-${var.name}"
    Environment = var.environment
  })
}
