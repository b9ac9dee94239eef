"""Gateway API inference routing: the InferencePool of the release's serving pods and the HTTPRoute to it."""
from __future__ import annotations

import pytest

from charts import render_chart
from vllm_models import chart_examples, kube_validate
from vllm_models import render as harness

POOL = {"inferencePool": {"enabled": True, "endpointPicker": {"name": "qwen3-epp"}}}
ROUTE = {"inferencePool": {"enabled": True, "endpointPicker": {"name": "qwen3-epp"},
                           "httpRoute": {"enabled": True, "gatewayName": "inference-gateway"}}}


def where(example: str) -> str:
    return f"example {example}, release {chart_examples.release_name(example)}"


def test_no_pool_and_no_route_unless_asked_and_the_node_port_stays():
    rendered = render_chart(example="single-gpu")
    assert rendered.objects("InferencePool") == [] and rendered.objects("HTTPRoute") == []
    assert rendered.one("Service")["spec"]["type"] == "NodePort"


@pytest.mark.parametrize("example", ["single-gpu", "multi-node"])
def test_the_pool_selects_exactly_the_pods_the_service_sends_requests_to_on_the_serving_port(example):
    rendered = render_chart(POOL, example=example)
    pool = rendered.one("InferencePool")
    service = rendered.one("Service")
    assert pool["spec"]["selector"]["matchLabels"] == service["spec"]["selector"], where(example)
    port = chart_examples.values(example)["deployment"].get("port", 8000)
    assert pool["spec"]["targetPorts"] == [{"number": port}], where(example)
    assert rendered.one("Service")["spec"]["type"] == "NodePort", f"{where(example)}: the pool adds a route, no more"
    assert kube_validate.crd_violations(pool) == [], where(example)


def test_a_groups_pool_holds_only_its_leader():
    labels = render_chart(POOL, example="multi-node").one("InferencePool")["spec"]["selector"]["matchLabels"]
    assert labels["leaderworkerset.sigs.k8s.io/worker-index"] == "0", labels


def test_the_pool_names_the_clusters_endpoint_picker_by_service_and_port():
    values = {"inferencePool": {**POOL["inferencePool"], "appProtocol": "kubernetes.io/h2c",
                                "endpointPicker": {"name": "qwen3-epp", "port": 9100, "failureMode": "FailOpen"}}}
    pool = render_chart(values, example="single-gpu").one("InferencePool")
    assert pool["spec"]["endpointPickerRef"] == {"kind": "Service", "name": "qwen3-epp", "port": {"number": 9100},
                                                 "failureMode": "FailOpen"}
    assert pool["spec"]["appProtocol"] == "kubernetes.io/h2c"
    assert kube_validate.crd_violations(pool) == []


def test_the_route_attaches_to_the_named_gateway_and_sends_every_path_to_the_pool():
    rendered = render_chart(ROUTE, example="single-gpu")
    route = rendered.one("HTTPRoute")
    assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                            "name": "inference-gateway"}]
    [rule] = route["spec"]["rules"]
    assert rule["backendRefs"] == [{"group": "inference.networking.k8s.io", "kind": "InferencePool",
                                    "name": rendered.one("InferencePool")["metadata"]["name"]}]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}] and rule["timeouts"] == {"request": "300s"}
    assert kube_validate.crd_violations(route) == []


def test_the_route_reaches_a_gateway_of_another_namespace_on_one_listener():
    values = {"inferencePool": {**ROUTE["inferencePool"], "httpRoute": {
        **ROUTE["inferencePool"]["httpRoute"], "gatewayNamespace": "gateways", "sectionName": "https",
        "pathPrefix": "/v1", "requestTimeout": ""}}}
    route = render_chart(values, example="single-gpu").one("HTTPRoute")
    assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                            "name": "inference-gateway", "namespace": "gateways", "sectionName": "https"}]
    assert "timeouts" not in route["spec"]["rules"][0]
    assert kube_validate.crd_violations(route) == []


def test_the_crd_schemas_refuse_a_pool_without_target_ports():
    pool = render_chart(POOL, example="single-gpu").one("InferencePool")
    del pool["spec"]["targetPorts"]
    assert kube_validate.crd_violations(pool) == [
        f"InferencePool {pool['metadata']['name']}: spec: 'targetPorts' is a required property"]


@pytest.mark.parametrize("values, message", [
    ({"inferencePool": {"enabled": True}},
     "inferencePool.endpointPicker.name is required when inferencePool.enabled is true: the Service of "
     "the endpoint picker (EPP) the cluster runs for this pool"),
    ({"inferencePool": {"httpRoute": {"enabled": True, "gatewayName": "inference-gateway"}}},
     "inferencePool.httpRoute.enabled is true but inferencePool.enabled is false: the route sends the "
     "Gateway's requests to the release's InferencePool; set inferencePool.enabled: true (with "
     "inferencePool.endpointPicker.name), or drop the route"),
    ({"inferencePool": {**POOL["inferencePool"], "httpRoute": {"enabled": True}}},
     "inferencePool.httpRoute.gatewayName is required when inferencePool.httpRoute.enabled is true: the "
     "Gateway (an inference gateway: Envoy Gateway, Istio, GKE, kgateway) the route attaches to"),
], ids=["no-endpoint-picker", "route-without-pool", "route-without-gateway"])
def test_a_pool_or_route_missing_what_it_points_at_is_refused_naming_key_and_fix(values, message):
    with pytest.raises(harness.RenderError) as refused:
        render_chart(values, example="single-gpu")
    assert message in str(refused.value)
