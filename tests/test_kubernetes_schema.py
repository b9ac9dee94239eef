"""Every rendered object validates against the official Kubernetes schemas of the pinned version (strict)."""
from __future__ import annotations

import copy

import pytest

from charts import render_chart
from vllm_models import chart_examples, kube_validate, toolchain

# Every optional object and pod setting on, in two renders whose choices exclude each other.
EVERYTHING_ON = {
    "autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 3},
    "podDisruptionBudget": {"enabled": True},
    "networkPolicy": {"enabled": True, "clientCIDRs": ["203.0.113.0/24", "2001:db8::/32"],
                      "extraEgress": [{"to": [{"ipBlock": {"cidr": "192.0.2.0/24", "except": ["192.0.2.1/32"]}},
                                              {"namespaceSelector": {"matchLabels": {"team": "store"}}}],
                                       "ports": [{"protocol": "TCP", "port": 443}, {"port": "https"}]}]},
    "global": {"networkPolicy": {"nodeCIDRs": ["10.0.0.0/16"]}},
    "image": {"digest": "sha256:" + "0123456789abcdef" * 4},
    "runtime": {"compileCache": {"existingClaim": "vllm-compile-cache"}},
    "storage": {"type": "pvc", "pvc": {"size": "2Ti", "storageClassName": "fast"}},
    "dropPageCache": {"enabled": True},
    "gpuProducts": ["NVIDIA-H100-80GB-HBM3"],
    "affinity": {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]}]}]}},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                               "labelSelector": {"matchLabels": {"model": "qwen3-32b"}}}}]},
    },
    "deployment": {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                                  "whenUnsatisfiable": "ScheduleAnyway"}],
                   "podLabels": {"team": "inference"}, "podAnnotations": {"example.com/owner": "inference"},
                   "trustRemoteCode": True, "trustRemoteCodeReason": "every optional object at once"},
    "runtimeClassName": "nvidia",
    "priorityClassName": "gpu-critical",
    "nodeSelector": {"nvidia.com/gpu.present": "true"},
    "huggingface": {"tokenSecret": {"name": "hf-token"}},
    "service": {"type": "LoadBalancer", "annotations": {"example.com/lb": "internal"}},
    "serviceAccount": {"annotations": {"example.com/role": "vllm"}},
    "imagePullSecrets": [{"name": "registry"}],
    "extraEnv": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
}
THE_OTHER_CHOICES = {
    "storage": {"type": "existingClaim", "existingClaim": "models"},
    "deployment": {"updateStrategy": {"type": "Recreate"}},
    "service": {"type": "ClusterIP", "nodePort": None},
    "serviceAccount": {"create": False, "name": "inference"},
    "metrics": {"podAnnotations": False},
}


# Custom resources have no official schema; each group's objects are checked by their own tests.
CUSTOM_RESOURCE_GROUPS = {
    "monitoring.coreos.com": "Prometheus Operator (tests/test_servicemonitor.py, tests/test_prometheusrule.py)",
    "keda.sh": "KEDA (tests/test_scaledobject.py)",
}


def problems(documents: list[dict]) -> list[str]:
    version = toolchain.kube_version()
    return [problem for doc in documents if doc["apiVersion"].split("/")[0] not in CUSTOM_RESOURCE_GROUPS
            for problem in kube_validate.validate(doc, version)]


def test_every_object_of_every_release_validates(rendered):
    found = problems(rendered.documents)
    assert found == [], (f"environment {rendered.release.environment}, release {rendered.release.name} "
                         f"({rendered.release.model_file}):\n" + "\n".join(found))


@pytest.mark.parametrize("name", chart_examples.names())
def test_every_object_of_every_example_validates(name):
    found = problems(render_chart(example=name).documents)
    assert found == [], f"example {name}:\n" + "\n".join(found)


@pytest.mark.parametrize("overrides", [EVERYTHING_ON, THE_OTHER_CHOICES], ids=["everything-on", "other-choices"])
def test_every_optional_object_validates(overrides, tmp_path):
    rendered = render_chart(example="multi-gpu", values=overrides)
    kinds = sorted({doc["kind"] for doc in rendered.documents})
    if overrides is EVERYTHING_ON:
        assert kinds == ["Deployment", "HorizontalPodAutoscaler", "NetworkPolicy", "PersistentVolumeClaim",
                         "Pod", "PodDisruptionBudget", "Service", "ServiceAccount"]
    found = problems(rendered.documents)
    assert found == [], "\n".join(found)


def test_an_object_the_schema_refuses_is_reported_with_kind_name_and_path():
    deployment = copy.deepcopy(render_chart(example="single-gpu").one("Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = ["200Gi"]
    found = problems([deployment])
    assert len(found) == 1
    assert found[0].startswith("Deployment llms-v2-qwen3-32b: spec.template.spec.containers.0.resources.limits.memory: ")
    assert found[0].endswith(f"(Kubernetes {'.'.join(toolchain.kube_version().split('.')[:2])} schema)")
