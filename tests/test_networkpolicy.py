"""The NetworkPolicy: the serving port open to the listed client ranges (NodePort clients), the configured
namespaces, Prometheus, the kubelet's node ranges and helm test; egress DNS and the configured extras only.

Who gets in is asked of the rendered objects through a small NetworkPolicy evaluator (tests/netpol.py)."""
from __future__ import annotations

import ipaddress

import pytest

from charts import render_chart
from vllm_models import fleet
from netpol import admitted, outside, pod_in
from vllm_models import render as harness


SELECTOR = {"app.kubernetes.io/name": "vllm-models", "app.kubernetes.io/instance": "llms-v2-qwen3-32b", "model": "qwen3-32b"}
CLIENTS = "203.0.113.0/24"  # a documentation range (RFC 5737)
ON = {"networkPolicy": {"enabled": True}, "global": {"networkPolicy": {"clientCIDRs": [CLIENTS]}}}


def policy(tmp_path, overrides: dict) -> dict:
    return render_chart(example="single-gpu", values=overrides).one("NetworkPolicy")


def namespaces(rule: dict) -> list[str]:
    return [peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for peer in rule["from"]]


def test_every_policy_of_every_release_selects_its_pods(rendered):
    for found in rendered.objects("NetworkPolicy"):
        missed = [pod.role for pod in rendered.workload().templates
                  if not fleet.selector_matches(found["spec"]["podSelector"], pod.labels)]
        assert missed == [], (
            f"environment {rendered.release.environment}, release {rendered.release.name}: NetworkPolicy "
            f"{found['metadata']['name']} selects {found['spec']['podSelector']}, missing the {missed} pods")


def test_off_by_default():
    assert render_chart(example="single-gpu").objects("NetworkPolicy") == []


def test_the_environment_default_turns_it_on_and_a_release_can_opt_out(tmp_path):
    assert policy(tmp_path, {"global": {"networkPolicy": {"enabled": True, "clientCIDRs": [CLIENTS]}}})["kind"] == "NetworkPolicy"
    off = render_chart(example="single-gpu", values={"global": {"networkPolicy": {"enabled": True}},
                                                    "networkPolicy": {"enabled": False}})
    assert off.objects("NetworkPolicy") == []


def test_the_serving_port_is_open_to_the_client_ranges_the_ingress_and_monitoring_namespaces_and_helm_test(tmp_path):
    spec = policy(tmp_path, ON)["spec"]
    assert spec["podSelector"] == {"matchLabels": SELECTOR}
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    clients, callers, helm_test = spec["ingress"]
    assert clients == {"from": [{"ipBlock": {"cidr": CLIENTS}}], "ports": [{"protocol": "TCP", "port": "http"}]}
    assert namespaces(callers) == ["ingress-nginx", "monitoring"]
    assert callers["ports"] == [{"protocol": "TCP", "port": "http"}]
    assert helm_test == {"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "llms-v2-qwen3-32b",
                                                                   "app.kubernetes.io/component": "helm-test"}}}],
                         "ports": [{"protocol": "TCP", "port": "http"}]}


def test_a_namespace_listed_twice_is_allowed_once(tmp_path):
    spec = policy(tmp_path, {**ON, "networkPolicy": {"enabled": True, "ingressNamespaces": ["gateway", "monitoring"],
                                                     "monitoringNamespace": "monitoring"}})["spec"]
    assert namespaces(spec["ingress"][1]) == ["gateway", "monitoring"]


def test_the_helm_test_pod_matches_the_rule_that_lets_it_in(tmp_path):
    rendered = render_chart(example="single-gpu", values=ON)
    test_pod = next(doc for doc in rendered.objects("Pod") if doc["metadata"]["annotations"]["helm.sh/hook"] == "test")
    namespace = test_pod["metadata"]["namespace"]
    source = pod_in(namespace, **test_pod["metadata"]["labels"])
    assert admitted(rendered.objects("NetworkPolicy"), serving_pod(rendered), source, 8000)
    assert not admitted(rendered.objects("NetworkPolicy"), serving_pod(rendered), pod_in(namespace, app="other"), 8000)
    assert not admitted(rendered.objects("NetworkPolicy"), serving_pod(rendered),
                        pod_in("elsewhere", **test_pod["metadata"]["labels"]), 8000), "a look-alike in another namespace"


def test_egress_reaches_dns_only(tmp_path):
    egress = policy(tmp_path, ON)["spec"]["egress"]
    assert egress == [
        {"to": [{"namespaceSelector": {}}], "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
    ]


def test_extra_egress_rules_follow_dns(tmp_path):
    store = {"to": [{"ipBlock": {"cidr": "192.0.2.10/32"}}], "ports": [{"protocol": "TCP", "port": 443}]}
    egress = policy(tmp_path, {**ON, "networkPolicy": {"enabled": True, "extraEgress": [store]}})["spec"]["egress"]
    assert egress[1:] == [store]


# --- Who gets in: the rendered policy, evaluated ---------------------------------------------------------

def serving_pod(rendered: harness.Rendered) -> dict:
    """The pod template that serves the API: the Deployment's, or a LeaderWorkerSet's leader."""
    return rendered.workload().template


def render_with(values: dict) -> harness.Rendered:
    return render_chart(example="single-gpu", values=values)


@pytest.mark.parametrize("address, inside", [
    ("203.0.113.0", True), ("203.0.113.255", True),  # both ends of the listed /24
    ("203.0.112.255", False), ("203.0.114.0", False),  # one address outside either end
    ("2001:db8::1", False),  # another address family
])
def test_a_client_inside_a_listed_range_gets_in_and_one_outside_does_not(address, inside):
    rendered = render_with(ON)
    assert admitted(rendered.objects("NetworkPolicy"), serving_pod(rendered), outside(address), 8000) is inside, (
        f"NetworkPolicy {rendered.one('NetworkPolicy')['metadata']['name']}, clientCIDRs [{CLIENTS}], source {address}")


def test_a_listed_client_gets_in_on_the_serving_port_only():
    rendered = render_with(ON)
    assert not admitted(rendered.objects("NetworkPolicy"), serving_pod(rendered), outside("203.0.113.7"), 9000)


def test_the_environments_and_the_releases_client_ranges_both_get_in_each_once():
    rendered = render_with({**ON, "networkPolicy": {"enabled": True, "clientCIDRs": ["198.51.100.0/24", CLIENTS]}})
    spec = rendered.one("NetworkPolicy")["spec"]
    assert spec["ingress"][0]["from"] == [{"ipBlock": {"cidr": CLIENTS}}, {"ipBlock": {"cidr": "198.51.100.0/24"}}]
    for address in ("203.0.113.9", "198.51.100.9"):
        assert admitted([rendered.one("NetworkPolicy")], serving_pod(rendered), outside(address), 8000), address


def test_node_ranges_get_in_for_the_kubelets_probes_only_when_listed():
    without = render_with(ON)
    assert not admitted(without.objects("NetworkPolicy"), serving_pod(without), outside("10.0.3.4"), 8000)
    nodes = render_with({**ON, "global": {"networkPolicy": {"clientCIDRs": [CLIENTS], "nodeCIDRs": ["10.0.0.0/16"]}}})
    assert admitted(nodes.objects("NetworkPolicy"), serving_pod(nodes), outside("10.0.3.4"), 8000)
    assert not admitted(nodes.objects("NetworkPolicy"), serving_pod(nodes), outside("10.1.0.0"), 8000)


@pytest.mark.parametrize("namespace, inside", [("monitoring", True), ("ingress-nginx", True), ("default", False)])
def test_prometheus_and_the_ingress_controller_get_in_by_namespace_and_others_do_not(namespace, inside):
    rendered = render_with(ON)
    assert admitted(rendered.objects("NetworkPolicy"), serving_pod(rendered), pod_in(namespace), 8000) is inside


def test_every_release_admits_its_environments_client_ranges_and_nothing_outside_them(rendered):
    policies = rendered.objects("NetworkPolicy")
    if not policies:
        return
    values = rendered.release.values()
    ranges = [ipaddress.ip_network(c) for c in [*harness.lookup(values, "global.networkPolicy.clientCIDRs", []),
                                                *harness.lookup(values, "networkPolicy.clientCIDRs", [])]]
    listed = ranges + [ipaddress.ip_network(c) for c in harness.lookup(values, "global.networkPolicy.nodeCIDRs", [])]
    where = (f"environment {rendered.release.environment}, release {rendered.release.name}, NetworkPolicy "
             f"{policies[0]['metadata']['name']}")
    assert ranges, f"{where}: admits no client range, but its Service is {rendered.one('Service')['spec']['type']}"
    for network in ranges:
        for address in (network[0], network[-1]):
            assert admitted(policies, serving_pod(rendered), outside(str(address)), 8000), f"{where}: {address} refused"
        beyond = next((str(a) for a in (network[-1] + 1, network[0] - 1)
                       if not any(a in other for other in listed if other.version == a.version)), None)
        if beyond:
            assert not admitted(policies, serving_pod(rendered), outside(beyond), 8000), f"{where}: {beyond} admitted"
    service = rendered.one("Service")["spec"]
    assert service.get("externalTrafficPolicy") == "Local", (
        f"{where}: Service externalTrafficPolicy {service.get('externalTrafficPolicy')}: NodePort clients would arrive "
        f"from node addresses, which the client ranges do not hold")
