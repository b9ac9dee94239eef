"""The PodDisruptionBudget: policy/v1, selects the release's pods, and never blocks every eviction."""
from __future__ import annotations

import pytest

from charts import render_chart
from vllm_models import fleet
from vllm_models import render as harness


def pdb_of(rendered: harness.Rendered) -> list[dict]:
    return rendered.objects("PodDisruptionBudget")


def pods(rendered: harness.Rendered) -> int:
    """Pods the budget counts: replicas (an autoscaler's minimum), times a multi-node group's size."""
    autoscalers = rendered.objects("HorizontalPodAutoscaler")
    workload = rendered.workload()
    replicas = autoscalers[0]["spec"]["minReplicas"] if autoscalers else workload.spec["replicas"]
    return replicas * workload.size


def test_every_budget_of_every_release_selects_its_pods_and_lets_one_go(rendered):
    for pdb in pdb_of(rendered):
        where = f"environment {rendered.release.environment}, release {rendered.release.name}: PodDisruptionBudget {pdb['metadata']['name']}"
        assert pdb["apiVersion"] == "policy/v1", f"{where}: apiVersion {pdb['apiVersion']}"
        missed = [pod.role for pod in rendered.workload().templates
                  if not fleet.selector_matches(pdb["spec"]["selector"], pod.labels)]
        assert missed == [], f"{where}: selector {pdb['spec']['selector']} misses the {missed} pods"
        spec = pdb["spec"]
        if "minAvailable" in spec:
            assert spec["minAvailable"] < pods(rendered), f"{where}: minAvailable {spec['minAvailable']} blocks every eviction"
        else:
            assert spec["maxUnavailable"] not in (0, "0%"), f"{where}: maxUnavailable {spec['maxUnavailable']} blocks every eviction"


def test_no_budget_unless_asked_for(tmp_path):
    assert pdb_of(render_chart(example="single-gpu")) == []


def test_the_environment_default_turns_budgets_on_and_a_release_can_opt_out(tmp_path):
    on = render_chart(example="single-gpu", values={"global": {"podDisruptionBudget": {"enabled": True}}})
    assert [p["spec"]["maxUnavailable"] for p in pdb_of(on)] == [1]
    off = render_chart(example="single-gpu", values={"global": {"podDisruptionBudget": {"enabled": True}},
                                                    "podDisruptionBudget": {"enabled": False}})
    assert pdb_of(off) == []


def test_a_budget_lets_one_pod_go_by_default():
    pdb = render_chart(example="multi-gpu").one("PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {
        "app.kubernetes.io/name": "vllm-models", "app.kubernetes.io/instance": "llms-v2-llama-3-3-70b-instruct",
        "model": "llama-3-3-70b-instruct"}}}


def test_min_available_below_the_replica_count_replaces_max_unavailable(tmp_path):
    rendered = render_chart(example="multi-gpu", values={"replicaCount": 3, "podDisruptionBudget": {"minAvailable": 2}})
    spec = rendered.one("PodDisruptionBudget")["spec"]
    assert spec["minAvailable"] == 2 and "maxUnavailable" not in spec


def test_with_an_autoscaler_the_budget_is_held_to_its_minimum_replicas(tmp_path):
    with pytest.raises(harness.RenderError) as refused:
        render_chart(example="multi-gpu", values={"replicaCount": 5, "podDisruptionBudget": {"minAvailable": 2},
                                                 "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 4}})
    assert refused.value.stderr.splitlines()[0].endswith(
        "vllm-models: podDisruptionBudget.minAvailable (2) must be below the replica count (2): otherwise no pod can "
        "ever be evicted and node drains hang; use maxUnavailable: 1 instead")
