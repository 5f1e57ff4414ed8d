output "id" {
  value       = terraform_data.this.id
  description = "Identifier of the label."
}

output "name" {
  value       = local.name
  description = "The full name: <environment>-<name>."
}

output "tags" {
  value       = local.tags
  description = "Tags including Name and Environment."
}
