"""values.yaml and values.schema.json: every key documented, the schema strict everywhere, the README in step."""
from __future__ import annotations

import copy
import json

import pytest
import yaml

from vllm_models import chart_docs, chart_examples, toolchain, values_check
from vllm_models import render as harness

SCHEMA_FILE = "charts/vllm-models/values.schema.json"

# Objects that may hold keys the schema does not list, each with the reason.
FREE_FORM = {
    "global.nodeSelector": "node labels: the keys are the cluster's label names (values must be strings)",
    "nodeSelector": "node labels: the keys are the cluster's label names (values must be strings)",
    "deployment.podLabels": "label map (values must be strings; the chart refuses its own label names)",
    "deployment.podAnnotations": "annotation map (values must be strings; the chart refuses its own annotation names)",
    "service.annotations": "annotation map (values must be strings)",
    "serviceAccount.annotations": "annotation map (values must be strings)",
    "deployment.topologySpreadConstraints[].labelSelector.matchLabels": "label map (values must be strings)",
    "global.monitoring.prometheusSelectorLabels": "label map (values must be strings)",
    "global.monitoring.grafanaDashboardLabels": "label map (values must be strings)",
    "serviceMonitor.labels": "label map (values must be strings)",
    "prometheusRule.labels": "label map (values must be strings)",
    "prometheusRule.alertLabels": "label map (values must be strings)",
    "affinity.nodeAffinity": "Kubernetes NodeAffinity, passed through; the rendered Deployment is checked against the "
                             "official schema (tests/test_kubernetes_schema.py)",
    "affinity.podAffinity": "Kubernetes PodAffinity, passed through; checked as rendered against the official schema",
    "affinity.podAntiAffinity": "Kubernetes PodAntiAffinity, passed through; checked as rendered against the official schema",
    "networkPolicy.extraEgress[].to[].namespaceSelector": "Kubernetes LabelSelector, passed through; checked as rendered "
                                                          "against the official schema",
    "networkPolicy.extraEgress[].to[].podSelector": "Kubernetes LabelSelector, passed through; checked as rendered "
                                                    "against the official schema",
}


def schema() -> dict:
    return json.loads((toolchain.CHART_DIR / "values.schema.json").read_text())


def chart_defaults() -> dict:
    return yaml.safe_load((toolchain.CHART_DIR / "values.yaml").read_text())


def schema_nodes(node: dict, path: str = ""):
    """(dotted path, schema) of every subschema: properties, array items ([]), map values (*)."""
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from schema_nodes(child, f"{path}.{name}" if path else name)
    if isinstance(node.get("items"), dict):
        yield from schema_nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from schema_nodes(node["additionalProperties"], f"{path}.*")


def is_object(node: dict) -> bool:
    kind = node.get("type")
    return "object" in (kind if isinstance(kind, list) else [kind]) or "properties" in node


def misplaced_keys() -> set[str]:
    return {f"{parent}.{child}" for parent, child in values_check.MISPLACED}


def lax_objects(tree: dict) -> list[str]:
    return [path for path, node in schema_nodes(tree)
            if is_object(node) and node.get("additionalProperties") is not False and path not in FREE_FORM]


def test_every_leaf_key_in_values_yaml_has_a_description_comment():
    missing = chart_docs.undocumented(chart_docs.parse())
    assert missing == [], (f"charts/vllm-models/values.yaml: keys without a `# --` comment (nor a documented block "
                           f"around them): {', '.join(missing)}; document each with `# -- <what it does>` above it")


def test_a_leaf_without_a_description_comment_is_reported():
    text = ("# -- Documented.\nimage:\n  # -- The tag.\n  tag: v1\n  pullPolicy: Always\n"
            "# -- A block documents its keys.\nresources:\n  limits: {}\n")
    assert chart_docs.undocumented(chart_docs.parse(text)) == ["image.pullPolicy"]


def test_every_documented_key_is_declared_in_the_schema_with_a_description():
    tree = schema()
    problems = []
    for key in chart_docs.rows(chart_docs.parse()):
        node = chart_docs.schema_node(key.path, tree)
        if node is None:
            problems.append(f"{key.name}: not declared in {SCHEMA_FILE}")
        elif not node.get("description"):
            problems.append(f"{key.name}: declared in {SCHEMA_FILE} without a description")
    assert problems == [], "\n".join(problems)


def test_every_schema_key_has_a_description_and_a_type():
    problems = []
    for path, node in schema_nodes(schema()):
        if not path or path.endswith(("[]", ".*")):
            continue
        if not node.get("description"):
            problems.append(f"{path}: no description")
        if "type" not in node and not (node.get("deprecated") and path in misplaced_keys()):
            problems.append(f"{path}: no type")
    assert problems == [], f"{SCHEMA_FILE}:\n" + "\n".join(problems)


def test_every_object_in_the_schema_refuses_unknown_keys_except_the_declared_free_form_maps():
    lax = lax_objects(schema())
    assert lax == [], (f"{SCHEMA_FILE}: these objects accept unknown keys: {', '.join(lax)}; set "
                       f'"additionalProperties": false, or declare the map in FREE_FORM with the reason')


def test_a_schema_object_that_accepts_unknown_keys_is_reported():
    tree = copy.deepcopy(schema())
    del tree["properties"]["probes"]["properties"]["startup"]["additionalProperties"]
    assert lax_objects(tree) == ["probes.startup"]


def test_every_declared_free_form_map_exists_in_the_schema():
    paths = {path for path, _ in schema_nodes(schema())}
    stale = sorted(set(FREE_FORM) - paths)
    assert stale == [], f"FREE_FORM lists maps {SCHEMA_FILE} no longer has: {stale}"


def test_the_seeds_misplaced_keys_are_declared_deprecated_so_the_chart_can_name_the_canonical_key():
    tree = schema()
    for key in misplaced_keys():
        node = chart_docs.schema_node(tuple(key.split(".")), tree)
        assert node is not None and node.get("deprecated") is True, f"{SCHEMA_FILE}: {key} is not declared deprecated"
        canonical = key.split(".", 1)[1]
        assert f"top-level `{canonical}`" in node["description"], f"{SCHEMA_FILE}: {key} does not name `{canonical}`"


def problems_of(values: dict) -> list[str]:
    validator = values_check.StrictTypes(schema())
    return [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(values)]


def test_the_chart_defaults_validate_against_the_schema():
    assert problems_of(chart_defaults()) == []


@pytest.mark.parametrize("name", chart_examples.names())
def test_the_chart_defaults_with_each_example_validate_against_the_schema(name):
    merged = harness.deep_merge(chart_defaults(), chart_examples.values(name))
    assert problems_of(merged) == [], f"example {name}"


def test_a_value_outside_the_schema_is_reported():
    merged = harness.deep_merge(chart_defaults(), chart_examples.values("single-gpu"))
    merged["deployment"]["gpuMemoryUtilization"] = 0
    assert problems_of(merged) == ["deployment.gpuMemoryUtilization: 0 is less than or equal to the minimum of 0"]


def test_the_readme_parameter_table_is_generated_from_values_yaml():
    current = chart_docs.README.read_text()
    assert chart_docs.render_readme(current) == current, (
        "charts/vllm-models/README.md is out of date with values.yaml: run `make generate-docs`")


def test_the_readme_table_shows_each_documented_key_with_its_type_default_and_description():
    table = chart_docs.table()
    assert ("| `deployment.gpuMemoryUtilization` | number | `0.85` | Fraction of each GPU's memory vLLM may use "
            "(0 &lt; x &lt;= 1).") in table
    assert ('| `securityContext` | object | `{"runAsNonRoot": true, "runAsUser": 2000, "runAsGroup": 0, "fsGroup": 0, '
            '"fsGroupChangePolicy": "OnRootMismatch", "seccompProfile": {"type": "RuntimeDefault"}}` |') in table


def test_a_stale_readme_table_is_regenerated_and_the_prose_kept():
    fresh = chart_docs.render_readme(chart_docs.README.read_text())
    stale = fresh.replace("| `modelName` |", "| `modelNameOld` |")
    assert stale != fresh
    assert chart_docs.render_readme(stale) == fresh


def test_every_schema_description_is_generated_from_values_yaml():
    current = chart_docs.SCHEMA.read_text()
    assert chart_docs.generated()[chart_docs.SCHEMA] == current, (
        f"{SCHEMA_FILE}: a description differs from its `# --` comment in charts/vllm-models/values.yaml; "
        f"edit values.yaml and run `make generate-docs`")


def test_a_description_edited_in_values_yaml_reaches_the_schema():
    text = chart_docs.VALUES.read_text().replace(
        "# -- Pipeline parallel size.", "# -- Pipeline parallel size (stages across GPUs).")
    schema = chart_docs.schema_with_descriptions(json.loads(chart_docs.SCHEMA.read_text()), chart_docs.parse(text))
    assert chart_docs.schema_node(("deployment", "pipelineParallel"), schema)["description"] == \
        "Pipeline parallel size (stages across GPUs)."


def test_a_key_new_to_values_yaml_is_declared_in_the_schema_with_the_type_of_its_default():
    text = chart_docs.VALUES.read_text().replace(
        "  # -- Pipeline parallel size.\n", "  # -- Speculative tokens per step.\n  speculativeTokens: 4\n"
                                            "  # -- Pipeline parallel size.\n")
    schema = chart_docs.schema_with_descriptions(json.loads(chart_docs.SCHEMA.read_text()), chart_docs.parse(text))
    assert chart_docs.schema_node(("deployment", "speculativeTokens"), schema) == {
        "type": "integer", "description": "Speculative tokens per step."}


@pytest.mark.parametrize("default, kind", [(True, "boolean"), (3, "integer"), (0.5, "number"), ("x", "string"),
                                           ([], "array")])
def test_a_new_keys_type_follows_its_default(default, kind):
    assert chart_docs.inferred(default)["type"] == kind


def test_a_new_key_with_a_null_default_is_left_for_a_hand_written_type():
    assert chart_docs.inferred(None) is None
