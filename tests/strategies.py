"""Hypothesis strategies for the chart's values: what values.schema.json accepts, and what a user writes.

- `for_schema(node)`: any value a JSON-schema node accepts, built by walking the chart's schema,
  so keys added to the schema are generated without touching this module.
- `coherent_values()`: one release's values in every deployment shape of the seeds (single GPU,
  tensor/pipeline parallel, vision, MoE, function calling, LMCache), with optional blocks on
  and off and edge values, consistent with every cross-key rule the chart enforces: these must
  always render.
- `perturbed_values()`: coherent values with a few keys replaced by anything the schema
  accepts (or removed): these must render valid objects or be refused by a named `fail`.

Strings use printable ASCII: what a user types into a YAML file, including the characters that
break YAML when a template forgets to quote (`#`, `:`, quotes). The Kubernetes objects the schema
leaves free (affinity's node/pod (anti-)affinity) are passed through unchanged by the chart and
checked against the Kubernetes schemas at verify time; they are drawn from valid examples. Keys whose validity depends on data kept elsewhere (image tag -> a vLLM catalog,
tool-call parser -> that version's parsers, extraArgs -> that version's flags) draw from that data.
Settings a policy denies unless policies/exceptions.yaml declares a deviation for the release
(privileged, root, a writable root filesystem, added capabilities, seccomp Unconfined, dropPageCache,
tolerations without the GPU taint, a RollingUpdate that takes capacity down, a Cluster traffic policy
hiding client addresses from the NetworkPolicy) are put back to what the policy asks
(`within_policy`): the chart accepts them on purpose, and the policy suite tests them.
"""
from __future__ import annotations

import copy
import functools
import json
import math
from typing import Any

import yaml
from hypothesis import assume
from hypothesis import strategies as st

from vllm_models import render as harness
from vllm_models import fleet, rules, toolchain, values_check, vllm_args

PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
UNBOUNDED_INT = 2**53  # largest integer JSON (and so helm) keeps exactly
UNBOUNDED_NUMBER = 1e15
GIB = 1024**3

DNS_LABEL = r"[a-z]([-a-z0-9]{0,14}[a-z0-9])?"
LABEL_VALUE = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,10}[A-Za-z0-9])?"

# Kubernetes objects the schema leaves free (the chart passes them through), as valid examples.
PASS_THROUGH: dict[tuple[str, ...], list[Any]] = {
    ("affinity", "nodeAffinity"): [
        {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {"matchExpressions": [
            {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]}]}}]},
        {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "node.example.com/pool", "operator": "NotIn", "values": ["cpu"]}]}]}},
    ],
    ("affinity", "podAffinity"): [
        {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 50, "podAffinityTerm": {
            "topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "cache"}}}}]},
    ],
    ("affinity", "podAntiAffinity"): [
        {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {
            "topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "vllm"}}}}]},
    ],
}
# Security contexts the coherent values use (the perturbed ones walk the schema instead).
SECURITY_CONTEXTS = {
    "securityContext": [
        {"runAsNonRoot": True, "runAsUser": 2000, "runAsGroup": 0, "seccompProfile": {"type": "RuntimeDefault"}},
        {"runAsNonRoot": True, "runAsUser": 1000, "fsGroup": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
    ],
    "containerSecurityContext": [
        {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True},
        {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True, "runAsUser": 1000},
    ],
}
# Flags users pass through deployment.extraArgs: ones the chart leaves alone, and ones it manages
# (which it must refuse by name). Each is used only where the tag's vLLM catalog has the flag.
EXTRA_ARGS = {
    "unmanaged": [["--max-num-batched-tokens", "8192"], ["--enable-log-requests"], ["--seed", "0"],
                  ["--max-logprobs=5"], ["--disable-log-stats"], ["--kv-cache-dtype", "fp8"]],
    "managed": [["--tensor-parallel-size", "2"], ["--max_model_len=4096"], ["--no-enable-prefix-caching"],
                ["-tp", "1"], ["--port", "9000"]],
}


@functools.lru_cache(maxsize=None)
def sizing() -> dict:
    return yaml.safe_load((toolchain.CHART_DIR / "sizing.yaml").read_text())["sizing"]


@functools.lru_cache(maxsize=None)
def vllm_catalogs() -> dict[str, dict]:
    """The committed vLLM catalogs by image tag (src/vllm_models/data/vllm/<tag>.json)."""
    folder = vllm_args.CATALOG_DIR
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("v*.json"))}


def image_tags() -> list[str]:
    """The image tags the vLLM argument check has a catalog for."""
    return list(vllm_catalogs())


def supports(tag: str, flag: str) -> bool:
    """Whether the vLLM version of an image tag has a flag (True where no catalog exists yet)."""
    catalog = vllm_catalogs().get(tag)
    return catalog is None or flag in catalog["flags"]


def catalog_choices(tag: str, field: str, schema_path: tuple[str, ...]) -> list:
    """The schema's enum for a key, narrowed to what the tag's vLLM catalog lists under `field`."""
    allowed = [v for v in schema_node(schema_path).get("enum", []) if v is not None]
    catalog = vllm_catalogs().get(tag)
    return [v for v in allowed if catalog is None or v in catalog.get(field, [])]


def tool_call_parsers(tag: str) -> list[str]:
    return list(vllm_catalogs().get(tag, {}).get("tool_call_parsers", ["hermes"]))


def row_for(table: list[dict], value: int, column: str = "minParamsB", **match: str) -> dict:
    """The last row of a sizing table whose lower bound the value reaches (as the chart reads it)."""
    found: dict = {}
    for row in table:
        if value >= row[column] and all(row.get(k) in (None, v) for k, v in match.items()):
            found = row
    return found


def quantity_bytes(quantity: str | int) -> float:
    units = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    text = str(quantity)
    number = text.rstrip("kKMGTi")
    return float(number) * units[text[len(number):]]


# --- any value the schema accepts -------------------------------------------------------------

def _types(node: dict) -> list[str]:
    kind = node.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def _integers(node: dict) -> st.SearchStrategy:
    low = node.get("minimum", node["exclusiveMinimum"] + 1 if "exclusiveMinimum" in node else -UNBOUNDED_INT)
    high = node.get("maximum", node["exclusiveMaximum"] - 1 if "exclusiveMaximum" in node else UNBOUNDED_INT)
    return st.integers(math.ceil(low), math.floor(high))


def _numbers(node: dict) -> st.SearchStrategy:
    low = node.get("minimum", node.get("exclusiveMinimum", -UNBOUNDED_NUMBER))
    high = node.get("maximum", node.get("exclusiveMaximum", UNBOUNDED_NUMBER))
    floats = st.floats(low, high, exclude_min="exclusiveMinimum" in node, exclude_max="exclusiveMaximum" in node,
                       allow_nan=False, allow_infinity=False, allow_subnormal=False)
    return floats | _integers(node)


def _strings(node: dict) -> st.SearchStrategy:
    low, high = node.get("minLength", 0), node.get("maxLength")
    if "pattern" in node:
        strategy = st.from_regex(node["pattern"], fullmatch=True, alphabet=PRINTABLE)
        strategy = strategy.filter(lambda s: low <= len(s) <= (high if high is not None else len(s)))
    else:
        strategy = st.text(PRINTABLE, min_size=low, max_size=high if high is not None else max(low, 24))
    if "not" in node:
        refused = values_check.StrictTypes(node["not"])
        strategy = strategy.filter(lambda s: not refused.is_valid(s))
    return strategy


# Keywords the typed builders below do not construct for; values are filtered against them instead.
FILTERED_KEYWORDS = {"minProperties", "maxProperties", "oneOf", "anyOf", "allOf", "if", "dependencies",
                     "uniqueItems", "const", "maxItems", "multipleOf"}


def for_schema(node: dict, path: tuple[str, ...] = ()) -> st.SearchStrategy:
    """Any value the schema node at `path` accepts (deprecated keys, which the chart refuses, excluded)."""
    if path in PASS_THROUGH and not node.get("properties"):
        return st.sampled_from(PASS_THROUGH[path])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    strategy = _by_type(node, path)
    if FILTERED_KEYWORDS & set(node):
        strategy = strategy.filter(values_check.StrictTypes(node).is_valid)
    return strategy


def _by_type(node: dict, path: tuple[str, ...]) -> st.SearchStrategy:
    options = []
    for kind in _types(node):
        if kind == "null":
            options.append(st.none())
        elif kind == "boolean":
            options.append(st.booleans())
        elif kind == "integer":
            options.append(_integers(node))
        elif kind == "number":
            options.append(_numbers(node))
        elif kind == "string":
            options.append(_strings(node))
        elif kind == "array":
            items = for_schema(node.get("items", {}), path + ("[]",))
            low = node.get("minItems", 0)
            options.append(st.lists(items, min_size=low, max_size=max(low, 3)))
        elif kind == "object":
            options.append(_objects(node, path))
    return st.one_of(options) if options else st.nothing()


def _objects(node: dict, path: tuple[str, ...]) -> st.SearchStrategy:
    properties = {name: child for name, child in node.get("properties", {}).items() if not child.get("deprecated")}
    if properties:
        required = set(node.get("required", []))
        return st.fixed_dictionaries(
            {name: for_schema(child, path + (name,)) for name, child in properties.items() if name in required},
            optional={name: for_schema(child, path + (name,)) for name, child in properties.items()
                      if name not in required})
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        keys = _strings(node["propertyNames"]) if "propertyNames" in node else st.text(PRINTABLE, max_size=20)
        return st.dictionaries(keys, for_schema(extra, path + ("*",)), max_size=3)
    return st.just({})


def schema_keys() -> list[tuple[str, ...]]:
    """Every key path the schema defines (deprecated ones excluded), parents before children."""
    found: list[tuple[str, ...]] = []

    def walk(node: dict, prefix: tuple[str, ...]) -> None:
        for name, child in node.get("properties", {}).items():
            if not child.get("deprecated"):
                found.append(prefix + (name,))
                walk(child, prefix + (name,))

    walk(values_check.chart_schema(), ())
    return found


def schema_node(path: tuple[str, ...]) -> dict:
    node = values_check.chart_schema()
    for part in path:
        node = node["properties"][part]
    return node


def required_keys() -> set[tuple[str, ...]]:
    found = set()
    for path in [(), *schema_keys()]:
        node = schema_node(path)
        found |= {path + (name,) for name in node.get("required", [])}
    return found


# --- coherent values of every shape -----------------------------------------------------------

def fleet_port_ranges(category: str) -> list[tuple[int, int]]:
    return [(r["from"], r["to"]) for r in harness.fleet_data()["portRanges"] if r["category"] == category]


@st.composite
def node_ports(draw, category: str) -> int:
    low, high = draw(st.sampled_from(fleet_port_ranges(category)))
    return draw(st.sampled_from([low, high]) | st.integers(low, high))


@st.composite
def memory_quantity(draw, above_bytes: float) -> str:
    """A memory quantity strictly above a byte count, spelled in one of the units users write."""
    gib = draw(st.integers(math.floor(above_bytes / GIB) + 1, 4096))
    unit = draw(st.sampled_from(["Gi", "Mi", "G", "Ti"]))
    if unit == "Mi":
        return f"{gib * 1024}Mi"
    if unit == "G":
        return f"{math.ceil(gib * GIB / 1e9) + 1}G"
    if unit == "Ti" and gib % 1024 == 0:
        return f"{gib // 1024}Ti"
    return f"{gib}Gi"


@st.composite
def gpu_layout(draw) -> tuple[int, int]:
    """(tensorParallel, pipelineParallel) whose product fits the schema's 64 GPUs per pod."""
    tp = draw(st.sampled_from([1, 2, 4, 8, 16, 64]))
    pp = draw(st.sampled_from([p for p in (1, 2, 3, 4, 8) if tp * p <= 64]))
    return tp, pp


@st.composite
def probes_and_lifecycle(draw, params: int, architecture: str) -> dict:
    """Probes, grace and rollout deadline meeting the seeds' tables for the model's size."""
    size_class = row_for(sizing()["sizeClasses"], params)
    load = size_class["maxLoadSeconds"]
    grace_floor = row_for(sizing()["terminationGrace"], params, architecture=architecture)["seconds"]
    values: dict = {"probes": {}, "slowStart": {}, "deployment": {}}
    startup: dict = {}
    delay = draw(st.sampled_from([0, 0, 10, 60]))
    mode = draw(st.sampled_from(["seed-table", "failureThreshold", "slowStart"]))
    if mode == "seed-table":
        period = draw(st.integers(math.ceil(load / size_class["startupFailureThreshold"]), 60))
        threshold = size_class["startupFailureThreshold"]
    else:
        period = draw(st.integers(1, 60))
        if mode == "failureThreshold":
            threshold = draw(st.integers(math.ceil(load / period), math.ceil(load / period) + 2000))
            startup["failureThreshold"] = threshold
        else:
            seconds = draw(st.integers(load, load + 7200))
            values["slowStart"]["maxStartupSeconds"] = seconds
            threshold = math.ceil(seconds / period)
    startup.update(periodSeconds=period, initialDelaySeconds=delay, timeoutSeconds=draw(st.integers(1, period)))
    values["probes"]["startup"] = startup
    budget = delay + threshold * period
    values["probes"]["readiness"] = {"periodSeconds": draw(st.integers(1, 15)),
                                     "failureThreshold": draw(st.integers(1, 5)),
                                     "timeoutSeconds": draw(st.integers(1, 10))}
    liveness = rules.data()["liveness"]  # the floors the chart and the policy enforce
    failures = draw(st.integers(liveness["minFailureThreshold"], 10))
    values["probes"]["liveness"] = {
        "periodSeconds": draw(st.integers(max(1, math.ceil(liveness["minWindowSeconds"] / failures)), 120)),
        "failureThreshold": failures,
        "timeoutSeconds": draw(st.integers(liveness["minTimeoutSeconds"], 30))}
    deployment = values["deployment"]
    if draw(st.booleans()):
        deployment["progressDeadlineSeconds"] = draw(st.integers(budget + 1, budget + 3600))
    pre_stop = draw(st.integers(0, min(300, grace_floor - 1)))
    deployment["preStopSleepSeconds"] = pre_stop
    if draw(st.booleans()):
        deployment["terminationGracePeriodSeconds"] = draw(st.integers(max(grace_floor, pre_stop + 1), 3600))
    return values


@st.composite
def availability(draw, enable_pdb: bool | None) -> dict:
    """Replicas, HPA, PDB and rollout strategy that never block every eviction or take capacity down."""
    values: dict = {}
    scaler = draw(st.sampled_from(["none", "hpa", "keda"]))
    if scaler == "hpa":
        low = draw(st.integers(1, 10))
        values["autoscaling"] = {"enabled": True, "minReplicas": low, "maxReplicas": draw(st.integers(low + 1, 20)),
                                 "waitingRequestsPerReplica": draw(st.integers(1, 100))}
        replicas = low
    elif scaler == "keda":
        low = draw(st.integers(1, 10))
        high = draw(st.integers(low + 1, 20))
        values["keda"] = {"enabled": True, "minReplicas": low, "maxReplicas": high,
                          "waitingRequestsPerReplica": draw(st.sampled_from([0.5, 10, 100])),
                          "kvCacheUsagePercent": draw(st.integers(1, 100)),
                          "fallback": {"replicas": draw(st.integers(low, high))}}
        replicas = low
    else:
        replicas = draw(st.integers(0, 10))
        values["replicaCount"] = replicas
        if draw(st.booleans()):
            values["autoscaling"] = {"enabled": False}
    pdb: dict = {}
    if enable_pdb is not None:
        pdb["enabled"] = enable_pdb
    if replicas >= 1 and draw(st.booleans()):
        pdb["minAvailable"] = draw(st.integers(0, replicas - 1))
    elif draw(st.booleans()):
        pdb["maxUnavailable"] = draw(st.integers(1, 5) | st.sampled_from(["1", "25%", "50%", "100%"]))
    if pdb:
        values["podDisruptionBudget"] = pdb
    if draw(st.booleans()):
        values["deployment"] = {"updateStrategy": {"type": "Recreate"}}
    elif draw(st.booleans()):
        values["deployment"] = {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {
            "maxUnavailable": 0, "maxSurge": draw(st.integers(1, 3) | st.sampled_from(["25%", "100%"]))}}}
    return values


@st.composite
def storage(draw) -> dict:
    path = draw(st.from_regex(r"/[a-z0-9_-]{1,12}(/[a-z0-9_.-]{1,12}){0,3}/?", fullmatch=True))
    kind = draw(st.sampled_from(["hostPath", "hostPath-global", "existingClaim", "pvc", "unset"]))
    mount = draw(st.sampled_from([None, "/models", "/mnt/models", "/data"]))
    values: dict = {"storage": {"mountPath": mount}} if mount else {"storage": {}}
    if kind == "hostPath":
        values["storage"]["type"] = "hostPath"
        values["hps"] = {"models": {"path": path}}
    elif kind == "hostPath-global":
        values["storage"]["type"] = "hostPath"
        values["global"] = {"hps": {"models": {"path": path}}}
    elif kind == "unset":
        values["global"] = {"hps": {"models": {"path": path}}}
    elif kind == "existingClaim":
        values["storage"].update(type="existingClaim", existingClaim=draw(st.from_regex(DNS_LABEL, fullmatch=True)))
    else:
        values["storage"].update(type="pvc", pvc={
            "size": f"{draw(st.integers(1, 4096))}{draw(st.sampled_from(['Gi', 'Ti', 'G']))}",
            "storageClassName": draw(st.sampled_from(["", "standard", "fast-nvme"])),
            "accessModes": draw(st.lists(st.sampled_from(["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany",
                                                          "ReadWriteOncePod"]), min_size=1, max_size=2, unique=True))})
        values["global"] = {"hps": {"models": {"path": ""}}}
    return values


@st.composite
def service(draw, category: str) -> dict:
    kind = draw(st.sampled_from(["NodePort", "NodePort", "ClusterIP", "LoadBalancer", None]))
    values: dict = {"port": draw(st.sampled_from([1, 8000, 65535]) | st.integers(1, 65535))}
    if kind:
        values["type"] = kind
    if kind in ("NodePort", None) or (kind == "LoadBalancer" and draw(st.booleans())):
        values["nodePort"] = draw(node_ports(category))
    if draw(st.booleans()):
        values["annotations"] = {"example.com/team": draw(st.text(PRINTABLE, max_size=20))}
    return {"service": values}


def most_pods(values: dict) -> int:
    """The most pods the release runs at once: replicaCount, or an autoscaler's maximum."""
    counts = [int(values.get("replicaCount", 1))]
    for key in ("autoscaling", "keda"):
        if (values.get(key) or {}).get("enabled"):
            counts.append(int(values[key]["maxReplicas"]))
    return max(counts)


@st.composite
def coherent_values(draw) -> dict:
    """Values for one release, in any of the seeds' shapes, that satisfy every cross-key rule."""
    model_name = draw(st.from_regex(r"[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?", fullmatch=True))
    category = draw(st.sampled_from(["language", "vision-language"]))
    moe = draw(st.booleans())
    params = draw(st.sampled_from([1, 7, 19, 20, 32, 49, 50, 70, 199, 200, 480, 599, 600, 671, 10000])
                  | st.integers(1, 10000))
    tp, pp = draw(gpu_layout())
    gpus = tp * pp
    tag = draw(st.sampled_from(image_tags()))
    stored = draw(storage())
    mount = stored["storage"].get("mountPath", "/models").rstrip("/")
    downloadable = stored["storage"].get("type") in ("pvc", "existingClaim")  # hostPath mounts only the model
    deployment: dict = {
        "model": draw(st.sampled_from([f"{mount}/org/{model_name}"] + [f"Org/{model_name}-FP8"] * downloadable)),
        "servedModelName": draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._/:-]{0,30}", fullmatch=True)),
        "port": draw(st.sampled_from([1, 8000, 65535]) | st.integers(1, 65535)),
        "tensorParallel": tp,
        "numGPUs": gpus,
        "gpuMemoryUtilization": draw(st.sampled_from([0.01, 0.5, 0.85, 0.95, 0.999, 1, 1.0])
                                     | st.floats(0.01, 1.0)),
        "maxNumSeqs": draw(st.integers(1, 4096)),
        "enableChunkedPrefill": draw(st.booleans()),
        "trustRemoteCode": draw(st.booleans()),
    }
    if deployment["trustRemoteCode"]:  # remote code only with the model file's reason
        deployment["trustRemoteCodeReason"] = draw(st.text(PRINTABLE, min_size=1, max_size=40).filter(str.strip))
    if pp > 1 or draw(st.booleans()):
        deployment["pipelineParallel"] = pp
    if draw(st.booleans()):
        deployment["maxModelLen"] = draw(st.sampled_from([None, 1, 4096, 131072, 1048576, 10485760])
                                         | st.integers(1, 10485760))
    if draw(st.booleans()):
        deployment["quantization"] = draw(st.sampled_from(
            [None, *catalog_choices(tag, "quantization_methods", ("deployment", "quantization"))]))
    if supports(tag, "--compilation-config") and draw(st.booleans()):
        deployment["cudaGraphMode"] = draw(for_schema(schema_node(("deployment", "cudaGraphMode"))))
    if moe:
        deployment["enableExpertParallel"] = draw(st.booleans())
        if supports(tag, "--async-scheduling") and pp == 1:  # vLLM refuses it with pipeline parallelism
            deployment["asyncScheduling"] = draw(st.booleans())
    if draw(st.booleans()):  # function calling
        deployment.update(functionCall=True, toolCallParser=draw(st.sampled_from(tool_call_parsers(tag))))
    vision = category == "vision-language" and draw(st.booleans())
    if vision:
        deployment["visionModel"] = True
        if draw(st.booleans()):
            items = draw(st.dictionaries(st.sampled_from(["image", "video", "audio"]), st.integers(0, 64),
                                         min_size=1))
            deployment["limitMmPerPrompt"] = json.dumps(items)
        deployment["disableMmPreprocessorCache"] = draw(st.booleans())
        if draw(st.booleans()):
            deployment["attentionBackend"] = draw(st.sampled_from(
                [None, *catalog_choices(tag, "attention_backends", ("deployment", "attentionBackend"))]))
    buffer_gb = 0.0
    if draw(st.booleans()):  # LMCache KV offloading
        buffer_gb = draw(st.sampled_from([0.5, 1, 4, 64]))
        kv = {"enabled": True, "backend": "lmcache", "cpuOffloadingBufferSize": buffer_gb}
        if vision and not deployment["disableMmPreprocessorCache"] and supports(tag, "--mm-processor-cache-gb") \
                and draw(st.booleans()):
            kv["mmProcessorCacheGb"] = draw(st.sampled_from([0, 4, 8.5]))
        if vision and supports(tag, "--mm-processor-cache-type") and draw(st.booleans()):
            kv["mmProcessorCacheType"] = draw(st.sampled_from(["lru", "shm"]))
        deployment["kvOffloading"] = kv

    row = row_for(sizing()["sharedMemory"], gpus, "minGPUs")
    shm = row["size"]  # what an empty shmSize gets
    shm_explicit = draw(st.booleans())
    if shm_explicit:  # anything from the row's floor (its size where it names none) up
        shm = f"{draw(st.integers(math.ceil(quantity_bytes(row.get('floor', row['size'])) / GIB), 1024))}Gi"
    limits: dict = {"memory": draw(memory_quantity(quantity_bytes(shm) + buffer_gb * 1e9)),
                    "cpu": draw(st.integers(1, 256) | st.sampled_from(["1", "16", "64", "500m", "2.5"]))}
    if draw(st.booleans()):
        limits["nvidia.com/gpu"] = gpus
    resources: dict = {"limits": limits}
    if draw(st.booleans()):
        resources["requests"] = {k: v for k, v in limits.items() if draw(st.booleans())}

    values: dict = {
        "modelName": model_name,
        "modelInfo": {"parameters": params, "architecture": "moe" if moe else "dense", "category": category},
        "image": {"tag": tag},
        "deployment": deployment,
        "resources": resources,
        "prefixCaching": {"enable": draw(st.booleans())},
    }
    if shm_explicit:
        values["shmSize"] = shm
    if draw(st.booleans()):
        values["fullnameOverride"] = f"llms-v2-{model_name}"[:63].rstrip("-")
    enable_pdb = draw(st.sampled_from([None, True, False]))
    global_block: dict = {"podDisruptionBudget": {"enabled": draw(st.booleans())},
                          "networkPolicy": {"enabled": draw(st.booleans())},
                          "monitoring": {"enabled": draw(st.sampled_from([True, False, "auto"]))},
                          "logging": {"level": draw(for_schema(schema_node(("global", "logging", "level"))))}}
    if draw(st.booleans()):
        global_block["nodeSelector"] = {"nvidia.com/gpu.present": "true"}
    if draw(st.booleans()):
        global_block["priorityClassName"] = draw(st.sampled_from(["gpu-high", "gpu-critical"]))
    values["global"] = global_block
    for part in (draw(probes_and_lifecycle(params, values["modelInfo"]["architecture"])),
                 draw(availability(enable_pdb)), stored, draw(service(category))):
        harness.deep_merge(values, part)
    claim = values["storage"].get("pvc")
    if values["storage"].get("type") == "pvc" and most_pods(values) > 1 \
            and not {"ReadWriteMany", "ReadOnlyMany"} & set(claim["accessModes"]):
        claim["accessModes"] = [claim["accessModes"][0], "ReadWriteMany"]  # one node's claim serves one pod
    if draw(st.booleans()):
        values["networkPolicy"] = {"enabled": draw(st.sampled_from([None, True, False])),
                                   "ingressNamespaces": draw(st.lists(st.from_regex(DNS_LABEL, fullmatch=True),
                                                                      max_size=3)),
                                   "monitoringNamespace": draw(st.from_regex(DNS_LABEL, fullmatch=True))}
    if gpus > 1 and draw(st.booleans()):
        # gpuMem true is refused before vLLM v0.10.2 (rules.yaml nccl): coherent values leave it to vLLM there.
        cumem_refused = (fleet.version_key(tag) or (0, 0, 0))[:3] < (0, 10, 2)
        values["nccl"] = {"gpuMem": draw(st.sampled_from([None, False] if cumem_refused else [None, True, False])),
                          "logLevel": draw(for_schema(schema_node(("nccl", "logLevel"))))}
    if draw(st.booleans()):
        values["extraEnv"] = draw(st.lists(st.sampled_from([
            {"name": "VLLM_USE_DEEP_GEMM", "value": "1"},
            {"name": "LMCACHE_CHUNK_SIZE", "value": "512"},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "EMPTY_SETTING", "value": ""},
        ]), max_size=3, unique_by=lambda e: e["name"]))
    if draw(st.booleans()):
        values["huggingface"] = {"tokenSecret": {"name": "hf-token", "key": "token"}}
    if draw(st.booleans()):
        values["gpuProducts"] = draw(st.lists(st.sampled_from(["NVIDIA-H100-80GB-HBM3", "NVIDIA-A100-SXM4-80GB",
                                                               "NVIDIA-H200"]), min_size=1, max_size=2, unique=True))
    if draw(st.booleans()):
        values["nodeSelector"] = draw(st.dictionaries(st.from_regex(r"(example\.com/)?" + DNS_LABEL, fullmatch=True),
                                                      st.from_regex(LABEL_VALUE, fullmatch=True), max_size=2))
    if draw(st.booleans()):
        values["affinity"] = {kind: draw(st.sampled_from(PASS_THROUGH[("affinity", kind)]))
                              for kind in draw(st.sets(st.sampled_from(["nodeAffinity", "podAffinity",
                                                                        "podAntiAffinity"])))}
    for key, examples in SECURITY_CONTEXTS.items():
        if draw(st.booleans()):
            values[key] = draw(st.sampled_from(examples))
    if draw(st.booleans()):
        values["deployment"]["extraArgs"] = [arg for group in draw(st.lists(st.sampled_from(
            [g for g in EXTRA_ARGS["unmanaged"] if supports(tag, g[0].split("=")[0])]), max_size=2, unique_by=tuple))
            for arg in group]
    if draw(st.booleans()):
        values["deployment"]["topologySpreadConstraints"] = draw(st.lists(st.sampled_from([
            {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway"},
            {"maxSkew": 2, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"},
        ]), max_size=2, unique_by=lambda c: c["topologyKey"]))
    if draw(st.booleans()):
        values["deployment"]["podLabels"] = {"team": draw(st.from_regex(LABEL_VALUE, fullmatch=True))}
        values["deployment"]["podAnnotations"] = {"example.com/note": draw(st.text(PRINTABLE, max_size=30))}
    if draw(st.booleans()):
        values["serviceAccount"] = {"create": draw(st.booleans()),
                                    "name": draw(st.sampled_from(["", "vllm-runner"]))}
    if draw(st.booleans()):
        values["imagePullSecrets"] = [{"name": "registry-credentials"}]
    if draw(st.booleans()):
        values["metrics"] = {"podAnnotations": draw(st.booleans())}
    if draw(st.booleans()):
        values["image"]["digest"] = "sha256:" + draw(st.from_regex(r"[a-f0-9]{64}", fullmatch=True))
    if draw(st.booleans()):
        values["runtime"] = {"home": {"path": draw(st.sampled_from(["/home/vllm", "/cache", "/var/lib/vllm"])),
                                      "sizeLimit": draw(st.sampled_from([None, "1Gi", "20Gi"]))},
                             "compileCache": {"existingClaim": draw(st.sampled_from(["", "vllm-compile-cache"]))},
                             "usageStats": draw(st.booleans())}
    network_policy = values.get("networkPolicy") or {}
    enabled = network_policy.get("enabled")
    if enabled if isinstance(enabled, bool) else global_block["networkPolicy"]["enabled"]:
        # A policy in front of a NodePort or LoadBalancer admits clients by address; a downloaded model needs egress.
        if values["service"].get("type", "NodePort") != "ClusterIP":
            global_block["networkPolicy"]["clientCIDRs"] = draw(st.lists(st.sampled_from(
                ["203.0.113.0/24", "198.51.100.7/32", "2001:db8::/32", "0.0.0.0/0"]), min_size=1, max_size=3, unique=True))
            if draw(st.booleans()):
                global_block["networkPolicy"]["nodeCIDRs"] = ["10.0.0.0/16"]
        if not deployment["model"].startswith("/"):
            values.setdefault("networkPolicy", {})["extraEgress"] = [
                {"to": [{"ipBlock": {"cidr": "192.0.2.0/24"}}], "ports": [{"protocol": "TCP", "port": 443}]}]
    return values


# --- perturbed values -------------------------------------------------------------------------

@st.composite
def with_key(draw, values: dict, path: tuple[str, ...], value: Any) -> dict:
    """values with `path` set; a missing parent is drawn from the schema, so its required keys exist."""
    node = values
    for depth, part in enumerate(path[:-1]):
        if not isinstance(node.get(part), dict):
            node[part] = draw(for_schema(schema_node(path[:depth + 1]), path[:depth + 1]))
        node = node[part]
    node[path[-1]] = value
    return values


def drop_key(values: dict, path: tuple[str, ...]) -> None:
    node: Any = values
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)


def repaired(path: tuple[str, ...], values: dict) -> st.SearchStrategy | None:
    """A new value for a key judged against data kept elsewhere when its value is not in that data
    (see the module docstring); None when it is."""
    current = get_key(values, path)
    tag = get_key(values, ("image", "tag")) or get_key(values, ("global", "image", "tag")) or ""
    if path in (("image", "tag"), ("global", "image", "tag")):
        return st.sampled_from(image_tags()) if current not in image_tags() else None
    if path == ("deployment", "toolCallParser"):
        return st.sampled_from(tool_call_parsers(tag)) if current not in tool_call_parsers(tag) else None
    if path == ("deployment", "extraArgs"):
        groups = [g for kind in EXTRA_ARGS.values() for g in kind if supports(tag, g[0].split("=")[0])]
        return st.lists(st.sampled_from(groups), max_size=3, unique_by=tuple).map(
            lambda chosen: [arg for group in chosen for arg in group])
    raise KeyError(path)


DATA_DRIVEN_KEYS = [("image", "tag"), ("global", "image", "tag"), ("deployment", "toolCallParser"),
                    ("deployment", "extraArgs")]  # tags first: the others read them


def get_key(values: dict, path: tuple[str, ...]) -> Any:
    node: Any = values
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node


GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def within_policy(values: dict) -> dict:
    """values with the settings a policy denies unless policies/exceptions.yaml waives it for the
    environment and release put back to what the policy asks: the chart accepts them on purpose
    (a declared deviation), so they are the policy suite's to test, not the chart's to refuse."""
    if get_key(values, ("dropPageCache", "enabled")):
        values["dropPageCache"]["enabled"] = False
    for context in ("securityContext", "containerSecurityContext"):
        block = values.get(context)
        if not isinstance(block, dict):
            continue
        for field, compliant in (("privileged", False), ("allowPrivilegeEscalation", False)):
            if block.get(field):
                block[field] = compliant
        # Root and a writable image are deviations too (run_as_non_root, read_only_root_filesystem).
        if block.get("runAsNonRoot") is False:
            block["runAsNonRoot"] = True
        if block.get("runAsUser") == 0:
            block["runAsUser"] = 2000
        if block.get("readOnlyRootFilesystem") is False:
            block["readOnlyRootFilesystem"] = True
        if get_key(block, ("seccompProfile", "type")) == "Unconfined":
            block["seccompProfile"] = {"type": "RuntimeDefault"}
        capabilities = block.get("capabilities")
        if isinstance(capabilities, dict):
            capabilities.pop("add", None)
            if "drop" in capabilities and "ALL" not in capabilities["drop"]:
                capabilities["drop"] = [*capabilities["drop"], "ALL"]
    if "tolerations" in values and not any(t.get("key", "") in ("nvidia.com/gpu", "")
                                           and t.get("operator") == "Exists"
                                           and t.get("effect", "") in ("NoSchedule", "")
                                           for t in values["tolerations"]):
        values["tolerations"] = [*values["tolerations"], GPU_TOLERATION]
    if get_key(values, ("service", "externalTrafficPolicy")) == "Cluster":  # hides client addresses (nodeport_clients_admitted)
        values["service"]["externalTrafficPolicy"] = ""
    rolling = get_key(values, ("deployment", "updateStrategy", "rollingUpdate"))
    if isinstance(rolling, dict) and "maxUnavailable" in rolling:
        rolling["maxUnavailable"] = 0
    return values


@st.composite
def perturbed_values(draw) -> dict:
    """Coherent values with one to three keys set to anything the schema accepts, or removed."""
    values = copy.deepcopy(draw(coherent_values()))
    required = required_keys()
    for path in draw(st.lists(st.sampled_from(schema_keys()), min_size=1, max_size=3, unique=True)):
        if path not in required and draw(st.integers(0, 4)) == 0:
            drop_key(values, path)
        else:
            values = draw(with_key(values, path, draw(for_schema(schema_node(path), path))))
    for path in DATA_DRIVEN_KEYS:
        strategy = repaired(path, values) if get_key(values, path) is not None else None
        if strategy is not None:
            values = draw(with_key(values, path, draw(strategy)))
    within_policy(values)
    # A key set inside an object can break a rule of the object (if/then): such draws are not accepted values.
    assume(values_check.StrictTypes(values_check.chart_schema()).is_valid(values))
    return values
