# Resources: Guaranteed QoS, so the kubelet never evicts or throttles a loaded model first.
package main

qos_resources := ["cpu", "memory", "nvidia.com/gpu"]

# METADATA
# title: Guaranteed QoS
# description: every container sets cpu and memory limits, and its requests equal its limits for cpu, memory and nvidia.com/gpu (a missing request defaults to the limit).
# custom:
#   source: seed 000 "Resource Sizing Guidelines" (requests MUST equal limits); seed 004 "Set Resource Limits Equal to Requests"
#   severity: deny
deny_guaranteed_qos contains msg if {
	some pod in pods
	some c in containers(pod.spec)
	some resource in ["cpu", "memory"]
	not c.resources.limits[resource]
	msg := format("[guaranteed_qos] %v: no %v limit, so the pod is not Guaranteed QoS; set resources.limits.%v (requests default to it)", [container_subject(pod, c), resource, resource])
}

deny_guaranteed_qos contains msg if {
	some pod in pods
	some c in containers(pod.spec)
	some resource in qos_resources
	limit := c.resources.limits[resource]
	request := object.get(c.resources, ["requests", resource], limit)
	quantity(request) != quantity(limit)
	msg := format("[guaranteed_qos] %v: %v request %v != limit %v; set resources.requests.%v equal to resources.limits.%v (Guaranteed QoS)", [container_subject(pod, c), resource, request, limit, resource, resource])
}

deny_guaranteed_qos contains msg if {
	some pod in pods
	some c in containers(pod.spec)
	request := c.resources.requests["nvidia.com/gpu"]
	not c.resources.limits["nvidia.com/gpu"]
	msg := format("[guaranteed_qos] %v: nvidia.com/gpu request %v has no limit; set resources.limits.nvidia.com/gpu equal to it (Guaranteed QoS)", [container_subject(pod, c), request])
}
