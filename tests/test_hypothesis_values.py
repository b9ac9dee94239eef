"""Property tests over values.schema.json: nothing the schema accepts may render a broken release.

Every generated values file either renders objects that the official Kubernetes schemas, the API
server's own rules (below) and every per-release check of `vllm-models verify` accept, or is
refused by a chart `fail` that starts with "vllm-models: " and names the key. Values come from
tests/strategies.py. The run is bounded and reproducible (profile `vllm-models-ci`: a fixed
example budget, a deadline per example, derandomized); a failure shrinks to a minimal values file,
printed as YAML in the assertion message. `HYPOTHESIS_PROFILE=vllm-models-deep` explores more.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings

from charts import render_chart
import strategies
from vllm_models import toolchain, values_check, verify
from vllm_models import render as harness

settings.register_profile(
    "vllm-models-ci", max_examples=60, deadline=datetime.timedelta(seconds=10), derandomize=True,
    database=None, print_blob=False, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "vllm-models-deep", max_examples=1000, deadline=datetime.timedelta(seconds=10), derandomize=False,
    database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "vllm-models-ci"))

ENVIRONMENT = "hypothesis"  # not a fleet environment: the chart alone is under test
VALUES_LABEL = "generated values.yaml"

pytestmark = pytest.mark.slow


# --- what the API server checks beyond the OpenAPI schemas ------------------------------------

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
QUANTITY = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
SYSCTL = re.compile(r"^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$")
PERCENT = re.compile(r"^[0-9]+%$")
ENV_FIELD_PATH = re.compile(r"^(metadata\.(name|namespace|uid)|metadata\.(labels|annotations)\['[^']+'\]"
                            r"|spec\.(nodeName|serviceAccountName)|status\.(hostIP|hostIPs|podIP|podIPs))$")
DIVISORS = {True: {"1m", "1"}, False: {"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}}
INT32_MAX = 2**31 - 1
# int64 fields and quantities: the only integers in the chart's objects that may exceed int32
WIDE_INTEGERS = re.compile(r"(terminationGracePeriodSeconds|tolerationSeconds|activeDeadlineSeconds)$"
                           r"|\.(limits|requests)\.[^.]+$|sizeLimit$")


def _subdomain(value: str) -> bool:
    return len(value) <= 253 and bool(DNS_SUBDOMAIN.match(value))


def _qualified_name(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    return (not prefix or _subdomain(prefix)) and len(name) <= 63 and bool(NAME_PART.match(name))


def _label_problems(where: str, labels: dict) -> list[str]:
    return [f"{where}: label {key}={value!r} is not a valid label (keys: qualified names; values: at most "
            f"63 characters of [A-Za-z0-9-_.], alphanumeric at both ends)"
            for key, value in (labels or {}).items()
            if not _qualified_name(str(key)) or not isinstance(value, str) or len(value) > 63
            or not LABEL_VALUE.match(value)]


def _int_or_percent(where: str, value, *, at_most_100: bool) -> list[str]:
    if isinstance(value, int):
        return [] if value >= 0 else [f"{where}: {value} is negative"]
    if not isinstance(value, str) or not PERCENT.match(value):
        return [f"{where}: {value!r} must be an integer or a percentage such as 25%"]
    if at_most_100 and int(value[:-1]) > 100:
        return [f"{where}: {value} exceeds 100%"]
    return []


def _walk(node, path: str):
    yield path, node
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _walk(child, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _walk(child, f"{path}[{index}]")


def _selector_problems(where: str, selector: dict) -> list[str]:
    problems = _label_problems(where, selector.get("matchLabels"))
    for expression in selector.get("matchExpressions", []):
        values, operator = expression.get("values", []), expression["operator"]
        if not _qualified_name(expression["key"]):
            problems.append(f"{where}: matchExpressions key {expression['key']!r} is not a qualified name")
        if operator in ("In", "NotIn") and not values:
            problems.append(f"{where}: matchExpressions {operator} needs values")
        if operator in ("Exists", "DoesNotExist") and values:
            problems.append(f"{where}: matchExpressions {operator} must have no values")
        problems += _label_problems(where, {expression["key"]: v for v in values})
    return problems


def _profile_problems(where: str, context: dict) -> list[str]:
    problems = []
    for field in ("seccompProfile", "appArmorProfile"):
        profile = context.get(field)
        if profile and (profile["type"] == "Localhost") != bool(profile.get("localhostProfile")):
            problems.append(f"{where}: {field}.localhostProfile must be set exactly when type is Localhost")
    return problems


def _pod_problems(where: str, spec: dict) -> list[str]:
    problems = _label_problems(f"{where} spec.nodeSelector", spec.get("nodeSelector"))
    for field in ("serviceAccountName", "priorityClassName", "runtimeClassName"):
        if field in spec and not _subdomain(str(spec[field])):
            problems.append(f"{where}: spec.{field} {spec[field]!r} is not a DNS subdomain name")
    context = spec.get("securityContext", {})
    problems += _profile_problems(f"{where} spec.securityContext", context)
    sysctls = [s["name"] for s in context.get("sysctls", [])]
    problems += [f"{where}: sysctl {n!r} is not a sysctl name" for n in sysctls if not SYSCTL.match(n)]
    problems += [f"{where}: sysctl {n} is set twice" for n in sorted({n for n in sysctls if sysctls.count(n) > 1})]
    for toleration in spec.get("tolerations", []):
        key, operator = toleration.get("key", ""), toleration.get("operator", "Equal")
        if key and not _qualified_name(key):
            problems.append(f"{where}: toleration key {key!r} is not a qualified name")
        if not key and operator != "Exists":
            problems.append(f"{where}: a toleration without key needs operator Exists")
        if operator == "Exists" and toleration.get("value"):
            problems.append(f"{where}: a toleration with operator Exists must have no value")
        if "tolerationSeconds" in toleration and toleration.get("effect") != "NoExecute":
            problems.append(f"{where}: tolerationSeconds needs effect NoExecute")
    seen_spread = set()
    for constraint in spec.get("topologySpreadConstraints", []):
        pair = (constraint["topologyKey"], constraint["whenUnsatisfiable"])
        if pair in seen_spread:
            problems.append(f"{where}: two topology spread constraints on {pair}")
        seen_spread.add(pair)
        if not _qualified_name(constraint["topologyKey"]):
            problems.append(f"{where}: topologyKey {constraint['topologyKey']!r} is not a qualified name")
        if "minDomains" in constraint and constraint["whenUnsatisfiable"] != "DoNotSchedule":
            problems.append(f"{where}: minDomains needs whenUnsatisfiable DoNotSchedule")
        selector = constraint.get("labelSelector") or {}
        problems += _selector_problems(f"{where} topologySpreadConstraints", selector)
        for key in constraint.get("matchLabelKeys", []):
            if not _qualified_name(key) or key in selector.get("matchLabels", {}):
                problems.append(f"{where}: matchLabelKeys {key!r} must be a qualified name not in the labelSelector")
    for volume in spec.get("volumes", []):
        path = volume.get("hostPath", {}).get("path")
        if path is not None and (not path or ".." in path.split("/")):
            problems.append(f"{where}: volume {volume['name']} hostPath.path {path!r} must be non-empty without '..'")
        size = volume.get("emptyDir", {}).get("sizeLimit")
        if size is not None and not QUANTITY.match(str(size)):
            problems.append(f"{where}: volume {volume['name']} emptyDir.sizeLimit {size!r} is not a quantity")
    for container in spec.get("containers", []):
        name = f"{where}: container {container['name']}"
        problems += _profile_problems(name, container.get("securityContext", {}))
        mounts = [m["mountPath"] for m in container.get("volumeMounts", [])]
        problems += [f"{name} mounts two volumes at {m}" for m in sorted({m for m in mounts if mounts.count(m) > 1})]
        for side in ("limits", "requests"):
            for resource, quantity in container.get("resources", {}).get(side, {}).items():
                if not QUANTITY.match(str(quantity)):
                    problems.append(f"{name} resources.{side}.{resource} {quantity!r} is not a quantity")
        for variable in container.get("env", []):
            if "value" in variable and "valueFrom" in variable:
                problems.append(f"{name} env {variable['name']} has both value and valueFrom")
            source = variable.get("valueFrom", {})
            for ref in ("secretKeyRef", "configMapKeyRef"):
                key = source.get(ref, {}).get("key")
                if key is not None and (not CONFIG_KEY.match(key) or key in (".", "..") or len(key) > 253):
                    problems.append(f"{name} env {variable['name']} {ref}.key {key!r} is not a valid key")
            field = source.get("fieldRef", {}).get("fieldPath")
            if field is not None and not ENV_FIELD_PATH.match(field):
                problems.append(f"{name} env {variable['name']} fieldRef.fieldPath {field!r} is not supported")
            resource = source.get("resourceFieldRef")
            if resource and str(resource.get("divisor", "1")) not in DIVISORS[resource["resource"].endswith("cpu")]:
                problems.append(f"{name} env {variable['name']} resourceFieldRef.divisor {resource['divisor']!r} "
                                f"does not fit {resource['resource']}")
    return problems


def apiserver_problems(doc: dict) -> list[str]:
    """Rules the API server enforces that the OpenAPI schemas do not express (names, labels, ranges)."""
    kind, metadata = doc.get("kind", ""), doc.get("metadata", {})
    name = str(metadata.get("name", ""))
    where = f"{kind} {name}"
    problems = []
    if kind == "Service":
        if len(name) > 63 or not DNS_1035_LABEL.match(name):
            problems.append(f"{where}: a Service name must be a DNS-1035 label (a letter first, at most 63)")
    elif not _subdomain(name):
        problems.append(f"{where}: metadata.name is not a DNS subdomain name")
    problems += _label_problems(f"{where} metadata.labels", metadata.get("labels"))
    problems += [f"{where}: annotation key {key!r} is not a qualified name"
                 for key in metadata.get("annotations") or {} if not _qualified_name(str(key))]
    for path, value in _walk(doc, ""):
        if isinstance(value, int) and not isinstance(value, bool) and value > INT32_MAX \
                and not WIDE_INTEGERS.search(path):
            problems.append(f"{where}: {path} = {value} does not fit a 32-bit integer")
        if path.endswith("matchLabels") and isinstance(value, dict):
            problems += _label_problems(f"{where} {path}", value)
    spec = doc.get("spec", {})
    if kind == "Deployment":
        problems += _label_problems(f"{where} spec.template.metadata.labels",
                                    spec["template"]["metadata"].get("labels"))
        problems += _pod_problems(where, spec["template"]["spec"])
        rolling = spec.get("strategy", {}).get("rollingUpdate")
        if rolling:
            unavailable, surge = rolling.get("maxUnavailable", "25%"), rolling.get("maxSurge", "25%")
            problems += _int_or_percent(f"{where} rollingUpdate.maxUnavailable", unavailable, at_most_100=True)
            problems += _int_or_percent(f"{where} rollingUpdate.maxSurge", surge, at_most_100=False)
            if str(unavailable).rstrip("%") == "0" and str(surge).rstrip("%") == "0":
                problems.append(f"{where}: rollingUpdate.maxUnavailable and maxSurge may not both be 0")
    elif kind == "Pod":
        problems += _pod_problems(where, spec)
    elif kind == "Service":
        for port in spec.get("ports", []):
            if "nodePort" in port and not 30000 <= port["nodePort"] <= 32767:
                problems.append(f"{where}: nodePort {port['nodePort']} is outside the default range 30000-32767")
    elif kind == "PodDisruptionBudget":
        for field in ("minAvailable", "maxUnavailable"):
            if field in spec:
                problems += _int_or_percent(f"{where} spec.{field}", spec[field], at_most_100=True)
    elif kind == "HorizontalPodAutoscaler":
        if not 1 <= spec.get("minReplicas", 1) <= spec["maxReplicas"]:
            problems.append(f"{where}: minReplicas {spec.get('minReplicas')} must be 1..maxReplicas {spec['maxReplicas']}")
    elif kind == "PersistentVolumeClaim":
        if "storageClassName" in spec and not _subdomain(spec["storageClassName"]):
            problems.append(f"{where}: spec.storageClassName {spec['storageClassName']!r} is not a DNS subdomain name")
        storage = spec.get("resources", {}).get("requests", {}).get("storage")
        if not QUANTITY.match(str(storage)):
            problems.append(f"{where}: storage request {storage!r} is not a quantity")
    return problems


# --- one generated release --------------------------------------------------------------------

def release_for(values: dict, path: Path) -> harness.Release:
    """The generated values as one release, the way helmfile would define it."""
    path.write_text(json.dumps(values))  # JSON is YAML without type guessing: strings stay strings
    name = f"llms-v2-{values['modelName']}"[:53].rstrip("-")
    category = values.get("modelInfo", {}).get("category", "language")
    return harness.Release(ENVIRONMENT, name, "llms", "charts/vllm-models", True,
                           {"category": category, "model": values["modelName"]},
                           (harness.ValuesSource(VALUES_LABEL, values, path),))


def refused_key(stderr: str) -> str:
    """The values key a chart `fail` names right after "vllm-models: ", or "" when it names none."""
    found = re.search(r"vllm-models: ([A-Za-z0-9_./-]+)", stderr)
    if not found:
        return ""
    words = found.group(1).rstrip(".")
    return next((key for key in sorted(values_check.all_keys(), key=len, reverse=True)
                 if words == key or words.startswith(key + ".")), "")


def schema_problems(values: dict) -> list[str]:
    validator = values_check.StrictTypes(values_check.chart_schema())
    return [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(values)]


def release_problems(rendered: harness.Rendered) -> list[str]:
    """verify's per-release checks (the Kubernetes schemas among them) plus the API server's rules."""
    problems = [str(f) for check in verify.RELEASE_CHECKS for f in check(rendered)]
    return problems + [p for doc in rendered.documents for p in apiserver_problems(doc)]


def judge(values: dict, *, refusal_allowed: bool) -> tuple[str, list[str]]:
    """(outcome, problems) of one generated values file; no problems when it renders a sound release
    or, where allowed, is refused by a `fail` naming a key."""
    problems = schema_problems(values)
    assert not problems, "the generator produced values the schema refuses (a bug in tests/strategies.py):\n" \
                         + "\n".join(problems) + "\n" + yaml.safe_dump(values, sort_keys=False)
    with tempfile.TemporaryDirectory(prefix="vllm-models-hypothesis-") as tmp:
        rel = release_for(values, Path(tmp) / "values.yaml")
        try:
            rendered = render_chart(release=rel, use_cache=False)
        except harness.RenderError as error:
            key = refused_key(error.stderr)
            if refusal_allowed and key:
                return f"refused by the chart: {key}", []
            reason = "refused by the chart" if key else "failed without a `vllm-models: <key>` message"
            return "refused", [f"{reason}:\n{error}"]
    return "rendered", release_problems(rendered)


def report(values: dict, problems: list[str]) -> str:
    return ("these values render a release the cluster or the checks refuse (fix the schema or the template):\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\n--- minimal values file ---\n" + yaml.safe_dump(values, sort_keys=False))


@settings(PROFILE)
@given(values=strategies.coherent_values())
def test_coherent_values_of_every_shape_render_a_release_the_cluster_and_every_check_accept(values):
    outcome, problems = judge(values, refusal_allowed=False)
    event(outcome)
    assert not problems, report(values, problems)


@settings(PROFILE)
@given(values=strategies.perturbed_values())
def test_any_values_the_schema_accepts_render_a_sound_release_or_are_refused_naming_the_key(values):
    outcome, problems = judge(values, refusal_allowed=True)
    event(outcome)
    assert not problems, report(values, problems)


# --- the judge itself: a passing and a failing case for each of its rules -----------------------

def staging_qwen() -> harness.Rendered:
    return render_chart(release=harness.release("staging", "llms-v2-qwen3-32b"))


def test_a_fleet_release_passes_every_api_server_rule():
    assert [p for doc in staging_qwen().documents for p in apiserver_problems(doc)] == []


def pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def vllm(doc: dict) -> dict:
    return pod_spec(doc)["containers"][0]


API_SERVER_CASES = {  # rule: (kind, edit of staging's qwen3-32b object, expected problem)
    "label": ("Deployment", lambda d: d["metadata"]["labels"].update(team="a b"),
              "label team='a b' is not a valid label"),
    "annotation-key": ("Deployment", lambda d: d["metadata"]["annotations"].update({"a b": "x"}),
                       "annotation key 'a b' is not a qualified name"),
    "object-name": ("Deployment", lambda d: d["metadata"].update(name="Qwen"),
                    "metadata.name is not a DNS subdomain name"),
    "service-name": ("Service", lambda d: d["metadata"].update(name="0-qwen"),
                     "a Service name must be a DNS-1035 label (a letter first, at most 63)"),
    "int32": ("Deployment", lambda d: d["spec"].update(replicas=2**31),
              "spec.replicas = 2147483648 does not fit a 32-bit integer"),
    "match-labels": ("Deployment", lambda d: d["spec"]["selector"]["matchLabels"].update(model="a/b/c"),
                     "label model='a/b/c' is not a valid label"),
    "rolling-update": ("Deployment", lambda d: d["spec"]["strategy"]["rollingUpdate"].update(
        maxUnavailable=0, maxSurge="0%"), "rollingUpdate.maxUnavailable and maxSurge may not both be 0"),
    "rolling-update-percent": ("Deployment", lambda d: d["spec"]["strategy"]["rollingUpdate"].update(
        maxUnavailable="150%"), "rollingUpdate.maxUnavailable: 150% exceeds 100%"),
    "node-selector": ("Deployment", lambda d: pod_spec(d).update(nodeSelector={"gpu": "a b"}),
                      "spec.nodeSelector: label gpu='a b' is not a valid label"),
    "pod-names": ("Deployment", lambda d: pod_spec(d).update(priorityClassName="GPU High"),
                  "spec.priorityClassName 'GPU High' is not a DNS subdomain name"),
    "profile": ("Deployment", lambda d: pod_spec(d)["securityContext"].update(seccompProfile={"type": "Localhost"}),
                "seccompProfile.localhostProfile must be set exactly when type is Localhost"),
    "sysctl-name": ("Deployment", lambda d: pod_spec(d)["securityContext"].update(
        sysctls=[{"name": "net ipv4", "value": "1"}]), "sysctl 'net ipv4' is not a sysctl name"),
    "sysctl-twice": ("Deployment", lambda d: pod_spec(d)["securityContext"].update(
        sysctls=[{"name": "net.core.somaxconn", "value": "1"}] * 2), "sysctl net.core.somaxconn is set twice"),
    "toleration": ("Deployment", lambda d: pod_spec(d).update(tolerations=[{"operator": "Equal", "value": "x"}]),
                   "a toleration without key needs operator Exists"),
    "toleration-seconds": ("Deployment", lambda d: pod_spec(d).update(tolerations=[
        {"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}]),
        "tolerationSeconds needs effect NoExecute"),
    "topology-spread": ("Deployment", lambda d: pod_spec(d).update(topologySpreadConstraints=[
        {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway", "minDomains": 2}]),
        "minDomains needs whenUnsatisfiable DoNotSchedule"),
    "match-expressions": ("Deployment", lambda d: pod_spec(d).update(topologySpreadConstraints=[
        {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": {"matchExpressions": [{"key": "model", "operator": "In"}]}}]),
        "matchExpressions In needs values"),
    "host-path": ("Deployment", lambda d: pod_spec(d)["volumes"][0]["hostPath"].update(path="/models/../etc"),
                  "hostPath.path '/models/../etc' must be non-empty without '..'"),
    "mount-path": ("Deployment", lambda d: vllm(d)["volumeMounts"].append({"name": "dshm", "mountPath": "/dev/shm"}),
                   "container vllm mounts two volumes at /dev/shm"),
    "quantity": ("Deployment", lambda d: vllm(d)["resources"]["limits"].update(memory="1e+06Gi"),
                 "resources.limits.memory '1e+06Gi' is not a quantity"),
    "env-value-and-source": ("Deployment", lambda d: vllm(d)["env"].append(
        {"name": "X", "value": "1", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}),
        "env X has both value and valueFrom"),
    "env-key": ("Deployment", lambda d: vllm(d)["env"].append(
        {"name": "T", "valueFrom": {"secretKeyRef": {"name": "s", "key": "a,b"}}}),
        "env T secretKeyRef.key 'a,b' is not a valid key"),
    "env-field-path": ("Deployment", lambda d: vllm(d)["env"].append(
        {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "spec.containers"}}}),
        "env N fieldRef.fieldPath 'spec.containers' is not supported"),
    "env-divisor": ("Deployment", lambda d: vllm(d)["env"].append(
        {"name": "C", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1Gi"}}}),
        "env C resourceFieldRef.divisor '1Gi' does not fit limits.cpu"),
    "node-port": ("Service", lambda d: d["spec"]["ports"][0].update(nodePort=40000),
                  "nodePort 40000 is outside the default range 30000-32767"),
    "pdb-percent": ("PodDisruptionBudget", lambda d: d["spec"].update(maxUnavailable="0.5"),
                    "spec.maxUnavailable: '0.5' must be an integer or a percentage such as 25%"),
}


@pytest.mark.parametrize("rule", API_SERVER_CASES)
def test_each_api_server_rule_reports_what_the_cluster_would_refuse(rule):
    kind, edit, expected = API_SERVER_CASES[rule]
    doc = json.loads(json.dumps(staging_qwen().one(kind)))
    assert not apiserver_problems(doc), f"staging's {kind} should pass before the edit"
    edit(doc)
    problems = apiserver_problems(doc)
    assert any(expected in p for p in problems), problems


def test_an_autoscaler_whose_minimum_exceeds_its_maximum_is_refused_by_the_api_server_rules():
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "llms-v2-x"},
           "spec": {"minReplicas": 3, "maxReplicas": 2}}
    assert apiserver_problems(hpa) == ["HorizontalPodAutoscaler llms-v2-x: minReplicas 3 must be 1..maxReplicas 2"]


def test_a_claim_with_a_bad_class_and_size_is_refused_by_the_api_server_rules():
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "llms-v2-x"},
           "spec": {"storageClassName": "Fast NVMe", "resources": {"requests": {"storage": "500 Gi"}}}}
    assert apiserver_problems(pvc) == [
        "PersistentVolumeClaim llms-v2-x: spec.storageClassName 'Fast NVMe' is not a DNS subdomain name",
        "PersistentVolumeClaim llms-v2-x: storage request '500 Gi' is not a quantity"]


def test_a_refusal_counts_only_when_the_message_names_a_values_key():
    assert refused_key("Error: execution error at (vllm-models/templates/validate.yaml:1:4): vllm-models: "
                       "deployment.tensorParallel (1) must equal deployment.numGPUs (2)") == "deployment.tensorParallel"
    assert refused_key("Error: ...: vllm-models: resources.limits.nvidia.com/gpu (2) must equal") \
        == "resources.limits.nvidia.com/gpu"
    assert refused_key("Error: ...: vllm-models: extraEnv sets HF_TOKEN twice") == "extraEnv"
    assert refused_key("Error: ...: vllm-models: memory quantity \"x\" is not of the form 64Gi") == ""
    assert refused_key("Error: YAML parse error on vllm-models/templates/deployment.yaml") == ""


def test_a_refusal_passes_only_where_refusals_are_allowed():
    values = yaml.safe_load((toolchain.ENVIRONMENTS_DIR / "staging" / "language" / "qwen3-32b.yaml").read_text())
    values["global"] = {"hps": {"models": {"path": "/models"}}}
    values["deployment"]["numGPUs"] = 2
    assert judge(values, refusal_allowed=True) == ("refused by the chart: deployment.tensorParallel", [])
    outcome, [problem] = judge(values, refusal_allowed=False)
    assert problem.startswith("refused by the chart:\nenvironment hypothesis, release llms-v2-qwen3-32b")
    assert "deployment.tensorParallel (1) must equal deployment.numGPUs (2)" in problem
