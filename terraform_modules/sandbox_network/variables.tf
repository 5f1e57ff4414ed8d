variable "cidr_block" {
  type        = string
  default     = "10.10.0.0/16"
  description = "Address range of the network."
}

variable "zones" {
  type        = list(string)
  default     = ["sandbox-1a", "sandbox-1b"]
  description = "One subnet is created in each zone."
}
