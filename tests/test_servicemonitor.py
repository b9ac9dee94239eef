"""The ServiceMonitor: Prometheus scrapes /metrics on the Service's `http` port where monitoring is on."""
from __future__ import annotations

import copy
import json
import re

import pytest
import yaml

from charts import edited_release, render_chart
from vllm_models import kube_validate, metrics
from vllm_models import render as harness

MONITORING_APIS = ("monitoring.coreos.com/v1/ServiceMonitor", "monitoring.coreos.com/v1/PrometheusRule")


def render_against_cluster_with(rel: harness.Release, tmp_path, *api_versions: str) -> harness.Rendered:
    """`helm template` as if the cluster served `api_versions` (what `helm install` sees), for the `auto` switch."""
    command = harness.template_command(rel, harness.values_files(rel, tmp_path))
    for api in api_versions:
        command += ["--api-versions", api]
    manifest = harness.run(command, environment=rel.environment, release=rel.name, sources=rel.sources)
    return harness.Rendered(rel, [doc for doc in yaml.safe_load_all(manifest) if doc], manifest)


def monitoring_kinds(rendered: harness.Rendered) -> set[str]:
    return {doc["kind"] for doc in rendered.documents if doc["kind"] in ("ServiceMonitor", "PrometheusRule", "ConfigMap")}


def test_every_environment_after_development_forces_monitoring_on():
    for env in harness.environments()[1:]:
        for rel in harness.model_releases(env):
            for key in ("serviceMonitor", "prometheusRule", "dashboard"):
                assert metrics.monitoring_on(rel, key), (
                    f"environment {env}, release {rel.name}: {key} is off; set global.monitoring.enabled: true "
                    f"in environments/{env}/values.yaml")


def test_a_servicemonitor_renders_exactly_where_monitoring_is_on(rendered):
    expected = 1 if metrics.monitoring_on(rendered.release, "serviceMonitor") else 0
    found = rendered.objects("ServiceMonitor")
    assert len(found) == expected, (
        f"{metrics.where(rendered)}: {len(found)} ServiceMonitor(s), expected {expected}")


def test_every_servicemonitor_scrapes_metrics_on_the_named_http_port_of_this_releases_service(rendered):
    service = rendered.one("Service")
    for monitor in rendered.objects("ServiceMonitor"):
        spec = monitor["spec"]
        context = f"{metrics.where(rendered)}: ServiceMonitor {monitor['metadata']['name']}"
        assert [(e["port"], e["path"]) for e in spec["endpoints"]] == [("http", "/metrics")], f"{context}: {spec['endpoints']}"
        assert "http" in [port["name"] for port in service["spec"]["ports"]], f"{context}: Service has no port named http"
        selected = spec["selector"]["matchLabels"]
        assert selected.items() <= service["metadata"]["labels"].items(), (
            f"{context}: selector {selected} does not match Service labels {service['metadata']['labels']}")
        assert spec["namespaceSelector"] == {"matchNames": [service["metadata"]["namespace"]]}, f"{context}: {spec['namespaceSelector']}"


def test_every_servicemonitor_carries_the_label_kube_prometheus_stack_selects(rendered):
    for monitor in rendered.objects("ServiceMonitor"):
        labels = monitor["metadata"]["labels"]
        assert labels.get("release") == "kube-prometheus-stack", (
            f"{metrics.where(rendered)}: ServiceMonitor {monitor['metadata']['name']} labels {labels}")


def test_every_servicemonitor_validates_against_the_prometheus_operator_crd(rendered):
    for monitor in rendered.objects("ServiceMonitor"):
        assert kube_validate.crd_violations(monitor) == [], metrics.where(rendered)


def test_the_crd_check_reports_a_field_the_servicemonitor_crd_does_not_have():
    monitor = copy.deepcopy(render_chart(release=harness.release("staging", "llms-v2-qwen3-32b")).one("ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["intervall"] = "15s"
    monitor["spec"]["endpoints"][0]["scheme"] = "tcp"
    assert kube_validate.crd_violations(monitor) == [
        "ServiceMonitor llms-v2-qwen3-32b: spec.endpoints.0: Additional properties are not allowed ('intervall' was unexpected)",
        "ServiceMonitor llms-v2-qwen3-32b: spec.endpoints.0.scheme: 'tcp' is not one of ['http', 'https', 'HTTP', 'HTTPS']",
    ]


def test_auto_renders_the_monitoring_objects_only_when_the_cluster_serves_the_prometheus_operator_api(tmp_path):
    rel = harness.release("development", "llms-v2-qwen3-32b")
    assert metrics.monitoring_on(rel, "serviceMonitor") is False, "development is expected to leave monitoring on auto"
    assert monitoring_kinds(render_against_cluster_with(rel, tmp_path)) == set()
    assert monitoring_kinds(render_against_cluster_with(rel, tmp_path, *MONITORING_APIS)) == {
        "ServiceMonitor", "PrometheusRule", "ConfigMap"}


def test_a_release_turning_its_servicemonitor_off_wins_over_the_environment_and_the_cluster(tmp_path):
    rel = edited_release(tmp_path, "staging", "llms-v2-qwen3-32b", lambda v: v.update(serviceMonitor={"enabled": False}))
    assert render_against_cluster_with(rel, tmp_path, *MONITORING_APIS).objects("ServiceMonitor") == []


def test_the_prometheus_selector_label_is_configurable(tmp_path):
    def edit(values):
        values.setdefault("global", {})["monitoring"] = {"enabled": True, "prometheusSelectorLabels": {"release": "monitoring"}}
    rel = edited_release(tmp_path, "development", "llms-v2-qwen3-32b", edit)
    rendered = render_chart(release=rel)
    for kind in ("ServiceMonitor", "PrometheusRule"):
        labels = rendered.one(kind)["metadata"]["labels"]
        assert labels["release"] == "monitoring", f"{kind}: {labels}"


def test_a_scrape_timeout_longer_than_the_interval_is_refused_naming_both_keys(tmp_path):
    rel = edited_release(tmp_path, "staging", "llms-v2-qwen3-32b",
                         lambda v: v.update(serviceMonitor={"interval": "30s", "scrapeTimeout": "1m"}))
    with pytest.raises(harness.RenderError) as refused:
        render_chart(release=rel, use_cache=False)
    message = str(refused.value)
    assert "serviceMonitor.scrapeTimeout (1m) must not exceed serviceMonitor.interval (30s)" in message
    assert "serviceMonitor.scrapeTimeout is set in environments/staging/language/qwen3-32b.yaml" in message


def test_a_selector_label_the_chart_already_sets_is_refused(tmp_path):
    rel = edited_release(tmp_path, "staging", "llms-v2-qwen3-32b",
                         lambda v: v.update(serviceMonitor={"labels": {"model": "other"}}))
    with pytest.raises(harness.RenderError) as refused:
        render_chart(release=rel, use_cache=False)
    assert ": serviceMonitor.labels sets the label model, which the chart sets itself" in str(refused.value)


def test_every_crd_schema_kept_as_data_records_its_repository_tag_and_commit():
    provenance = (kube_validate.CRD_DIR / "PROVENANCE.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in provenance.splitlines() if line.startswith("| ") and ".json" in line}
    kept = sorted(path.name for path in kube_validate.CRD_DIR.glob("*.json"))
    assert sorted(rows) == kept, f"src/vllm_models/data/crds/PROVENANCE.md lists {sorted(rows)}, the folder holds {kept}"
    for name, row in rows.items():
        cells = [cell.strip() for cell in row.split("|")[1:-1]]
        assert cells[1].startswith("github.com/") and re.search(r"^v[0-9.]+ \([0-9a-f]{40}\)$", cells[2]), f"{name}: {row}"
        schema = json.loads((kube_validate.CRD_DIR / name).read_text())
        assert {"apiVersion", "kind", "spec"} <= set(schema["properties"]), f"{name} is not an openAPIV3Schema of a resource"
