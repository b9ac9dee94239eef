package main

# --- service_selects_pods ---

test_service_selects_pods_passes_for_the_chart_selector if {
	count(deny_service_selects_pods) == 0 with data.main.objects as fixture_release
}

test_service_selects_pods_fails_when_the_selector_names_another_model if {
	s := json.patch(fixture_service, [{"op": "replace", "path": "/spec/selector/model", "value": "other"}])
	deny_service_selects_pods == {"[service_selects_pods] Service llms-v2-demo: selector app.kubernetes.io/instance=llms-v2-demo, app.kubernetes.io/name=vllm-models, model=other matches no pod of the release (pods carry app.kubernetes.io/instance=llms-v2-demo, app.kubernetes.io/name=vllm-models, model=demo); select the chart's selector labels"} with data.main.objects as [fixture_deployment, s, fixture_test_pod]
}

# --- service_target_port ---

test_service_target_port_passes_on_a_numeric_target_port if {
	s := json.patch(fixture_service, [{"op": "replace", "path": "/spec/ports/0/targetPort", "value": 8000}])
	count(deny_service_target_port) == 0 with data.main.objects as [fixture_deployment, s]
}

test_service_target_port_fails_on_a_port_name_the_container_lacks if {
	s := json.patch(fixture_service, [{"op": "replace", "path": "/spec/ports/0/targetPort", "value": "metrics"}])
	deny_service_target_port == {"[service_target_port] Service llms-v2-demo: port http targets metrics, which no container of the selected pods declares; point targetPort at the container port name (http)"} with data.main.objects as [fixture_deployment, s]
}

test_service_target_port_fails_when_the_default_target_is_not_a_container_port if {
	s := json.patch(fixture_service, [
		{"op": "remove", "path": "/spec/ports/0/targetPort"},
		{"op": "replace", "path": "/spec/ports/0/port", "value": 80},
	])
	deny_service_target_port == {"[service_target_port] Service llms-v2-demo: port http targets 80, which no container of the selected pods declares; point targetPort at the container port name (http)"} with data.main.objects as [fixture_deployment, s]
}

# --- pdb_selects_pods ---

test_pdb_selects_pods_passes_with_match_expressions if {
	p := json.patch(fixture_pdb, [{"op": "replace", "path": "/spec/selector", "value": {"matchExpressions": [{"key": "model", "operator": "In", "values": ["demo"]}]}}])
	count(deny_pdb_selects_pods) == 0 with data.main.objects as [fixture_deployment, p]
}

test_pdb_selects_pods_fails_when_the_selector_names_another_release if {
	p := json.patch(fixture_pdb, [{"op": "replace", "path": "/spec/selector/matchLabels/app.kubernetes.io~1instance", "value": "llms-v2-other"}])
	deny_pdb_selects_pods == {"[pdb_selects_pods] PodDisruptionBudget llms-v2-demo: selector app.kubernetes.io/instance=llms-v2-other, app.kubernetes.io/name=vllm-models, model=demo matches no pod of the release (pods carry app.kubernetes.io/instance=llms-v2-demo, app.kubernetes.io/name=vllm-models, model=demo), so it protects nothing; select the chart's selector labels"} with data.main.objects as [fixture_deployment, p]
}

# --- network_policy_selects_pods ---

test_network_policy_selects_pods_passes_with_an_empty_selector if {
	n := json.patch(fixture_network_policy, [{"op": "replace", "path": "/spec/podSelector", "value": {}}])
	count(deny_network_policy_selects_pods) == 0 with data.main.objects as [fixture_deployment, n]
}

test_network_policy_selects_pods_fails_when_the_selector_names_another_model if {
	n := json.patch(fixture_network_policy, [{"op": "replace", "path": "/spec/podSelector/matchLabels/model", "value": "other"}])
	deny_network_policy_selects_pods == {"[network_policy_selects_pods] NetworkPolicy llms-v2-demo: podSelector app.kubernetes.io/instance=llms-v2-demo, app.kubernetes.io/name=vllm-models, model=other matches no pod of the release (pods carry app.kubernetes.io/instance=llms-v2-demo, app.kubernetes.io/name=vllm-models, model=demo), so the pods run unrestricted; select the chart's selector labels"} with data.main.objects as [fixture_deployment, n]
}

# --- service_monitor_port ---

test_service_monitor_port_passes_on_the_named_http_port if {
	count(deny_service_monitor_port) == 0 with data.main.objects as fixture_release
}

test_service_monitor_port_fails_on_a_port_the_service_lacks if {
	m := json.patch(fixture_service_monitor, [{"op": "replace", "path": "/spec/endpoints/0/port", "value": "metrics"}])
	deny_service_monitor_port == {"[service_monitor_port] ServiceMonitor llms-v2-demo: endpoint port metrics is not a port name of Service llms-v2-demo (it has http); use the Service's port name"} with data.main.objects as [fixture_service, m]
}

test_service_monitor_port_fails_when_it_selects_no_service if {
	m := json.patch(fixture_service_monitor, [{"op": "replace", "path": "/spec/selector", "value": {"matchLabels": {"app": "vllm-multi"}}}])
	deny_service_monitor_port == {"[service_monitor_port] ServiceMonitor llms-v2-demo: selector app=vllm-multi matches no Service of the release, so nothing is scraped; select the Service's labels"} with data.main.objects as [fixture_service, m]
}

# --- nodeport_clients_admitted ---

namespace_only_policy := json.patch(fixture_network_policy, [{"op": "replace", "path": "/spec/ingress", "value": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}], "ports": [{"protocol": "TCP", "port": "http"}]}]}])

client_policy := json.patch(fixture_network_policy, [{"op": "replace", "path": "/spec/ingress", "value": [
	{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}], "ports": [{"protocol": "TCP", "port": "http"}]},
	{"from": [{"ipBlock": {"cidr": "203.0.113.0/24"}}], "ports": [{"protocol": "TCP", "port": 8000}]},
]}])

local_service := json.patch(fixture_service, [{"op": "add", "path": "/spec/externalTrafficPolicy", "value": "Local"}])

test_nodeport_clients_admitted_passes_on_a_rule_open_to_any_source if {
	count(deny_nodeport_clients_admitted) == 0 with data.main.objects as fixture_release
}

test_nodeport_clients_admitted_passes_on_client_ranges_with_local_traffic_policy if {
	count(deny_nodeport_clients_admitted) == 0 with data.main.objects as [fixture_deployment, local_service, client_policy]
}

test_nodeport_clients_admitted_passes_on_a_cluster_ip_service if {
	s := json.patch(fixture_service, [{"op": "replace", "path": "/spec/type", "value": "ClusterIP"}, {"op": "remove", "path": "/spec/ports/0/nodePort"}])
	count(deny_nodeport_clients_admitted) == 0 with data.main.objects as [fixture_deployment, s, namespace_only_policy]
}

test_nodeport_clients_admitted_fails_when_only_namespaces_are_admitted if {
	deny_nodeport_clients_admitted == {"[nodeport_clients_admitted] Service llms-v2-demo (NodePort): NetworkPolicy llms-v2-demo admits its target port http only from namespaces and pods, so every client reaching the NodePort from outside the cluster is dropped; list the clients' address ranges (global.networkPolicy.clientCIDRs) or use service.type ClusterIP"} with data.main.objects as [fixture_deployment, local_service, namespace_only_policy]
}

test_nodeport_clients_admitted_fails_when_the_client_ranges_cover_another_port if {
	p := json.patch(client_policy, [{"op": "replace", "path": "/spec/ingress/1/ports/0/port", "value": 9000}])
	deny_nodeport_clients_admitted == {"[nodeport_clients_admitted] Service llms-v2-demo (NodePort): NetworkPolicy llms-v2-demo admits its target port http only from namespaces and pods, so every client reaching the NodePort from outside the cluster is dropped; list the clients' address ranges (global.networkPolicy.clientCIDRs) or use service.type ClusterIP"} with data.main.objects as [fixture_deployment, local_service, p]
}

test_nodeport_clients_admitted_fails_on_client_ranges_behind_the_cluster_traffic_policy if {
	deny_nodeport_clients_admitted == {"[nodeport_clients_admitted] Service llms-v2-demo (NodePort): externalTrafficPolicy is Cluster, which masquerades clients to a node address, but NetworkPolicy llms-v2-demo admits its target port http from outside the cluster only by ipBlock, so the clients' ranges never match; set service.externalTrafficPolicy: Local (or leave it empty), or declare in policies/exceptions.yaml that this cluster's CNI keeps client addresses"} with data.main.objects as [fixture_deployment, fixture_service, client_policy]
}
