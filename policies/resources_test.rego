package main

test_guaranteed_qos_passes_when_requests_default_to_limits if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/template/spec/containers/0/resources/requests"}])
	count(deny_guaranteed_qos) == 0 with data.main.objects as [d]
}

test_guaranteed_qos_passes_on_equal_quantities_written_differently if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/cpu", "value": "16000m"}])
	count(deny_guaranteed_qos) == 0 with data.main.objects as [d]
}

test_guaranteed_qos_fails_on_a_memory_request_below_its_limit if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/memory", "value": "100Gi"}])
	deny_guaranteed_qos == {"[guaranteed_qos] Deployment llms-v2-demo container vllm: memory request 100Gi != limit 200Gi; set resources.requests.memory equal to resources.limits.memory (Guaranteed QoS)"} with data.main.objects as [d]
}

test_guaranteed_qos_fails_without_a_cpu_limit if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/template/spec/containers/0/resources/limits/cpu"}])
	deny_guaranteed_qos == {"[guaranteed_qos] Deployment llms-v2-demo container vllm: no cpu limit, so the pod is not Guaranteed QoS; set resources.limits.cpu (requests default to it)"} with data.main.objects as [d]
}

test_guaranteed_qos_fails_on_a_gpu_request_without_a_limit if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu"}])
	deny_guaranteed_qos == {"[guaranteed_qos] Deployment llms-v2-demo container vllm: nvidia.com/gpu request 2 has no limit; set resources.limits.nvidia.com/gpu equal to it (Guaranteed QoS)"} with data.main.objects as [d]
}

test_guaranteed_qos_fails_for_the_helm_test_pod_too if {
	p := json.patch(fixture_test_pod, [{"op": "replace", "path": "/spec/containers/0/resources/requests/cpu", "value": "50m"}])
	deny_guaranteed_qos == {"[guaranteed_qos] Pod llms-v2-demo-test container list-models: cpu request 50m != limit 100m; set resources.requests.cpu equal to resources.limits.cpu (Guaranteed QoS)"} with data.main.objects as [p]
}
