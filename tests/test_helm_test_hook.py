"""The `helm test` pod: lists /v1/models through the release's Service and finds the served model name."""
from __future__ import annotations

from charts import render_chart
from vllm_models import render as harness


def hook_pod(rendered: harness.Rendered) -> dict:
    found = [doc for doc in rendered.objects("Pod") if doc["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"]
    assert len(found) == 1, f"release {rendered.release.name}: {len(found)} helm test pods"
    return found[0]


def test_every_release_of_every_environment_checks_its_served_model_name(rendered):
    pod = hook_pod(rendered)
    name = rendered.release.values()["deployment"]["servedModelName"]
    script = pod["spec"]["containers"][0]["args"][0]
    assert f"""grep -F '"id":"{name}"'""" in script, f"environment {rendered.release.environment}, release {rendered.release.name}: {script}"


def test_the_hook_lists_models_through_the_service_and_cleans_up():
    rendered = render_chart(example="single-gpu")
    pod = hook_pod(rendered)
    assert pod["metadata"]["name"] == "llms-v2-qwen3-32b-test"
    assert pod["metadata"]["annotations"] == {"helm.sh/hook": "test",
                                              "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"}
    container = pod["spec"]["containers"][0]
    assert container["command"] == ["sh", "-c"]
    assert container["args"] == ["curl -fsS --max-time 10 http://llms-v2-qwen3-32b:8000/v1/models | grep -F '\"id\":\"Qwen3-32B\"'"]
    assert pod["spec"]["restartPolicy"] == "Never"


def test_the_hook_pod_is_never_a_service_endpoint():
    rendered = render_chart(example="single-gpu")
    selector = rendered.one("Service")["spec"]["selector"]
    labels = hook_pod(rendered)["metadata"]["labels"]
    assert not selector.items() <= labels.items(), f"Service selector {selector} matches the test pod {labels}"


def test_the_hook_pod_runs_unprivileged_with_fixed_resources():
    pod = hook_pod(render_chart(example="single-gpu"))
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = pod["spec"]["containers"][0]
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    assert container["resources"]["limits"] == container["resources"]["requests"]


def test_the_hook_uses_the_service_port(tmp_path):
    rendered = render_chart(example="single-gpu", values={"service": {"port": 80}})
    assert "http://llms-v2-qwen3-32b:80/v1/models" in hook_pod(rendered)["spec"]["containers"][0]["args"][0]
