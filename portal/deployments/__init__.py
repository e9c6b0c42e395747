"""vLLM deployments: servers the portal starts on placed GPUs and reserved ports, and follows."""
