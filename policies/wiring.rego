# Wiring: the objects of a release point at each other. Cross-object rules: they need the
# whole release (conftest --combine) and stay silent for a release that renders no pods.
package main

services := [obj | some obj in objects; obj.kind == "Service"]

selected_pods(selector) := [pod | some pod in serving_pods; selects(selector, pod.labels)]

# METADATA
# title: Service selects the pods
# description: a Service's selector matches the labels of the release's serving pods.
# custom:
#   source: seed 000 "Repository Architecture Overview" (Service per model) and Kubernetes Service selectors
#   severity: deny
deny_service_selects_pods contains msg if {
	count(serving_pods) > 0
	some svc in services
	selector := object.get(svc.spec, "selector", {})
	count(selector) > 0
	count(selected_pods(selector)) == 0
	msg := format("[service_selects_pods] Service %v: selector %v matches no pod of the release (pods carry %v); select the chart's selector labels", [svc.metadata.name, label_text(selector), pod_labels_for(object.keys(selector))])
}

# What the serving pods carry under the keys a selector asks for, for messages.
pod_labels_for(keys) := concat("; ", sort([text | some pod in serving_pods; text := labels_text_for(pod.labels, keys)]))

labels_text_for(labels, keys) := concat(", ", sort([concat("=", [key, labels[key]]) | some key in keys; labels[key]]))

# METADATA
# title: Service targetPort exists
# description: every Service port's targetPort names (or numbers) a port of a container in the pods it selects.
# custom:
#   source: seed 000 "Repository Architecture Overview" (Service on the named http port)
#   severity: deny
deny_service_target_port contains msg if {
	some svc in services
	selector := object.get(svc.spec, "selector", {})
	pods_found := selected_pods(selector)
	count(pods_found) > 0
	some port in svc.spec.ports
	target := object.get(port, "targetPort", port.port)
	not some_container_port(pods_found, target)
	msg := format("[service_target_port] Service %v: port %v targets %v, which no container of the selected pods declares; point targetPort at the container port name (http)", [svc.metadata.name, object.get(port, "name", port.port), target])
}

some_container_port(found, target) if {
	some pod in found
	some c in pod.spec.containers
	some port in object.get(c, "ports", [])
	port_matches(port, target)
}

port_matches(port, target) if port.name == target

port_matches(port, target) if port.containerPort == target

# METADATA
# title: PDB selects the pods
# description: a PodDisruptionBudget's selector matches the release's serving pods; otherwise it protects nothing.
# custom:
#   source: seed 000 "Template 2" (podDisruptionBudget for HA)
#   severity: deny
deny_pdb_selects_pods contains msg if {
	count(serving_pods) > 0
	some pdb in objects
	pdb.kind == "PodDisruptionBudget"
	not selector_matches_some_pod(object.get(pdb.spec, "selector", {}))
	labels := object.get(pdb.spec, ["selector", "matchLabels"], {})
	msg := format("[pdb_selects_pods] PodDisruptionBudget %v: selector %v matches no pod of the release (pods carry %v), so it protects nothing; select the chart's selector labels", [pdb.metadata.name, label_text(labels), pod_labels_for(object.keys(labels))])
}

# METADATA
# title: NetworkPolicy selects the pods
# description: a NetworkPolicy's podSelector matches the release's serving pods; otherwise the pods run unrestricted.
# custom:
#   source: seed 000 "Network Security" (NetworkPolicy for vLLM pods)
#   severity: deny
deny_network_policy_selects_pods contains msg if {
	count(serving_pods) > 0
	some policy in objects
	policy.kind == "NetworkPolicy"
	not selector_matches_some_pod(object.get(policy.spec, "podSelector", {}))
	labels := object.get(policy.spec, ["podSelector", "matchLabels"], {})
	msg := format("[network_policy_selects_pods] NetworkPolicy %v: podSelector %v matches no pod of the release (pods carry %v), so the pods run unrestricted; select the chart's selector labels", [policy.metadata.name, label_text(labels), pod_labels_for(object.keys(labels))])
}

selector_matches_some_pod(selector) if {
	some pod in serving_pods
	label_selector_matches(selector, pod.labels)
}

# METADATA
# title: ServiceMonitor names a Service port
# description: a ServiceMonitor selects a Service of the release and each endpoint's port names one of that Service's ports.
# custom:
#   source: seed 000 "ServiceMonitor for Prometheus Operator" (endpoints port http, path /metrics)
#   severity: deny
deny_service_monitor_port contains msg if {
	count(services) > 0
	some monitor in objects
	monitor.kind == "ServiceMonitor"
	count(monitored_services(monitor)) == 0
	msg := format("[service_monitor_port] ServiceMonitor %v: selector %v matches no Service of the release, so nothing is scraped; select the Service's labels", [monitor.metadata.name, label_text(object.get(monitor.spec, ["selector", "matchLabels"], {}))])
}

deny_service_monitor_port contains msg if {
	some monitor in objects
	monitor.kind == "ServiceMonitor"
	found := monitored_services(monitor)
	count(found) > 0
	some endpoint in monitor.spec.endpoints
	endpoint.port
	not endpoint.port in {port.name | some svc in found; some port in svc.spec.ports}
	msg := format("[service_monitor_port] ServiceMonitor %v: endpoint port %v is not a port name of Service %v (it has %v); use the Service's port name", [monitor.metadata.name, endpoint.port, concat(", ", sort([svc.metadata.name | some svc in found])), concat(", ", sort({object.get(port, "name", "unnamed") | some svc in found; some port in svc.spec.ports}))])
}

monitored_services(monitor) := [svc |
	some svc in services
	label_selector_matches(monitor.spec.selector, object.get(svc.metadata, "labels", {}))
]

# METADATA
# title: Service selects a group's leader only
# description: a Service selects no worker of a LeaderWorkerSet group; workers run no API server (Ray workers, headless vLLM), so requests routed to them fail. Select the leader by leaderworkerset.sigs.k8s.io/worker-index "0".
# custom:
#   source: kubernetes-sigs/lws v0.10.0 (leader StatefulSet selector and status.hpaPodSelector use worker-index 0); vLLM docs/deployment/frameworks/lws.md (the Service selects the leader)
#   severity: deny
deny_service_selects_leaders contains msg if {
	some svc in services
	selector := object.get(svc.spec, "selector", {})
	count(selector) > 0
	some pod in serving_pods
	pod.role == "worker"
	selects(selector, pod.labels)
	msg := format("[service_selects_leaders] Service %v: selector %v also matches the workers of %v %v, which serve no HTTP; add leaderworkerset.sigs.k8s.io/worker-index: \"0\" to the selector (the chart does for multiNode.nodes > 1)", [svc.metadata.name, label_text(selector), pod.kind, pod.name])
}

# METADATA
# title: NodePort clients get through the NetworkPolicy
# description: when a NodePort or LoadBalancer Service's pods are under a NetworkPolicy's ingress rules, some rule admits the Service's target port from outside the cluster (an ipBlock peer, or any source), and ipBlock-only admission comes with externalTrafficPolicy Local, without which NodePort clients are masqueraded to a node address.
# custom:
#   source: issue 18 "Secure by default" (a NetworkPolicy that fits NodePort exposure); Kubernetes Service externalTrafficPolicy and NetworkPolicy ipBlock documentation
#   severity: deny
deny_nodeport_clients_admitted contains msg if {
	some exposure in exposures
	not some_rule_admits(exposure, external_peer)
	not some_rule_admits(exposure, any_peer)
	msg := format("[nodeport_clients_admitted] Service %v (%v): NetworkPolicy %v admits its target port %v only from namespaces and pods, so every client reaching the %v from outside the cluster is dropped; list the clients' address ranges (global.networkPolicy.clientCIDRs) or use service.type ClusterIP", [exposure.service.metadata.name, exposure.service.spec.type, exposure.policy.metadata.name, text(exposure.port), exposure.service.spec.type])
}

deny_nodeport_clients_admitted contains msg if {
	some exposure in exposures
	some_rule_admits(exposure, external_peer)
	not some_rule_admits(exposure, any_peer)
	traffic := object.get(exposure.service.spec, "externalTrafficPolicy", "Cluster")
	traffic != "Local"
	msg := format("[nodeport_clients_admitted] Service %v (%v): externalTrafficPolicy is %v, which masquerades clients to a node address, but NetworkPolicy %v admits its target port %v from outside the cluster only by ipBlock, so the clients' ranges never match; set service.externalTrafficPolicy: Local (or leave it empty), or declare in policies/exceptions.yaml that this cluster's CNI keeps client addresses", [exposure.service.metadata.name, exposure.service.spec.type, traffic, exposure.policy.metadata.name, text(exposure.port)])
}

# Each (Service exposed outside the cluster, port, NetworkPolicy restricting ingress to its pods, pod).
exposures := [{"service": svc, "port": port.targetPort, "policy": policy, "pod": pod} |
	some svc in services
	svc.spec.type in {"NodePort", "LoadBalancer"}
	some pod in serving_pods
	selects(object.get(svc.spec, "selector", {"": "no selector"}), pod.labels)
	some policy in objects
	policy.kind == "NetworkPolicy"
	"Ingress" in object.get(policy.spec, "policyTypes", ["Ingress"])
	label_selector_matches(object.get(policy.spec, "podSelector", {}), pod.labels)
	some port in svc.spec.ports
]

external_peer := "ipBlock"

any_peer := "any"

# A rule of the policy admits the exposure's port from that kind of peer ("any": the rule names no `from`).
some_rule_admits(exposure, kind) if {
	some rule in object.get(exposure.policy.spec, "ingress", [])
	admits_peer(rule, kind)
	port_covered(rule, exposure)
}

admits_peer(rule, "any") if count(object.get(rule, "from", [])) == 0

admits_peer(rule, "ipBlock") if {
	some peer in object.get(rule, "from", [])
	peer.ipBlock
}

port_covered(rule, _) if count(object.get(rule, "ports", [])) == 0

port_covered(rule, exposure) if {
	some p in object.get(rule, "ports", [])
	container_port(exposure.pod, p.port) == container_port(exposure.pod, exposure.port)
}

# A port by name or number, as the number the pod's containers listen on (a name no container has stays a name).
container_port(pod, port) := number if {
	is_string(port)
	numbers := [c_port.containerPort | some c in pod.spec.containers; some c_port in object.get(c, "ports", []); c_port.name == port]
	count(numbers) > 0
	number := numbers[0]
} else := port
