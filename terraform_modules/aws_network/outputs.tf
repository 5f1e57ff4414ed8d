output "vpc_id" {
  value       = aws_vpc.this.id
  description = "ID of the VPC."
}

output "subnet_ids" {
  value       = aws_subnet.public[*].id
  description = "IDs of the public subnets."
}
