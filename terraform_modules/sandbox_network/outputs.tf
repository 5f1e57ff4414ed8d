output "network_id" {
  value       = sandbox_network.this.id
  description = "ID of the network."
}

output "subnet_ids" {
  value       = sandbox_subnet.this[*].id
  description = "IDs of the subnets, in zone order."
}
