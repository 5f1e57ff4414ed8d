variable "name" {
  type        = string
  description = "Name tag of the VPC."
}

variable "cidr_block" {
  type        = string
  default     = "10.0.0.0/16"
  description = "Address range of the VPC."
}

variable "subnet_count" {
  type        = number
  default     = 2
  description = "Number of public subnets (one per availability zone)."
}
