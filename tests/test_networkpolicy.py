"""The NetworkPolicy: the serving port open to the configured namespaces, monitoring and helm test; egress DNS and the release's own pods."""
from __future__ import annotations
from charts import render_chart
from vllm_models import fleet


SELECTOR = {"app.kubernetes.io/name": "vllm-models", "app.kubernetes.io/instance": "llms-v2-qwen3-32b", "model": "qwen3-32b"}
ON = {"networkPolicy": {"enabled": True}}


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
    assert policy(tmp_path, {"global": {"networkPolicy": {"enabled": True}}})["kind"] == "NetworkPolicy"
    off = render_chart(example="single-gpu", values={"global": {"networkPolicy": {"enabled": True}},
                                                    "networkPolicy": {"enabled": False}})
    assert off.objects("NetworkPolicy") == []


def test_the_serving_port_is_open_to_the_ingress_and_monitoring_namespaces_only(tmp_path):
    spec = policy(tmp_path, ON)["spec"]
    assert spec["podSelector"] == {"matchLabels": SELECTOR}
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    callers, helm_test = spec["ingress"]
    assert namespaces(callers) == ["ingress-nginx", "monitoring"]
    assert callers["ports"] == [{"protocol": "TCP", "port": "http"}]
    assert helm_test == {"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "llms-v2-qwen3-32b",
                                                                   "app.kubernetes.io/component": "helm-test"}}}],
                         "ports": [{"protocol": "TCP", "port": "http"}]}


def test_a_namespace_listed_twice_is_allowed_once(tmp_path):
    spec = policy(tmp_path, {"networkPolicy": {"enabled": True, "ingressNamespaces": ["gateway", "monitoring"],
                                               "monitoringNamespace": "monitoring"}})["spec"]
    assert namespaces(spec["ingress"][0]) == ["gateway", "monitoring"]


def test_the_helm_test_pod_matches_the_rule_that_lets_it_in(tmp_path):
    rendered = render_chart(example="single-gpu", values=ON)
    allowed = rendered.one("NetworkPolicy")["spec"]["ingress"][1]["from"][0]["podSelector"]["matchLabels"]
    test_pod = next(doc for doc in rendered.objects("Pod") if doc["metadata"]["annotations"]["helm.sh/hook"] == "test")
    assert allowed.items() <= test_pod["metadata"]["labels"].items()


def test_egress_reaches_dns_and_the_releases_own_pods_only(tmp_path):
    egress = policy(tmp_path, ON)["spec"]["egress"]
    assert egress == [
        {"to": [{"namespaceSelector": {}}], "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
        {"to": [{"podSelector": {"matchLabels": SELECTOR}}]},
    ]
