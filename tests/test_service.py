"""The Service: NodePorts, unique across each environment."""
from __future__ import annotations

import copy

import pytest

from charts import render_chart
from conftest import installed_releases, rendered_release
from vllm_models import ports
from vllm_models import render as harness


def all_renders():
    return [rendered_release(rel.environment, rel.name) for rel in installed_releases()]


def test_every_release_exposes_a_nodeport_service_on_the_named_http_port(rendered):
    service = rendered.one("Service")
    assert service["spec"]["type"] == "NodePort", f"{harness.where(rendered)}: Service type {service['spec']['type']}"
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]


def test_nodeports_are_unique_within_each_environment():
    assert ports.nodeport_conflicts(all_renders()) == []


def test_two_releases_on_one_nodeport_are_reported_with_both_files():
    qwen = rendered_release("staging", "llms-v2-qwen3-32b")
    llama = rendered_release("staging", "llms-v2-llama-3-3-70b-instruct")
    clash = harness.Rendered(llama.release, copy.deepcopy(llama.documents), llama.manifest)
    clash.one("Service")["spec"]["ports"][0]["nodePort"] = ports.node_ports(qwen)[0]
    assert ports.nodeport_conflicts([qwen, clash]) == [
        "environment staging: NodePort 30025 (service.nodePort) is used by 2 releases: "
        "llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml), "
        "llms-v2-llama-3-3-70b-instruct (environments/staging/language/llama-3-3-70b-instruct.yaml); "
        "give each a free port in its category's range (`vllm-models ports --env staging`)"]


# --- Service types and wiring, from the examples ---------------------------------------------------
# (imported here, not at the top: this block is appended to the module)


def test_every_service_of_every_release_selects_its_pods_on_the_named_port(rendered):
    service = rendered.one("Service")
    workload = rendered.workload()
    serving, *workers = workload.templates  # a multi-node group's workers serve no HTTP
    where = f"environment {rendered.release.environment}, release {rendered.release.name}, Service {service['metadata']['name']}"
    selector = service["spec"]["selector"]
    if workload.kind == "Deployment":
        assert selector == workload.spec["selector"]["matchLabels"], f"{where}: selector {selector}"
    assert selector.items() <= serving.labels.items(), f"{where}: selector {selector} misses the {serving.role} pods"
    assert not [w.role for w in workers if selector.items() <= w.labels.items()], f"{where}: selector {selector} takes workers"
    container_ports = {p["name"] for c in serving.spec["containers"] for p in c["ports"]}
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"] and "http" in container_ports, where


def test_a_nodeport_service_exposes_its_port_on_every_node():
    ports = render_chart(example="single-gpu").one("Service")["spec"]["ports"]
    assert ports == [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP", "nodePort": 30025}]


def test_a_cluster_ip_service_has_no_node_port(tmp_path):
    service = render_chart(example="single-gpu", values={"service": {"type": "ClusterIP", "nodePort": None, "port": 80}}).one("Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]


def test_a_load_balancer_service_keeps_a_chosen_node_port_and_its_annotations(tmp_path):
    service = render_chart(example="single-gpu", values={"service": {
        "type": "LoadBalancer", "annotations": {"example.com/internal": "true"}}}).one("Service")
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["ports"][0]["nodePort"] == 30025
    assert service["metadata"]["annotations"] == {"example.com/internal": "true"}


NETWORK_POLICY = {"networkPolicy": {"enabled": True}, "global": {"networkPolicy": {"clientCIDRs": ["203.0.113.0/24"]}}}


@pytest.mark.parametrize("values, policy", [
    ({}, None),  # Kubernetes' default, Cluster
    (NETWORK_POLICY, "Local"),  # the client address must reach the NetworkPolicy's ipBlock
    ({**NETWORK_POLICY, "service": {"externalTrafficPolicy": "Cluster"}}, "Cluster"),  # an explicit choice wins
    ({"service": {"externalTrafficPolicy": "Local"}}, "Local"),
    ({**NETWORK_POLICY, "service": {"type": "ClusterIP", "nodePort": None}}, None),  # no node port, no policy
], ids=["default", "client-ranges", "explicit-cluster", "explicit-local", "cluster-ip"])
def test_the_external_traffic_policy_keeps_client_addresses_when_a_network_policy_filters_by_them(values, policy):
    service = render_chart(example="single-gpu", values=values).one("Service")
    assert service["spec"].get("externalTrafficPolicy") == policy, f"values {values}: Service {service['spec']}"
