"""The HorizontalPodAutoscaler: autoscaling/v2 on vLLM's waiting requests (never CPU), off by default, and the sole
owner of the replica count when on."""
from __future__ import annotations
import pytest

from charts import render_chart
from vllm_models import render as harness


AUTOSCALED = {"autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 3, "waitingRequestsPerReplica": 4}}


def test_no_release_of_any_environment_sets_replicas_under_an_autoscaler(rendered):
    if rendered.objects("HorizontalPodAutoscaler"):
        spec = rendered.one("Deployment")["spec"]
        assert "replicas" not in spec, (f"environment {rendered.release.environment}, release {rendered.release.name}: "
                                        f"Deployment sets replicas {spec['replicas']} under an autoscaler")


def test_off_by_default_the_deployment_keeps_its_replica_count():
    rendered = render_chart(example="single-gpu")
    assert rendered.objects("HorizontalPodAutoscaler") == []
    assert rendered.one("Deployment")["spec"]["replicas"] == 1


def test_on_it_scales_the_deployment_and_the_deployment_sets_no_replicas(tmp_path):
    rendered = render_chart(example="single-gpu", values=AUTOSCALED)
    hpa = rendered.one("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llms-v2-qwen3-32b"},
        "minReplicas": 1, "maxReplicas": 3,
        "metrics": [{"type": "Pods", "pods": {"metric": {"name": "vllm_num_requests_waiting"},
                                              "target": {"type": "AverageValue", "averageValue": "4"}}}],
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 600}},
    }
    assert "replicas" not in rendered.one("Deployment")["spec"]


def test_it_carries_the_release_labels(tmp_path):
    rendered = render_chart(example="single-gpu", values=AUTOSCALED)
    assert rendered.one("HorizontalPodAutoscaler")["metadata"]["labels"] == rendered.one("Deployment")["metadata"]["labels"]


@pytest.mark.parametrize("percent", [1, 80])
def test_a_cpu_target_is_refused_naming_the_keys_that_replace_it(percent):
    with pytest.raises(harness.RenderError) as refused:
        render_chart(example="single-gpu", values={"autoscaling": {"enabled": True, "targetCPUUtilizationPercentage": percent}})
    assert (f"autoscaling.targetCPUUtilizationPercentage ({percent}) is set, but the autoscaler no longer "
            "scales on CPU: vLLM's engine loop keeps a core busy whatever the queue, so CPU says nothing about a GPU "
            "server's load; drop the key and set autoscaling.waitingRequestsPerReplica (waiting requests per pod, from "
            "the custom metrics API), or use keda.enabled") in str(refused.value)
