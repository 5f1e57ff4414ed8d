# A sandbox network with one subnet per zone (Board3's offline sandbox provider).

terraform {
  required_providers {
    sandbox = {
      source  = "board3.local/board3/sandbox"
      version = "~> 0.1"
    }
  }
}

resource "sandbox_network" "this" {
  cidr_block = var.cidr_block
}

resource "sandbox_subnet" "this" {
  count      = length(var.zones)
  network_id = sandbox_network.this.id
  cidr_block = cidrsubnet(var.cidr_block, 8, count.index)
  zone       = var.zones[count.index]
}
