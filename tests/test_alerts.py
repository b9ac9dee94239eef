"""Every alert, evaluated by Prometheus's promtool: the rules load, and each alert fires on series that
break its threshold (labels and expanded annotations as expected) and stays silent on series that do not.

The series are generated from each alert's own expression (vllm_models.alerts), so these tests follow the
chart's thresholds and each release's vLLM metric names.
"""
from __future__ import annotations

import copy

import pytest

from charts import render_chart
from conftest import installed_releases, rendered_release
from vllm_models import alerts, metrics, vllm_args
from vllm_models import render as harness

MONITORED = {"global": {"monitoring": {"enabled": True}}}


@pytest.mark.parametrize("env", harness.environments())
def test_every_prometheus_rule_of_every_environment_passes_promtool_check_rules(env):
    renders = [rendered_release(env, rel.name) for rel in harness.model_releases(env)]
    assert alerts.check(env, renders) == []


def test_every_alert_of_every_release_fires_on_breaking_series_and_stays_silent_otherwise(rendered):
    count, failures = alerts.run_unit_tests(rendered)
    assert failures == "", f"{harness.where(rendered)}: promtool test rules:\n{failures}"
    assert count == len(alerts.alerts_of([rendered])), "every alert has its pair of unit tests"


def test_the_monitored_environments_have_alerts_to_test():
    assert alerts.alerts_of(rendered_release(*key) for key in
                            ((r.environment, r.name) for r in installed_releases() if r.environment == "staging"))


def test_the_throughput_alert_fires_only_while_the_pod_serves_and_generates_below_its_floor():
    rendered = render_chart({**MONITORED, "prometheusRule": {"generationThroughput": {"baselineTokensPerSecond": 400}}},
                            example="single-gpu")
    assert "VllmGenerationThroughputLow" in alerts.alerts_of([rendered])
    count, failures = alerts.run_unit_tests(rendered)
    assert failures == "" and count == len(alerts.alerts_of([rendered]))


@pytest.mark.parametrize("tag", [f"v{version}" for version in vllm_args.available_versions()])
def test_each_vllm_versions_metric_names_get_working_alerts(tag):
    """A release on every catalogued vLLM version gets alerts that pass promtool unit tests, each on a series that
    version exports (the names come from vllm-versions.yaml)."""
    rendered = render_chart({**MONITORED, "image": {"tag": tag}, "prometheusRule": {
        "generationThroughput": {"baselineTokensPerSecond": 400}}}, example="single-gpu")
    count, failures = alerts.run_unit_tests(rendered)
    assert failures == "" and count == len(alerts.alerts_of([rendered])), f"image {tag}:\n{failures}"
    assert metrics.metric_problems(rendered) == [], f"image {tag}"


def test_a_broken_alert_expression_fails_promtool_check_rules_naming_environment_and_release(monkeypatch, tmp_path):
    monkeypatch.setattr(harness, "CACHE_DIR", tmp_path)  # promtool itself answers, not an earlier run's cache
    rendered = rendered_release("staging", "llms-v2-qwen3-32b")
    documents = copy.deepcopy(rendered.documents)
    rule = next(d for d in documents if d["kind"] == "PrometheusRule")
    rule["spec"]["groups"][0]["rules"][0]["expr"] = "max by (pod (vllm:num_requests_running) > 1"
    broken = harness.Rendered(rendered.release, documents, rendered.manifest)
    [problem] = alerts.check("staging", [broken])
    assert problem.startswith("environment staging, release llms-v2-qwen3-32b (environments/staging/language/"
                              "qwen3-32b.yaml): promtool check rules refuses PrometheusRule llms-v2-qwen3-32b: "), problem
    assert "could not parse expression" in problem


def test_unit_tests_that_expect_the_wrong_outcome_fail_so_the_generated_tests_can_fail(monkeypatch):
    rendered = render_chart(MONITORED, example="single-gpu")
    original = alerts.series
    monkeypatch.setattr(alerts, "series", lambda shape, firing, minutes, pod: original(shape, not firing, minutes, pod))
    count, failures = alerts.run_unit_tests(rendered)
    assert count > 0 and "FAILED" in failures


@pytest.mark.parametrize("value, text", [(0, "0"), (205, "205"), (1234, "1.234k"), (0.2887, "288.7m"),
                                         (9.625, "9.625"), (2.5e6, "2.5M")])
def test_values_are_humanized_as_prometheus_templates_do(value, text):
    assert alerts.humanize(value) == text


@pytest.mark.parametrize("expression, kind, above, threshold", [
    ('max by (namespace, model_name, pod) (vllm:num_requests_running{namespace="llms"}) > 204.8', "gauge", True, 204.8),
    ('histogram_quantile(0.95, sum by (namespace, model_name, le) (rate(vllm:x_bucket{a="b"}[5m]))) > 5',
     "histogram", True, 5.0),
    ('sum by (pod) (rate(vllm:generation_tokens_total{a="b"}[5m])) < 320 and on (pod) sum by (pod) '
     '(vllm:num_requests_running{a="b"}) > 0', "counter", False, 320.0),
])
def test_the_three_alert_shapes_are_recognised_from_the_expression(expression, kind, above, threshold):
    shape = alerts.shape_of(expression)
    assert (shape.kind, shape.above, shape.threshold) == (kind, above, threshold)


def test_an_alert_of_an_unknown_shape_is_refused_by_name():
    with pytest.raises(alerts.AlertsError, match="no `> N` or `< N` threshold"):
        alerts.shape_of("absent(up)")


def test_promtool_checks_the_same_rules_once_and_a_changed_expression_again(monkeypatch, tmp_path):
    monkeypatch.setattr(harness, "CACHE_DIR", tmp_path)
    calls = []
    real = alerts.promtool
    monkeypatch.setattr(alerts, "promtool", lambda *args, **kwargs: calls.append(args) or real(*args, **kwargs))
    rendered = rendered_release("staging", "llms-v2-qwen3-32b")
    assert alerts.check("staging", [rendered]) == [] and len(calls) == 1
    assert alerts.check("staging", [rendered]) == [] and len(calls) == 1, "unchanged rules went to promtool again"
    documents = copy.deepcopy(rendered.documents)
    rule = next(d for d in documents if d["kind"] == "PrometheusRule")
    rule["spec"]["groups"][0]["rules"][0]["expr"] += " > 0"
    assert alerts.check("staging", [harness.Rendered(rendered.release, documents, rendered.manifest)]) == []
    assert len(calls) == 2, "an edited expression was answered from the cache"
