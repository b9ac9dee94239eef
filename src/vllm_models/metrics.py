"""vLLM's Prometheus metrics, per vLLM version, and the checks that the chart only queries real ones.

vLLM renames metrics between releases (gpu_cache_usage_perc became kv_cache_usage_perc, then
the old name was hidden), so a query that works for one image tag silently returns nothing for
another. `data/vllm/<tag>.json` catalogs the metrics each vLLM version defines (generated from
the vllm package itself, see its `provenance`); every PromQL expression the chart renders, in
alerts, the dashboard and the autoscaler, is parsed with a real PromQL parser (promql-parser)
and each metric it reads is looked up in the catalog of the release's image tag.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Iterable

import promql_parser

from . import toolchain
from . import render as harness
from .render import where

DATA_DIR = Path(__file__).parent / "data"
CATALOG_DIR = DATA_DIR / "vllm"

# Grafana expands these before a query reaches Prometheus; the values only need to be valid PromQL.
GRAFANA_BUILTINS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}


class CatalogMissing(LookupError):
    """No catalog for a vLLM version: its metrics cannot be checked until one is generated."""


@dataclasses.dataclass(frozen=True)
class Series:
    """One series name Prometheus scrapes from vLLM, and the metric that exports it."""

    name: str
    metric: str
    type: str
    hidden: bool
    deprecated: bool


def catalog_version(tag: str) -> str:
    """The vLLM version an image tag runs: `v0.11.0-cu128` runs v0.11.0 (the suffix names a build variant)."""
    return tag.split("-", 1)[0]


def catalog_path(tag: str) -> Path:
    return CATALOG_DIR / f"{catalog_version(tag)}.json"


def catalog_label(tag: str) -> str:
    path = catalog_path(tag)
    return str(path.relative_to(toolchain.ROOT)) if path.is_relative_to(toolchain.ROOT) else str(path)


@functools.lru_cache(maxsize=None)
def catalog(tag: str) -> dict:
    path = catalog_path(tag)
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in CATALOG_DIR.glob("v*.json"))) or "none"
        raise CatalogMissing(
            f"no vLLM catalog for image tag {tag} ({catalog_label(tag)} is missing; catalogs exist for: {known}); "
            f"generate it with `make generate-vllm-catalog VLLM={catalog_version(tag).lstrip('v')}`")
    return json.loads(path.read_text())


@functools.lru_cache(maxsize=None)
def series(tag: str) -> dict[str, Series]:
    """Every series name the vLLM of `tag` can export (counters end in _total, histograms in
    _bucket/_sum/_count, as the catalog lists them), hidden ones included and marked."""
    found = {}
    for metric, entry in catalog(tag)["metrics"].items():
        for name in entry["series"]:
            found[name] = Series(name, metric, entry["type"], bool(entry.get("hidden")), bool(entry.get("deprecated")))
    return found


def parse(expr: str) -> promql_parser.Expr:
    """Parse PromQL; a syntax error raises ValueError carrying the expression."""
    try:
        return promql_parser.parse(expr)
    except ValueError as error:
        raise ValueError(f"PromQL does not parse ({error}): {expr}") from None


def selectors(tree: promql_parser.Expr) -> list[promql_parser.VectorSelector]:
    """Every vector selector of a parsed expression, including those inside range selectors and subqueries."""
    found: list[promql_parser.VectorSelector] = []
    promql_parser.walk(tree, pre_visit=lambda node: found.append(node) if isinstance(node, promql_parser.VectorSelector) else None)
    return found


def selector_metric(selector: promql_parser.VectorSelector) -> str:
    """The metric a selector reads, from its name or an exact `__name__` matcher."""
    if selector.name:
        return selector.name
    for matcher in selector.matchers.matchers:
        if matcher.name == "__name__":
            if matcher.op != promql_parser.MatchOp.Equal:
                raise ValueError(f"selector {selector} matches __name__ with {matcher}: name the metric exactly so it can be checked")
            return matcher.value
    raise ValueError(f"selector {selector} names no metric")


def metric_names(expr: str) -> list[str]:
    """Metrics an expression reads, in order of appearance, each once."""
    names: list[str] = []
    for selector in selectors(parse(expr)):
        name = selector_metric(selector)
        if name not in names:
            names.append(name)
    return names


def label_matchers(selector: promql_parser.VectorSelector) -> dict[str, str]:
    """The selector's equality matchers as {label: value} (other operators left out)."""
    return {m.name: m.value for m in selector.matchers.matchers if m.op == promql_parser.MatchOp.Equal}


def series_problems(expr: str, tag: str) -> list[str]:
    """Why the vLLM of `tag` would leave an expression without data: metrics it does not export by default."""
    known = series(tag)
    problems = []
    for name in metric_names(expr):
        if name not in known:
            problems.append(f"{name}, which does not exist in vLLM {catalog_version(tag)} ({catalog_label(tag)})")
        elif known[name].hidden:
            problems.append(f"{name}, which is hidden in vLLM {catalog_version(tag)} (exported only with "
                            f"--show-hidden-metrics-for-version; {catalog_label(tag)})")
    return problems


def deprecated_metrics(expr: str, tag: str) -> list[str]:
    """Metrics of an expression the vLLM of `tag` marks DEPRECATED (the next release hides them)."""
    known = series(tag)
    return [name for name in metric_names(expr) if name in known and known[name].deprecated]


def grafana_query(expr: str, variables: dict[str, str]) -> str:
    """A Grafana query as Prometheus receives it: `$name` and `${name}` replaced by the given values."""
    values = {**GRAFANA_BUILTINS, **variables}
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    return expr


def label_values_selector(query: str) -> str:
    """The selector of a Grafana `label_values(<selector>, <label>)` variable query, as PromQL."""
    function = promql_parser.Function("label_values", [promql_parser.ValueType.Vector, promql_parser.ValueType.Vector],
                                      promql_parser.ValueType.Vector)
    promql_parser.register_extra_functions([function])
    try:
        tree = parse(query)
    finally:
        promql_parser.clear_extra_functions()
    if not (isinstance(tree, promql_parser.Call) and tree.func.name == "label_values" and len(tree.args) == 2):
        raise ValueError(f"Grafana variable query is not label_values(<selector>, <label>): {query}")
    return str(tree.args[0])


def image_tag(rendered) -> str:
    """The vLLM image tag the release's workload (Deployment, or a group's leader) runs."""
    return harness.image_tag(rendered.container()["image"])


def rule_expressions(rendered) -> list[tuple[str, str]]:
    """(alert name, expression) of every rule the release's PrometheusRules define."""
    return [(rule.get("alert") or rule.get("record", ""), rule["expr"])
            for obj in rendered.objects("PrometheusRule")
            for group in obj["spec"]["groups"] for rule in group["rules"]]


def dashboard_queries(dashboard: dict) -> list[tuple[str, str]]:
    """(where, query) of every Prometheus query a Grafana dashboard runs: panel targets and variables."""
    queries = []
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if "expr" in target:
                queries.append((f"panel {panel.get('title')!r} target {target.get('refId')}", target["expr"]))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            queries.append((f"variable {variable['name']}", label_values_selector(query)))
    return queries


def _panels(panels: list[dict]) -> Iterable[dict]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboards(rendered) -> list[tuple[str, dict]]:
    """(ConfigMap name/key, dashboard) of every Grafana dashboard the release ships; invalid JSON raises."""
    found = []
    for config_map in rendered.objects("ConfigMap"):
        for key, text in (config_map.get("data") or {}).items():
            if key.endswith(".json"):
                try:
                    found.append((f"{config_map['metadata']['name']}/{key}", json.loads(text)))
                except json.JSONDecodeError as error:
                    raise ValueError(f"{where(rendered)}: ConfigMap {config_map['metadata']['name']} key {key} "
                                     f"is not valid JSON: {error}") from None
    return found


def dashboard_variables(rendered) -> dict[str, str]:
    """Values that stand in for the dashboard's variables when its queries are checked: this release's own."""
    workload = rendered.workload().object
    return {"datasource": "prometheus", "namespace": workload["metadata"]["namespace"],
            "model_name": workload["metadata"]["annotations"]["vllm-models.io/served-model-name"]}


def scaler_queries(rendered) -> list[tuple[str, str]]:
    """(trigger name, query) of every Prometheus trigger of the release's KEDA ScaledObjects."""
    return [(trigger.get("name", trigger["type"]), trigger["metadata"]["query"])
            for obj in rendered.objects("ScaledObject")
            for trigger in obj["spec"]["triggers"] if trigger["type"] == "prometheus"]


def queries(rendered) -> list[tuple[str, str]]:
    """(where, PromQL) of every query the release ships: alerts, dashboard panels and variables, autoscaler triggers."""
    found = [(f"PrometheusRule alert {alert}", expr) for alert, expr in rule_expressions(rendered)]
    for name, dashboard in dashboards(rendered):
        variables = dashboard_variables(rendered)
        found += [(f"dashboard {name} {place}", grafana_query(expr, variables)) for place, expr in dashboard_queries(dashboard)]
    found += [(f"ScaledObject trigger {trigger}", expr) for trigger, expr in scaler_queries(rendered)]
    return found


def metric_problems(rendered) -> list[str]:
    """Every query of the release that does not parse, or reads a metric its vLLM version does not export."""
    tag = image_tag(rendered)
    problems = []
    for place, expr in queries(rendered):
        try:
            for problem in series_problems(expr, tag):
                problems.append(f"{where(rendered)}: {place} reads {problem}")
        except ValueError as error:
            problems.append(f"{where(rendered)}: {place}: {error}")
    return problems


def monitoring_on(release, key: str) -> bool:
    """Whether `helm template` renders the monitoring object `key` (serviceMonitor, prometheusRule,
    dashboard) for a release: its own `enabled`, else `global.monitoring.enabled`, where `auto`
    is off because helm template sees no cluster."""
    values = release.values()
    own = (values.get(key) or {}).get("enabled")
    if isinstance(own, bool):
        return own
    return ((values.get("global") or {}).get("monitoring") or {}).get("enabled", "auto") is True
