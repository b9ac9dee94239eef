"""The release's alerts, evaluated by Prometheus's own promtool.

`check(env, renders)` runs `promtool check rules` once over every PrometheusRule of an environment and
names the environment, release and rule of each problem. `unit_tests(rendered)` writes, for every alert
of a release, a `promtool test rules` case in which synthetic series make it fire (its labels and
expanded annotations checked) and one in which it stays silent; `run_unit_tests` runs them. The series
come from the alert's own expression (parsed with a PromQL parser): a gauge above or below its
threshold, a histogram whose p95 lies above or below it, a counter rising faster or slower than it, so
they follow the chart when a threshold, a metric name (per vLLM version) or a selector changes.
"""
from __future__ import annotations

import dataclasses
import math
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import promql_parser
import yaml

from . import toolchain
from . import render as harness

STEP = "1m"  # one sample a minute


# libyaml's emitter: a fleet's rules files are written on every verify, and PyYAML's own is ten times slower.
SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class AlertsError(Exception):
    """promtool could not run, or an alert has a shape the generator cannot drive."""


def rule_groups(rendered: harness.Rendered) -> list[dict]:
    return [group for rule in rendered.objects("PrometheusRule") for group in rule["spec"].get("groups") or []]


def rules_yaml(rendered: harness.Rendered) -> str | None:
    """The release's rule groups as a Prometheus rules file (what the operator's PrometheusRule becomes)."""
    groups = rule_groups(rendered)
    return yaml.dump({"groups": groups}, Dumper=SafeDumper, sort_keys=False) if groups else None


def rules_name(rendered: harness.Rendered) -> str:
    """The rules file's name: promtool prefixes each problem with it, so it says environment and release."""
    return f"{rendered.release.environment or 'chart'}-{rendered.release.name}.rules.yaml"


def rules_file(rendered: harness.Rendered, folder: Path) -> Path | None:
    """rules_yaml written to folder under rules_name; None when the release has no rules."""
    text = rules_yaml(rendered)
    if text is None:
        return None
    path = folder / rules_name(rendered)
    path.write_text(text)
    return path


def promtool(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [toolchain.tool("promtool"), *arguments]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=toolchain.tool_env())


def check(env: str, renders: Sequence[harness.Rendered]) -> list[str]:
    """`promtool check rules` over every PrometheusRule of the environment, in one process. The answer is
    cached by the rules, the releases they belong to and the promtool binary: unchanged rules are written
    and checked once."""
    rules = [(rendered, text) for rendered in renders if (text := rules_yaml(rendered)) is not None]
    if not rules:
        return []
    key = "promtool-check-rules-" + harness.digest(
        env, harness.binary_identity(toolchain.tool("promtool")),
        *(f"{harness.where(r)}\0{[o['metadata']['name'] for o in r.objects('PrometheusRule')]}\0{text}"
          for r, text in rules))
    return harness.cached(key, lambda: _check_files(env, rules))


def _check_files(env: str, rules: list[tuple[harness.Rendered, str]]) -> list[str]:
    files = {}
    with tempfile.TemporaryDirectory(prefix="vllm-models-rules-") as tmp:
        for rendered, text in rules:
            name = rules_name(rendered)
            files[name] = rendered
            (Path(tmp) / name).write_text(text)
        result = promtool("check", "rules", *sorted(files), cwd=Path(tmp))
    if result.returncode == 0:
        return []
    output = result.stdout + result.stderr
    problems = []
    for name, rendered in files.items():
        reported = [line.split(": ", 1)[1] for line in output.splitlines() if line.startswith(f"{name}: ")]
        if reported:
            rule = rendered.one("PrometheusRule")["metadata"]["name"]
            problems.append(f"{harness.where(rendered)}: promtool check rules refuses PrometheusRule {rule}: "
                            f"{'; '.join(reported)}; fix the alert's values (prometheusRule.*) or the chart's "
                            f"expression")
    return problems or [f"environment {env}: promtool check rules failed: {output.strip()}"]


# --- Unit tests ---------------------------------------------------------------------------------------

def duration_minutes(text: str) -> int:
    units = {"s": 1 / 60, "m": 1, "h": 60, "d": 1440}
    return math.ceil(sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smhd])", text)))


@dataclasses.dataclass(frozen=True)
class Shape:
    """What an alert compares: its series, their fixed labels, the comparison and the threshold."""
    kind: str  # "gauge", "histogram" or "counter"
    metric: str
    labels: dict
    above: bool  # fires above the threshold (else below)
    threshold: float
    window_minutes: int = 5
    gate: tuple[str, dict] | None = None  # a second gauge that must be > 0 (`and on (...) sum(x) > 0`)


def _selector(node) -> tuple[str, dict]:
    """The metric name and equality matchers of the one vector selector under `node`."""
    found = []

    def walk(n) -> None:
        kind = type(n).__name__
        if kind == "VectorSelector":
            found.append(n)
            return
        for attribute in ("expr", "lhs", "rhs", "args", "matrix", "vector_selector"):
            child = getattr(n, attribute, None)
            if isinstance(child, list):
                for item in child:
                    walk(item)
            elif child is not None and not isinstance(child, (str, int, float)):
                walk(child)
    walk(node)
    if len(found) != 1:
        raise AlertsError(f"expected one series selector, found {len(found)}")
    selector = found[0]
    labels = {m.name: m.value for m in selector.matchers.matchers if m.name != "__name__"}
    return selector.name, labels


def shape_of(expression: str) -> Shape:
    """Recognise the chart's three alert shapes from the parsed expression."""
    tree = promql_parser.parse(expression)
    if type(tree).__name__ == "BinaryExpr" and str(tree.op) in ("and", "TokenType.LAND") or " and on " in expression:
        left, right = expression.split(" and on ", 1)
        base = shape_of(left)
        gate_expr = right.split(")", 1)[1].strip()
        gate_metric, gate_labels = _selector(promql_parser.parse(gate_expr.rsplit(">", 1)[0]))
        return dataclasses.replace(base, gate=(gate_metric, gate_labels))
    match = re.search(r"\s([<>])\s*([0-9.eE+-]+)\s*$", expression)
    if not match:
        raise AlertsError(f"{expression}: no `> N` or `< N` threshold at the end")
    above, threshold = match.group(1) == ">", float(match.group(2))
    metric, labels = _selector(tree)
    window = re.search(r"\[(\d+[smhd])\]", expression)
    minutes = duration_minutes(window.group(1)) if window else 5
    if expression.startswith("histogram_quantile("):
        return Shape("histogram", metric, labels, above, threshold, minutes)
    if "rate(" in expression:
        return Shape("counter", metric, labels, above, threshold, minutes)
    return Shape("gauge", metric, labels, above, threshold, minutes)


def _labels_text(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def series(shape: Shape, firing: bool, minutes: int, pod: str) -> list[dict]:
    """Input series for promtool: the alert's condition holds (firing) or fails throughout `minutes`."""
    labels = {**shape.labels, "pod": pod}
    satisfied = firing == shape.above  # the value lies above the threshold
    found = []
    if shape.kind == "gauge":
        value = shape.threshold + 1 if satisfied else max(shape.threshold - 1, 0)
        if 0 < shape.threshold < 1:
            value = min(1.0, shape.threshold + 0.02) if satisfied else shape.threshold / 2
        found.append({"series": f"{shape.metric}{_labels_text(labels)}", "values": f"{value}x{minutes}"})
    elif shape.kind == "counter":  # per second: rate = increase per minute / 60
        per_minute = (shape.threshold * 2 if satisfied else shape.threshold / 2) * 60
        found.append({"series": f"{shape.metric}{_labels_text(labels)}", "values": f"0+{per_minute}x{minutes}"})
    else:  # histogram: every observation in one bucket, below or above the threshold
        low, high = shape.threshold / 2, shape.threshold * 2
        for le, counted in ((low, not satisfied), (high, True), ("+Inf", True)):
            bucket = {**labels, "le": str(le)}
            found.append({"series": f"{shape.metric}{_labels_text(bucket)}",
                          "values": f"0+{60 if counted else 0}x{minutes}"})
    if shape.gate:
        metric, gate_labels = shape.gate
        found.append({"series": f"{metric}{_labels_text({**gate_labels, 'pod': pod})}", "values": f"3x{minutes}"})
    return found


def humanize(value: float) -> str:
    """Prometheus's `humanize`: four significant digits and an SI prefix (template_funcs in prometheus/template)."""
    if value == 0 or math.isnan(value) or math.isinf(value):
        return f"{value:.4g}"
    prefix = ""
    if abs(value) >= 1:
        for candidate in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(value) < 1000:
                break
            prefix, value = candidate, value / 1000
    else:
        for candidate in ("m", "u", "n", "p", "f", "a", "z", "y"):
            if abs(value) >= 1:
                break
            prefix, value = candidate, value * 1000
    return f"{value:.4g}{prefix}"


def expand(template: str, labels: Mapping[str, str], value: float) -> str:
    """Prometheus's expansion of the template forms the chart's annotations use."""
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), template)
    text = text.replace("{{ $value | humanizePercentage }}", f"{value * 100:.4g}%")
    return text.replace("{{ $value | humanize }}", humanize(value))


def expected_value(shape: Shape, minutes: int) -> float:
    """The value the alert's expression has while it fires on `series(firing=True)`."""
    if shape.kind == "gauge":
        if 0 < shape.threshold < 1:
            return min(1.0, shape.threshold + 0.02)
        return shape.threshold + 1
    if shape.kind == "counter":
        return shape.threshold * 2 if shape.above else shape.threshold / 2
    # every observation lies in the (threshold / 2, 2 x threshold] bucket: p95 interpolates inside it
    low, high = shape.threshold / 2, shape.threshold * 2
    return low + (high - low) * 0.95


def unit_tests(rendered: harness.Rendered, rules_name: str) -> dict:
    """A promtool test file: for each alert, one test where it fires and one where it stays silent."""
    tests = []
    pod = f"{rendered.release.name}-0"
    for group in rule_groups(rendered):
        for rule in group.get("rules") or []:
            if "alert" not in rule:
                continue
            shape = shape_of(rule["expr"])
            hold = duration_minutes(str(rule.get("for", "0m")))
            minutes = hold + shape.window_minutes + 5
            at = f"{minutes - 1}m"
            grouping = {k: v for k, v in {**shape.labels, "pod": pod}.items()
                        if k in grouping_labels(rule["expr"])}
            labels = {**rule.get("labels", {}), **grouping}
            value = expected_value(shape, minutes)
            annotations = {key: expand(text, grouping, value) for key, text in (rule.get("annotations") or {}).items()}
            tests.append({"name": f"{rule['alert']} fires", "interval": STEP,
                          "input_series": series(shape, True, minutes, pod),
                          "alert_rule_test": [{"eval_time": at, "alertname": rule["alert"],
                                               "exp_alerts": [{"exp_labels": labels, "exp_annotations": annotations}]}]})
            tests.append({"name": f"{rule['alert']} stays silent", "interval": STEP,
                          "input_series": series(shape, False, minutes, pod),
                          "alert_rule_test": [{"eval_time": at, "alertname": rule["alert"], "exp_alerts": []}]})
    return {"rule_files": [rules_name], "evaluation_interval": STEP, "tests": tests}


def grouping_labels(expression: str) -> set[str]:
    """The labels the outer aggregation keeps (`max by (namespace, model_name, pod) (...)`)."""
    match = re.match(r"\s*(?:histogram_quantile\(\s*[0-9.]+\s*,\s*)?\w+ by \(([^)]*)\)", expression)
    return {label.strip() for label in match.group(1).split(",")} - {"le"} if match else set()


def run_unit_tests(rendered: harness.Rendered) -> tuple[int, str]:
    """Write the release's rules and unit tests, run `promtool test rules`; (alerts tested, failures text)."""
    with tempfile.TemporaryDirectory(prefix="vllm-models-alerts-") as tmp:
        rules = rules_file(rendered, Path(tmp))
        if rules is None:
            return 0, ""
        tests = unit_tests(rendered, rules.name)
        test_file = Path(tmp) / "tests.yaml"
        test_file.write_text(yaml.safe_dump(tests, sort_keys=False, width=1000))
        result = promtool("test", "rules", test_file.name, cwd=Path(tmp))
    count = len(tests["tests"]) // 2
    return count, "" if result.returncode == 0 else (result.stdout + result.stderr).strip()


def alerts_of(renders: Iterable[harness.Rendered]) -> list[str]:
    return [rule["alert"] for rendered in renders for group in rule_groups(rendered)
            for rule in group.get("rules") or [] if "alert" in rule]
