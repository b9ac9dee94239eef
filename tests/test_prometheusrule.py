"""The PrometheusRule: the seed's alerts, scoped to the release, on metrics its vLLM version exports."""
from __future__ import annotations

import copy

import promql_parser
import pytest

from charts import render_chart
from conftest import rendered_release
from vllm_models import kube_validate, metrics, vllm_args, vllm_versions
from vllm_models import render as harness
from vllm_models import toolchain

CATALOGUED = vllm_args.available_versions()

SEED_ALERTS = {"VllmRequestsRunningHigh", "VllmRequestsWaitingHigh", "VllmKVCacheUsageHigh",
               "VllmTimeToFirstTokenHigh", "VllmTimePerOutputTokenHigh"}


def alerts(rendered: harness.Rendered) -> dict[str, dict]:
    return {rule["alert"]: rule for obj in rendered.objects("PrometheusRule")
            for group in obj["spec"]["groups"] for rule in group["rules"]}


def threshold(expr: str) -> float:
    """The number an alert compares with: `<lhs> > N`, or the first condition of `<cond> and <gate>`."""
    tree = metrics.parse(expr)
    if str(tree.op) == "and":
        tree = tree.lhs
    assert isinstance(tree.rhs, promql_parser.NumberLiteral), f"{expr} does not compare with a number"
    return tree.rhs.val


def max_num_seqs(rendered: harness.Rendered) -> int:
    args = rendered.container()["args"]
    return int(args[args.index("--max-num-seqs") + 1])


def render_with(tmp_path, env: str, name: str, **values) -> harness.Rendered:
    return render_chart(release=(env, name), edit=lambda v: v.update(values))


def test_a_prometheusrule_with_the_seed_alerts_renders_exactly_where_monitoring_is_on(rendered):
    expected = SEED_ALERTS if metrics.monitoring_on(rendered.release, "prometheusRule") else set()
    assert len(rendered.objects("PrometheusRule")) == (1 if expected else 0), metrics.where(rendered)
    assert set(alerts(rendered)) == expected, f"{metrics.where(rendered)}: alerts {sorted(alerts(rendered))}"


def test_every_alert_has_for_severity_summary_description_and_runbook_url(rendered):
    for name, rule in alerts(rendered).items():
        context = f"{metrics.where(rendered)}: PrometheusRule alert {name}"
        assert promql_parser.parse_duration(rule["for"]).total_seconds() > 0, f"{context}: for {rule.get('for')}"
        assert rule["labels"]["severity"] in ("warning", "critical"), f"{context}: labels {rule['labels']}"
        for annotation in ("summary", "description", "runbook_url"):
            assert rule["annotations"].get(annotation), f"{context}: no {annotation} annotation"
        assert rule["annotations"]["runbook_url"].endswith("#" + name.lower()), f"{context}: {rule['annotations']['runbook_url']}"


def test_every_runbook_url_points_at_a_section_of_the_runbooks(rendered):
    runbooks = (toolchain.ROOT / "docs" / "runbooks.md").read_text()
    for name, rule in alerts(rendered).items():
        assert f"\n## {name.lower()}\n" in runbooks, f"{metrics.where(rendered)}: docs/runbooks.md has no section {name.lower()}"


def test_every_query_parses_and_reads_only_metrics_the_releases_vllm_version_exports(rendered):
    assert metrics.metric_problems(rendered) == []


def test_no_alert_reads_a_metric_its_vllm_version_deprecates(rendered):
    tag = metrics.image_tag(rendered)
    for name, expr in metrics.rule_expressions(rendered):
        assert metrics.deprecated_metrics(expr, tag) == [], f"{metrics.where(rendered)}: alert {name} on vLLM {tag}"


def test_every_alert_reads_only_this_releases_series(rendered):
    workload = rendered.workload().object
    own = {"namespace": workload["metadata"]["namespace"],
           "model_name": workload["metadata"]["annotations"]["vllm-models.io/served-model-name"]}
    for name, expr in metrics.rule_expressions(rendered):
        for selector in metrics.selectors(metrics.parse(expr)):
            assert metrics.label_matchers(selector).items() >= own.items(), (
                f"{metrics.where(rendered)}: alert {name} selector {selector} is not scoped to {own}")


def test_the_running_requests_alert_fires_at_80_percent_of_this_releases_max_num_seqs(rendered):
    rule = alerts(rendered).get("VllmRequestsRunningHigh")
    if rule:
        assert threshold(rule["expr"]) == pytest.approx(0.8 * max_num_seqs(rendered)), (
            f"{metrics.where(rendered)}: {rule['expr']} with --max-num-seqs {max_num_seqs(rendered)}")


def test_the_running_requests_alert_follows_a_changed_max_num_seqs(tmp_path):
    def edit(values):
        values["deployment"]["maxNumSeqs"] = 64
    rendered = render_chart(release=("staging", "llms-v2-qwen3-32b"), edit=edit)
    assert max_num_seqs(rendered) == 64
    assert threshold(alerts(rendered)["VllmRequestsRunningHigh"]["expr"]) == pytest.approx(51.2)


def test_thresholds_come_from_values(tmp_path):
    rendered = render_with(tmp_path, "staging", "llms-v2-qwen3-32b", prometheusRule={
        "waitingRequests": {"threshold": 7, "for": "2m", "severity": "critical"},
        "kvCacheUsage": {"percent": 90},
        "timeToFirstToken": {"p95Seconds": 1.5},
        "timePerOutputToken": {"p95Seconds": 0.05},
        "alertLabels": {"team": "inference"},
    })
    found = alerts(rendered)
    assert threshold(found["VllmRequestsWaitingHigh"]["expr"]) == 7
    assert found["VllmRequestsWaitingHigh"]["for"] == "2m"
    assert found["VllmRequestsWaitingHigh"]["labels"] == {"severity": "critical", "team": "inference"}
    assert threshold(found["VllmKVCacheUsageHigh"]["expr"]) == pytest.approx(0.90)
    assert threshold(found["VllmTimeToFirstTokenHigh"]["expr"]) == pytest.approx(1.5)
    assert threshold(found["VllmTimePerOutputTokenHigh"]["expr"]) == pytest.approx(0.05)


def test_the_throughput_alert_renders_once_a_baseline_is_configured_and_fires_20_percent_below_it(tmp_path):
    rendered = render_with(tmp_path, "production-jp", "llms-v2-qwen3-32b",
                           prometheusRule={"generationThroughput": {"baselineTokensPerSecond": 1500}})
    rule = alerts(rendered)["VllmGenerationThroughputLow"]
    assert threshold(rule["expr"]) == pytest.approx(1200)
    assert metrics.metric_names(rule["expr"]) == ["vllm:generation_tokens_total", "vllm:num_requests_running"]
    assert metrics.metric_problems(rendered) == []


@pytest.mark.parametrize("tag", [*(f"v{version}" for version in CATALOGUED), f"v{CATALOGUED[-1]}-cu128"])
def test_the_renamed_metrics_follow_the_releases_image_tag(tmp_path, tag):
    """Each alert reads the series vllm-versions.yaml names for the release's version, one its catalog exports
    unhidden (gpu_cache_usage_perc and time_per_output_token_seconds are hidden, then gone, in later versions)."""
    rendered = render_with(tmp_path, "staging", "llms-v2-qwen3-32b", image={"tag": tag})
    names = vllm_versions.facts(tag)["metrics"]
    found = alerts(rendered)
    assert metrics.metric_names(found["VllmKVCacheUsageHigh"]["expr"]) == [names["kvCacheUsage"]]
    assert metrics.metric_names(found["VllmTimePerOutputTokenHigh"]["expr"]) == [names["tpotBucket"]]
    exported = metrics.series(tag)
    for purpose, name in names.items():
        assert name in exported and not exported[name].hidden, f"image {tag}: {purpose} {name}"
    assert metrics.metric_problems(rendered) == [], f"image {tag}"


def with_alert_expr(rendered: harness.Rendered, alert: str, expr: str) -> harness.Rendered:
    edited = harness.Rendered(rendered.release, copy.deepcopy(rendered.documents), rendered.manifest)
    for rule in edited.one("PrometheusRule")["spec"]["groups"][0]["rules"]:
        if rule["alert"] == alert:
            rule["expr"] = expr
    return edited


def test_an_alert_reading_a_metric_absent_from_the_releases_vllm_version_is_reported_naming_metric_and_version():
    rendered = rendered_release("production-jp", "llms-v2-qwen3-32b")
    assert metrics.image_tag(rendered) == "v0.10.2"
    broken = with_alert_expr(rendered, "VllmTimePerOutputTokenHigh",
                             'histogram_quantile(0.95, sum by (le) (rate(vllm:request_time_per_output_token_seconds_bucket'
                             '{namespace="llms", model_name="Qwen3-32B"}[5m]))) > 0.15')
    assert metrics.metric_problems(broken) == [
        "environment production-jp, release llms-v2-qwen3-32b (environments/production-jp/language/qwen3-32b.yaml): "
        "PrometheusRule alert VllmTimePerOutputTokenHigh reads vllm:request_time_per_output_token_seconds_bucket, "
        "which does not exist in vLLM v0.10.2 (src/vllm_models/data/vllm/v0.10.2.json)"]


def hiding(metric: str) -> str:
    """A catalogued version that exports `metric` hidden."""
    return next(v for v in CATALOGUED if vllm_args.load_catalog(v)["metrics"].get(metric, {}).get("hidden"))


def lacking(metric: str) -> str:
    return next(v for v in CATALOGUED if metric not in vllm_args.load_catalog(v)["metrics"])


def test_an_alert_reading_a_metric_its_vllm_version_hides_is_reported(tmp_path):
    version = hiding("vllm:gpu_cache_usage_perc")
    rendered = render_with(tmp_path, "staging", "llms-v2-qwen3-32b", image={"tag": f"v{version}"})
    broken = with_alert_expr(rendered, "VllmKVCacheUsageHigh", 'max(vllm:gpu_cache_usage_perc{namespace="llms", model_name="Qwen3-32B"}) > 0.95')
    assert metrics.metric_problems(broken) == [
        "environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): "
        f"PrometheusRule alert VllmKVCacheUsageHigh reads vllm:gpu_cache_usage_perc, which is hidden in vLLM v{version} "
        f"(exported only with --show-hidden-metrics-for-version; src/vllm_models/data/vllm/v{version}.json)"]


@pytest.mark.parametrize("metric", ["vllm:gpu_cache_usage_perc", "vllm:time_per_output_token_seconds"])
def test_an_alert_reading_a_metric_a_later_version_removed_is_reported_naming_that_version(tmp_path, metric):
    version = lacking(metric)
    rendered = render_with(tmp_path, "staging", "llms-v2-qwen3-32b", image={"tag": f"v{version}"})
    series = vllm_args.load_catalog(hiding(metric) if metric.endswith("perc") else CATALOGUED[0])["metrics"][metric]["series"][0]
    broken = with_alert_expr(rendered, "VllmKVCacheUsageHigh", f'max({series}{{namespace="llms"}}) > 0.95')
    assert metrics.metric_problems(broken) == [
        "environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): "
        f"PrometheusRule alert VllmKVCacheUsageHigh reads {series}, which does not exist in vLLM v{version} "
        f"(src/vllm_models/data/vllm/v{version}.json)"]


def test_an_alert_that_does_not_parse_is_reported_with_its_expression():
    rendered = rendered_release("staging", "llms-v2-qwen3-32b")
    broken = with_alert_expr(rendered, "VllmRequestsWaitingHigh", "sum by (namespace (vllm:num_requests_waiting) > 100")
    [problem] = metrics.metric_problems(broken)
    assert problem.startswith("environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): "
                              "PrometheusRule alert VllmRequestsWaitingHigh: PromQL does not parse (")
    assert problem.endswith("): sum by (namespace (vllm:num_requests_waiting) > 100")


def test_a_release_on_a_vllm_version_without_a_catalog_is_refused_with_the_command_that_generates_one(tmp_path):
    rendered = render_with(tmp_path, "staging", "llms-v2-qwen3-32b", image={"tag": "v0.9.2"})
    with pytest.raises(metrics.CatalogMissing) as missing:
        metrics.metric_problems(rendered)
    assert "no vLLM catalog for image tag v0.9.2 (src/vllm_models/data/vllm/v0.9.2.json is missing" in str(missing.value)
    assert "generate it with `make generate-vllm-catalog VLLM=0.9.2`" in str(missing.value)


def test_every_prometheusrule_validates_against_the_prometheus_operator_crd(rendered):
    for rule in rendered.objects("PrometheusRule"):
        assert kube_validate.crd_violations(rule) == [], metrics.where(rendered)


def test_the_crd_check_reports_a_rule_without_an_expression():
    rule = copy.deepcopy(rendered_release("staging", "llms-v2-qwen3-32b").one("PrometheusRule"))
    del rule["spec"]["groups"][0]["rules"][0]["expr"]
    assert kube_validate.crd_violations(rule) == [
        "PrometheusRule llms-v2-qwen3-32b: spec.groups.0.rules.0: 'expr' is a required property"]
