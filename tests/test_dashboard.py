"""The Grafana dashboard ConfigMap: valid JSON, the seed's panels, queries on metrics the release's vLLM exports."""
from __future__ import annotations

import copy
import json

from conftest import installed_releases, rendered_release
from vllm_models import metrics
from vllm_models import render as harness
from vllm_models import toolchain

SOURCE = toolchain.CHART_DIR / "dashboards" / "vllm-release.json"
PANELS = {"Request rate", "Requests waiting", "Requests running", "KV-cache usage", "Time to first token",
          "Time per output token", "Generation throughput", "Prefix cache hit rate"}


def dashboard(rendered: harness.Rendered) -> dict:
    [(_, found)] = metrics.dashboards(rendered)
    return found


def test_a_dashboard_configmap_renders_exactly_where_monitoring_is_on(rendered):
    expected = 1 if metrics.monitoring_on(rendered.release, "dashboard") else 0
    assert len(metrics.dashboards(rendered)) == expected, metrics.where(rendered)


def test_every_dashboard_configmap_carries_the_grafana_sidecar_label(rendered):
    for config_map in rendered.objects("ConfigMap"):
        labels = config_map["metadata"]["labels"]
        assert labels.get("grafana_dashboard") == "1", f"{metrics.where(rendered)}: ConfigMap {config_map['metadata']['name']} labels {labels}"


def test_every_dashboard_has_the_seed_panels_and_a_model_variable_defaulting_to_this_release(rendered):
    if not rendered.objects("ConfigMap"):
        return
    found = dashboard(rendered)
    titles = {panel["title"] for panel in found["panels"]}
    assert PANELS <= titles, f"{metrics.where(rendered)}: dashboard misses panels {sorted(PANELS - titles)}"
    variables = {v["name"]: v for v in found["templating"]["list"]}
    served = rendered.workload().object["metadata"]["annotations"]["vllm-models.io/served-model-name"]
    assert variables["model_name"]["current"]["value"] == [served], f"{metrics.where(rendered)}: {variables['model_name']['current']}"
    for panel in found["panels"]:
        for target in panel["targets"]:
            assert 'model_name=~"$model_name"' in target["expr"], f"{metrics.where(rendered)}: panel {panel['title']!r} ignores the model variable"


def test_the_latency_panels_show_p50_p95_and_p99(rendered):
    if not rendered.objects("ConfigMap"):
        return
    for panel in dashboard(rendered)["panels"]:
        if panel["title"] in ("Time to first token", "Time per output token"):
            quantiles = [metrics.parse(metrics.grafana_query(t["expr"], {})).args[0].val for t in panel["targets"]]
            assert quantiles == [0.5, 0.95, 0.99], f"{metrics.where(rendered)}: panel {panel['title']!r} quantiles {quantiles}"


def test_every_dashboard_query_reads_only_metrics_the_releases_vllm_version_exports_and_none_it_deprecates(rendered):
    tag = metrics.image_tag(rendered)
    for name, found in metrics.dashboards(rendered):
        for place, query in metrics.dashboard_queries(found):
            expr = metrics.grafana_query(query, metrics.dashboard_variables(rendered))
            assert metrics.series_problems(expr, tag) == [], f"{metrics.where(rendered)}: dashboard {name} {place}"
            assert metrics.deprecated_metrics(expr, tag) == [], f"{metrics.where(rendered)}: dashboard {name} {place}"


def test_dashboard_uids_are_unique_within_each_environments_grafana():
    owners: dict[tuple[str, str], list[str]] = {}
    for rel in installed_releases():
        for _, found in metrics.dashboards(rendered_release(rel.environment, rel.name)):
            owners.setdefault((rel.environment, found["uid"]), []).append(rel.name)
            assert len(found["uid"]) <= 40, f"{rel.environment}/{rel.name}: Grafana uid {found['uid']} is longer than 40"
    assert {key: names for key, names in owners.items() if len(names) > 1} == {}


def test_the_dashboard_source_is_valid_json_whose_placeholders_the_chart_fills():
    source = json.loads(SOURCE.read_text())
    assert source["panels"], "dashboards/vllm-release.json has no panels"
    rendered = rendered_release("staging", "llms-v2-qwen3-32b")
    text = rendered.one("ConfigMap")["data"]["llms-v2-qwen3-32b.json"]
    assert "<<" not in text, "a placeholder of dashboards/vllm-release.json was left unfilled"


def test_a_dashboard_query_on_a_metric_absent_from_the_releases_vllm_version_is_reported():
    rendered = rendered_release("production-jp", "llms-v2-gemma-3-27b-it")
    broken = harness.Rendered(rendered.release, copy.deepcopy(rendered.documents), rendered.manifest)
    config_map = broken.one("ConfigMap")
    key = next(iter(config_map["data"]))
    board = json.loads(config_map["data"][key])
    board["panels"][0]["targets"][0]["expr"] = 'sum(rate(vllm:avg_generation_throughput_toks_per_s{model_name=~"$model_name"}[$__rate_interval]))'
    config_map["data"][key] = json.dumps(board)
    assert metrics.metric_problems(broken) == [
        "environment production-jp, release llms-v2-gemma-3-27b-it (environments/production-jp/vision-language/gemma-3-27b-it.yaml): "
        "dashboard llms-v2-gemma-3-27b-it-dashboard/llms-v2-gemma-3-27b-it.json panel 'Request rate' target A reads "
        "vllm:avg_generation_throughput_toks_per_s, which does not exist in vLLM v0.10.2 (src/vllm_models/data/vllm/v0.10.2.json)"]


def test_a_dashboard_configmap_that_is_not_json_is_reported_naming_the_configmap():
    rendered = rendered_release("staging", "llms-v2-qwen3-32b")
    broken = harness.Rendered(rendered.release, copy.deepcopy(rendered.documents), rendered.manifest)
    broken.one("ConfigMap")["data"]["llms-v2-qwen3-32b.json"] = '{"panels": ['
    try:
        metrics.dashboards(broken)
    except ValueError as error:
        assert str(error).startswith(
            "environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): "
            "ConfigMap llms-v2-qwen3-32b-dashboard key llms-v2-qwen3-32b.json is not valid JSON: ")
    else:
        raise AssertionError("invalid dashboard JSON was accepted")
