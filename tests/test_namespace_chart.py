"""charts/llms-namespace: the llms Namespace, the gpu-* PriorityClasses and the GPU ResourceQuota."""
from __future__ import annotations

import dataclasses
import json
import re

import pytest
import yaml

from charts import render_chart
from vllm_models import fleet
from vllm_models import render as harness
from vllm_models import toolchain

CHART = toolchain.ROOT / "charts" / "llms-namespace"
SEED_PRIORITY_CLASSES = {"gpu-critical": 1000000, "gpu-high": 100000, "gpu-normal": 10000}


def environment_block(env: str) -> dict:
    return fleet.environment_values(env)["namespace"]


def with_values(data: dict, env: str = "staging") -> harness.Release:
    """The environment's namespace release with `data` as its only values (chart defaults underneath)."""
    rel = harness.namespace_release(env)
    return dataclasses.replace(rel, sources=(harness.ValuesSource("test values", data),))


def refusal(data: dict) -> str:
    with pytest.raises(harness.RenderError) as refused:
        render_chart(release=with_values(data), use_cache=False)
    return str(refused.value)


def test_every_environment_creates_the_llms_namespace_with_its_pod_security_levels(namespace_rendered):
    env = namespace_rendered.release.environment
    namespace = namespace_rendered.one("Namespace")
    labels = namespace["metadata"]["labels"]
    levels = {mode: labels.get(f"pod-security.kubernetes.io/{mode}") for mode in ("enforce", "audit", "warn")}
    assert namespace["metadata"]["name"] == "llms", f"environment {env}: Namespace {namespace['metadata']['name']}"
    assert levels == environment_block(env)["podSecurity"], f"environment {env}: Namespace llms labels {levels}"
    assert namespace["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}, \
        f"environment {env}: uninstalling the release must not delete the namespace and every model in it"


def test_every_environment_creates_the_seeds_priority_classes(namespace_rendered):
    env = namespace_rendered.release.environment
    classes = {doc["metadata"]["name"]: doc for doc in namespace_rendered.objects("PriorityClass")}
    assert {name: doc["value"] for name, doc in classes.items()} == SEED_PRIORITY_CLASSES, f"environment {env}"
    assert all(doc["globalDefault"] is False for doc in classes.values()), \
        f"environment {env}: a gpu-* class must not become every pod's default"
    assert all("namespace" not in doc["metadata"] for doc in classes.values()), \
        f"environment {env}: PriorityClasses are cluster-scoped"


def test_every_environments_quota_is_its_namespace_block_in_the_llms_namespace(namespace_rendered):
    env = namespace_rendered.release.environment
    quota = namespace_rendered.one("ResourceQuota")
    expected = {key: str(value) for key, value in environment_block(env)["quota"].items()}
    assert quota["metadata"] == {**quota["metadata"], "name": "gpu-quota", "namespace": "llms"}, \
        f"environment {env}: ResourceQuota {quota['metadata']['name']} in {quota['metadata'].get('namespace')}"
    assert quota["spec"]["hard"] == expected, f"environment {env}: ResourceQuota gpu-quota hard {quota['spec']['hard']}"


@pytest.mark.parametrize("kind", ["Namespace", "PriorityClass", "ResourceQuota"])
def test_every_object_carries_the_standard_labels(namespace_rendered, kind):
    for doc in namespace_rendered.objects(kind):
        labels = doc["metadata"]["labels"]
        assert {key: labels.get(key) for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance",
                                                 "app.kubernetes.io/component", "app.kubernetes.io/part-of",
                                                 "app.kubernetes.io/managed-by")} == {
            "app.kubernetes.io/name": "llms-namespace", "app.kubernetes.io/instance": "llms-namespace",
            "app.kubernetes.io/component": "namespace", "app.kubernetes.io/part-of": "vllm-models",
            "app.kubernetes.io/managed-by": "Helm"}, f"{kind} {doc['metadata']['name']}: labels {labels}"
        assert re.fullmatch(r"llms-namespace-\d+\.\d+\.\d+", labels["helm.sh/chart"])


def test_the_chart_defaults_are_the_seeds_namespace_settings_enforcing_restricted():
    rendered = render_chart(release=with_values({}))
    labels = rendered.one("Namespace")["metadata"]["labels"]
    assert [labels[f"pod-security.kubernetes.io/{m}"] for m in ("enforce", "audit", "warn")] == [
        "restricted", "restricted", "restricted"], "enforce: restricted unless a release needs more (issue 18)"
    assert rendered.one("ResourceQuota")["spec"]["hard"] == {
        "requests.nvidia.com/gpu": "32", "requests.memory": "2Ti", "limits.memory": "4Ti", "pods": "50"}


@pytest.mark.parametrize("values", [None, {"quota": {"pods": 1000000, "requests.cpu": "1500m"}}])
def test_helm3_and_helm4_render_the_namespace_release_identically(values):
    rel = harness.namespace_release("production-vn") if values is None else with_values(values)
    assert render_chart(release=rel, helm="helm3").documents == render_chart(release=rel).documents


def test_the_chart_passes_helm_lint_strict_with_every_environments_values(tmp_path):
    for env in harness.environments():
        rel = harness.namespace_release(env)
        command = [toolchain.tool("helm4"), "lint", "--strict", str(CHART), "--namespace", rel.namespace]
        for path in harness.values_files(rel, tmp_path):
            command += ["--values", path]
        harness.run(command, environment=env, release=rel.name)


# --- Bad input is refused by name -----------------------------------------------------------------

def test_the_seeds_limits_gpu_quota_is_refused_with_the_reason_and_the_fix():
    assert ("llms-namespace: quota.limits.nvidia.com/gpu is never counted: Kubernetes quotas extended resources "
            "such as GPUs by requests only; set quota.requests.nvidia.com/gpu instead and drop this key"
            in refusal({"quota": {"limits.nvidia.com/gpu": 32}}))


def test_a_priority_class_listed_twice_is_refused_by_index_and_name():
    classes = [{"name": "gpu-high", "value": 100000, "description": "High"},
               {"name": "gpu-high", "value": 1000, "description": "Again"}]
    assert ("llms-namespace: priorityClasses[1].name (gpu-high) is already listed; PriorityClass names are "
            "cluster-wide, keep one entry per name" in refusal({"priorityClasses": classes}))


@pytest.mark.parametrize("values, complaint", [
    ({"quota": {"requests.gpu": 8}}, "- at '/quota': additional properties 'requests.gpu' not allowed"),
    ({"podSecurity": {"enforce": "strict"}}, "- at '/podSecurity/enforce': value must be one of 'privileged', 'baseline', 'restricted'"),
    ({"quota": {"requests.memory": "lots"}}, "- at '/quota/requests.memory': 'lots' does not match pattern"),
    ({"namespace": "llms"}, "- at '': additional properties 'namespace' not allowed"),
])
def test_the_strict_schema_refuses_unknown_keys_and_bad_values(values, complaint):
    assert complaint in refusal(values)


# --- Every values key is documented ---------------------------------------------------------------

def schema_paths(node: dict, definitions: dict, prefix: str = "") -> dict[str, dict]:
    found = {}
    for key, child in (node.get("properties") or {}).items():
        path = f"{prefix}{key}"
        found[path] = child
        target = definitions.get(child.get("$ref", "").rsplit("/", 1)[-1], child)
        if target.get("type") == "object":
            found.update(schema_paths(target, definitions, f"{path}."))
    return found


def test_every_schema_key_has_a_description_and_every_values_key_is_in_the_schema():
    schema = json.loads((CHART / "values.schema.json").read_text())
    paths = schema_paths(schema, schema.get("definitions", {}))
    assert [path for path, node in paths.items() if not node.get("description")] == []

    def values_paths(node: dict, prefix: str = "") -> list[str]:
        out = []
        for key, child in node.items():
            out.append(f"{prefix}{key}")
            if isinstance(child, dict) and f"{prefix}{key}" != "quota":
                out += values_paths(child, f"{prefix}{key}.")
        return out

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert [path for path in values_paths(values) if path not in paths and not path.startswith("quota.")] == []
    assert [key for key in values["quota"] if f"quota.{key}" not in paths] == []


def undocumented_keys(text: str, described_by_parent=("priorityClasses", "quota")) -> list[str]:
    """Keys without a `# --` line right above; entries of a list or map documented as a whole are exempt."""
    lines, stack, missing = text.splitlines(), [], []
    for index, line in enumerate(lines):
        match = re.match(r"^(\s*)(- )?([A-Za-z][\w./-]*):", line)
        if not match:
            continue
        indent = len(match.group(1)) + (2 if match.group(2) else 0)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        exempt = any(key in described_by_parent for _, key in stack)
        if not exempt and not (index and lines[index - 1].strip().startswith("# --")):
            missing.append(".".join([key for _, key in stack] + [match.group(3)]))
        stack.append((indent, match.group(3)))
    return missing


def test_every_values_key_is_documented_with_a_helm_docs_comment():
    assert undocumented_keys((CHART / "values.yaml").read_text()) == []


def test_an_undocumented_values_key_is_found():
    assert undocumented_keys("# -- ok\npodSecurity:\n  enforce: baseline\n# -- q\nquota:\n  pods: 1\n") == [
        "podSecurity.enforce"]
