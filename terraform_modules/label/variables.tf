variable "name" {
  type        = string
  description = "Base name of the thing being labelled."
}

variable "environment" {
  type        = string
  default     = "dev"
  description = "Environment prefixed to the name."
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Extra tags merged into the result."
}
