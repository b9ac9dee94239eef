"""The KEDA ScaledObject: optional scaling on queue depth and KV-cache usage, never beside the HPA."""
from __future__ import annotations

import pytest

from charts import edited_release, render_chart
from vllm_models import kube_validate, metrics, vllm_versions
from vllm_models import render as harness


def with_keda(tmp_path, env: str, name: str, **keda) -> harness.Release:
    def edit(values):
        values["keda"] = {"enabled": True, **keda}
    return edited_release(tmp_path, env, name, edit)


def refusal(rel: harness.Release) -> str:
    with pytest.raises(harness.RenderError) as refused:
        render_chart(release=rel, use_cache=False)
    return str(refused.value)


def test_no_release_scales_with_keda_unless_it_asks_to(rendered):
    assert rendered.objects("ScaledObject") == [], metrics.where(rendered)


@pytest.mark.parametrize("env", ["staging", "production-jp"])
def test_keda_scales_the_deployment_on_waiting_requests_and_kv_cache_usage_of_this_release(tmp_path, env):
    rendered = render_chart(release=with_keda(tmp_path, env, "llms-v2-qwen3-32b", waitingRequestsPerReplica=5, kvCacheUsagePercent=75))
    names = vllm_versions.facts(metrics.image_tag(rendered))["metrics"]
    scaled = rendered.one("ScaledObject")
    spec = scaled["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                      "name": rendered.one("Deployment")["metadata"]["name"]}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 2)
    assert spec["fallback"] == {"failureThreshold": 3, "replicas": 1}
    triggers = {t["name"]: t for t in spec["triggers"]}
    assert {name: t["metadata"]["threshold"] for name, t in triggers.items()} == {"requests-waiting": "5", "kv-cache-usage": "0.75"}
    assert {t["metricType"] for t in triggers.values()} == {"AverageValue"}, "KEDA's fallback needs AverageValue triggers"
    assert metrics.metric_names(triggers["requests-waiting"]["metadata"]["query"]) == [names["waiting"]]
    assert metrics.metric_names(triggers["kv-cache-usage"]["metadata"]["query"]) == [names["kvCacheUsage"]]
    for trigger in triggers.values():
        [selector] = metrics.selectors(metrics.parse(trigger["metadata"]["query"]))
        assert metrics.label_matchers(selector) == {"namespace": "llms", "model_name": "Qwen3-32B"}
    assert metrics.metric_problems(rendered) == []
    assert rendered.objects("HorizontalPodAutoscaler") == [], "KEDA creates its own HPA"
    assert "replicas" not in rendered.one("Deployment")["spec"], "a replicas field would reset KEDA's count on every upgrade"
    assert kube_validate.crd_violations(scaled) == []


def test_the_crd_check_reports_a_scaledobject_without_triggers(tmp_path):
    scaled = render_chart(release=with_keda(tmp_path, "staging", "llms-v2-qwen3-32b")).one("ScaledObject")
    del scaled["spec"]["triggers"]
    assert kube_validate.crd_violations(scaled) == ["ScaledObject llms-v2-qwen3-32b: spec: 'triggers' is a required property"]


def test_keda_beside_the_cpu_autoscaler_is_refused_naming_both_keys(tmp_path):
    def edit(values):
        values["keda"] = {"enabled": True}
        values["autoscaling"] = {"enabled": True}
    message = refusal(edited_release(tmp_path, "staging", "llms-v2-qwen3-32b", edit))
    assert ": autoscaling.enabled and keda.enabled are both true" in message
    assert "autoscaling.enabled is set in environments/staging/language/qwen3-32b.yaml" in message
    assert "keda.enabled is set in environments/staging/language/qwen3-32b.yaml" in message


def test_keda_max_replicas_not_above_min_replicas_is_refused(tmp_path):
    message = refusal(with_keda(tmp_path, "staging", "llms-v2-qwen3-32b", minReplicas=2, maxReplicas=2))
    assert "keda.maxReplicas (2) must exceed keda.minReplicas (2), or KEDA can never scale" in message


def test_a_fallback_outside_the_replica_range_is_refused(tmp_path):
    message = refusal(with_keda(tmp_path, "staging", "llms-v2-qwen3-32b", maxReplicas=3, fallback={"replicas": 4}))
    assert "keda.fallback.replicas (4) must lie between keda.minReplicas (1) and keda.maxReplicas (3)" in message


# --- Scale to zero: an opt-in, woken by requests seen in front of the pods ------------------------------

ACTIVATION = 'sum(envoy_cluster_upstream_rq_pending_active{envoy_cluster_name="llms_qwen3"})'


def zero(**more) -> dict:
    return {"keda": {"enabled": True, "scaleToZero": {"enabled": True, "activationQuery": ACTIVATION, **more}}}


def budget_of(rendered: harness.Rendered) -> int:
    return int(rendered.one("Deployment")["metadata"]["annotations"]["vllm-models.io/startup-budget-seconds"])


def test_scale_to_zero_is_off_unless_asked_and_keeps_min_replicas():
    spec = render_chart({"keda": {"enabled": True}}, example="single-gpu").one("ScaledObject")["spec"]
    assert "idleReplicaCount" not in spec and "cooldownPeriod" not in spec, spec
    assert [t["name"] for t in spec["triggers"]] == ["requests-waiting", "kv-cache-usage"]


@pytest.mark.parametrize("example", ["single-gpu", "huggingface-delivery"])
def test_scale_to_zero_idles_at_zero_wakes_on_the_activation_query_and_waits_out_download_and_load(example):
    rendered = render_chart(zero(activationThreshold=2), example=example)
    spec = rendered.one("ScaledObject")["spec"]
    containers = rendered.workload().template["spec"].get("initContainers", [])
    download = int(containers[0]["command"][1]) * len(containers) if containers else 0
    polling = spec["pollingInterval"]
    assert (spec["idleReplicaCount"], spec["minReplicaCount"]) == (0, 1)
    assert spec["cooldownPeriod"] == spec["initialCooldownPeriod"] == download + budget_of(rendered) + polling
    activation = {t["name"]: t for t in spec["triggers"]}["requests-activation"]
    assert activation["metadata"]["query"] == ACTIVATION and activation["metadata"]["activationThreshold"] == "2"
    assert kube_validate.crd_violations(rendered.one("ScaledObject")) == []


def test_an_explicit_cooldown_equal_to_download_and_load_is_kept():
    budget = budget_of(render_chart(example="single-gpu"))
    spec = render_chart(zero(cooldownSeconds=budget), example="single-gpu").one("ScaledObject")["spec"]
    assert spec["cooldownPeriod"] == budget


def test_a_cooldown_one_second_short_of_the_load_is_refused():
    budget = budget_of(render_chart(example="single-gpu"))
    with pytest.raises(harness.RenderError) as refused:
        render_chart(zero(cooldownSeconds=budget - 1), example="single-gpu")
    assert (f"keda.scaleToZero.cooldownSeconds ({budget - 1}) is below the download time limit + the "
            f"startup budget ({budget} s): a pod woken for a request the client then gave up would be removed while it "
            f"still loads; raise it to at least {budget} or leave it null") in str(refused.value)


def test_scale_to_zero_without_an_activation_query_is_refused_naming_key_and_fix():
    with pytest.raises(harness.RenderError) as refused:
        render_chart({"keda": {"enabled": True, "scaleToZero": {"enabled": True}}}, example="single-gpu")
    assert ("keda.scaleToZero.enabled is true but keda.scaleToZero.activationQuery is empty: with no pod "
            "left, vLLM exports no metric, so nothing would ever bring the release back") in str(refused.value)
