"""The HorizontalPodAutoscaler: autoscaling/v2, off by default, and the sole owner of the replica count when on."""
from __future__ import annotations
from charts import render_chart


AUTOSCALED = {"autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": 70}}


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
        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                                 "averageUtilization": 70}}}],
    }
    assert "replicas" not in rendered.one("Deployment")["spec"]


def test_it_carries_the_release_labels(tmp_path):
    rendered = render_chart(example="single-gpu", values=AUTOSCALED)
    assert rendered.one("HorizontalPodAutoscaler")["metadata"]["labels"] == rendered.one("Deployment")["metadata"]["labels"]
