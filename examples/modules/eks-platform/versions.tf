terraform {
  required_version = ">= 1.11"
  required_providers {
    clusterkit = {
      source = "clusterkit-dev/clusterkit"
    }
  }
}
