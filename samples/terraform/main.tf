# A container's GPU attachment as a Terraform resource, through the generic REST provider Mastercard/restapi.
# README.md beside this file explains each part: idempotent PUT, ETag / If-Match, import, and what drift means here.

terraform {
  required_version = ">= 1.5"
  required_providers {
    restapi = {
      source  = "Mastercard/restapi"
      version = "~> 2.0"
    }
    http = {
      source  = "hashicorp/http"
      version = "~> 3.4"
    }
  }
}

variable "gpulxc_url" {
  description = "Where GpuLxc listens (its Urls setting)."
  type        = string
  default     = "http://127.0.0.1:5080"
}

variable "gpulxc_key" {
  description = "An API key with the admin scope (attaching and detaching GPUs needs it)."
  type        = string
  sensitive   = true
}

variable "container_id" {
  description = "The Proxmox vmid, or the LXC container's name."
  type        = string
  default     = "101"
}

variable "gpus" {
  description = "GPU ids (UUID, PCI address or index); empty for every NVIDIA GPU of the host."
  type        = list(string)
  default     = []
}

variable "mode" {
  description = "auto (Proxmox devN: entries where supported, else raw lxc lines), raw or dev."
  type        = string
  default     = "auto"
}

variable "restart" {
  description = "Restart the container when it runs, so that a change takes effect at once."
  type        = bool
  default     = false
}

# The config's ETag as it is now. Sending it back as If-Match makes GpuLxc refuse (412) a PUT or DELETE when the
# container's config changed between this read (terraform plan) and the write (terraform apply). Before the first
# attach there is no attachment (404, no ETag): "*" then matches any config.
data "http" "attachment" {
  url = "${var.gpulxc_url}/api/v1/containers/${var.container_id}/gpu"
  request_headers = {
    Authorization = "Bearer ${var.gpulxc_key}"
  }
}

provider "restapi" {
  uri = var.gpulxc_url
  headers = {
    Authorization  = "Bearer ${var.gpulxc_key}"
    "Content-Type" = "application/json"
    "If-Match"     = lookup(data.http.attachment.response_headers, "Etag", "*")
  }
  # A PUT answers with what it changed (AttachmentChange), not with the attachment: read it back with a GET instead.
  write_returns_object = false
}

resource "restapi_object" "gpu" {
  # The attachment is addressed by its container: the id is the container id, and every verb goes to .../gpu.
  path           = "/api/v1/containers"
  object_id      = var.container_id
  create_path    = "/api/v1/containers/{id}/gpu"
  read_path      = "/api/v1/containers/{id}/gpu"
  update_path    = "/api/v1/containers/{id}/gpu"
  destroy_path   = "/api/v1/containers/{id}/gpu"
  create_method  = "PUT"
  update_method  = "PUT"
  destroy_method = "DELETE"
  query_string   = var.restart ? "restart=true" : ""

  data = jsonencode({
    gpus            = var.gpus
    mode            = var.mode
    includeModeset  = true
    includeUvmTools = true
  })

  # GET answers with the attachment as it is on the host (mode "dev" for "auto", GPUs by PCI address, lines,
  # device nodes, drift), not with the request: comparing the two would plan a change on every run. The PUT is
  # idempotent, and drift is GpuLxc's to report (see the output below).
  ignore_all_server_changes = true
}

output "attachment" {
  description = "The attachment as GpuLxc last reported it: mode in effect, GPUs, and drift."
  value = {
    mode  = jsondecode(restapi_object.gpu.api_response).mode
    gpus  = jsondecode(restapi_object.gpu.api_response).gpus
    drift = jsondecode(restapi_object.gpu.api_response).drift.status
  }
}
