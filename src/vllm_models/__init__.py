"""vllm-models: render, verify and operate a fleet of vLLM models deployed with the vllm-models chart."""
