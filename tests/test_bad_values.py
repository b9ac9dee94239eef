"""Bad values get the message a user reads: one case per schema rule family and per `fail` in the chart.

Each case is an example values file plus one file of overrides, rendered by the real helm; the
failing overrides must be refused with exactly the message below, and the passing neighbour
(the nearest accepted value) must render. Schema messages are helm's own; the chart's `fail`
messages are `vllm-models: <key> (<value>) ...; <fix>`.
"""
from __future__ import annotations


import dataclasses
import json
import re
from typing import Callable

import pytest

from charts import render_chart
from vllm_models import chart_examples
from vllm_models import render as harness
from vllm_models import rules
from vllm_models import toolchain
from vllm_models import vllm_versions

# Version boundaries of the keys that need a vLLM flag, read from vllm-versions.yaml (generated from the catalogs).
ENTRIES = vllm_versions.committed()["versions"]
NEWEST = ENTRIES[-1]["version"]


def first_with(flag: str) -> str:
    return next(entry["version"] for entry in ENTRIES if entry["flags"][flag])


def just_before(version: str) -> str:
    versions = [entry["version"] for entry in ENTRIES]
    return versions[versions.index(version) - 1]


SHUTDOWN_FROM = first_with("--shutdown-timeout")
NATIVE_FROM = first_with("--kv-offloading-backend")
CACHE_TYPE_FROM = first_with("--mm-processor-cache-type")
LMCACHE_FROM = next(entry["version"] for entry in ENTRIES if entry["lmcache"]["vllm/vllm-openai"])
LMCACHE_THROUGH = [entry["version"] for entry in ENTRIES if entry["lmcache"]["vllm/vllm-openai"]][-1]
RANKS_FROM = next(entry["version"] for entry in ENTRIES if entry["loraRanks"])
RANKS = ", ".join(str(rank) for rank in next(entry["loraRanks"] for entry in ENTRIES if entry["loraRanks"]))
BELOW_EVERY_CATALOG = "0.10.1" if vllm_versions.version_key(ENTRIES[0]["version"]) > (0, 10, 1) else "0.0.1"


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    bad: dict | Callable[[dict], None]  # overrides on top of the example, or an edit of the example itself
    message: str
    good: dict | Callable[[dict], None]
    example: str = "single-gpu"


def without(*keys: str) -> Callable[[dict], None]:
    """An edit removing resources keys such as "limits.cpu" (an overrides file cannot remove a key)."""
    def edit(values: dict) -> None:
        for key in keys:
            side, _, resource = key.partition(".")
            del values["resources"][side][resource]
    return edit


def render_case(example: str, change, tmp_path, helm: str = "helm4") -> harness.Rendered:
    if callable(change):
        return render_chart(example=example, edit=change, helm=helm)
    return render_chart(example=example, values=change, helm=helm)


# s3-delivery.yaml's store made AWS S3 without keys, for workload identity (storage.download.s3.auth).
AWS_S3 = {"endpoint": "", "credentialsSecret": {"name": ""}}
IRSA_ROLE = rules.data()["workloadIdentity"]["roleAnnotation"]
IRSA_ACCOUNT = {"annotations": {IRSA_ROLE: "arn:aws:iam::111122223333:role/model-reader"}}
# The lora example's fetched adapter and its base model's served name.
SQL_ADAPTER = next(a for a in chart_examples.values("lora")["lora"]["adapters"] if a.get("source"))
LORA_SERVED = chart_examples.values("lora")["deployment"]["servedModelName"]

SPREAD = {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule"}

# Patterns the schema states (values.schema.json), quoted back in helm's messages.
SCHEMA = json.loads((toolchain.CHART_DIR / "values.schema.json").read_text())["properties"]
CIDR_PATTERN = SCHEMA["global"]["properties"]["networkPolicy"]["properties"]["clientCIDRs"]["items"]["pattern"]
HELM_TEST_IMAGE_PATTERN = SCHEMA["helmTest"]["properties"]["image"]["pattern"]

SCHEMA_CASES = [
    Case("unknown key", {"deployment": {"tensorParalel": 4}},
         "- deployment: Additional property tensorParalel is not allowed",
         {"deployment": {"tensorParallel": 1}}),
    Case("wrong type", {"deployment": {"numGPUs": "1"}},
         "- deployment.numGPUs: Invalid type. Expected: integer, given: string",
         {"deployment": {"numGPUs": 1}}),
    Case("enum", {"service": {"type": "Nodeport"}},
         '- service.type: service.type must be one of the following: "NodePort", "ClusterIP", "LoadBalancer"',
         {"service": {"type": "LoadBalancer"}}),
    Case("minimum", {"service": {"nodePort": 29999}},
         "- service.nodePort: Must be greater than or equal to 30000",
         {"service": {"nodePort": 30000}}),
    Case("maximum", {"service": {"nodePort": 32768}},
         "- service.nodePort: Must be less than or equal to 32767",
         {"service": {"nodePort": 32767}}),
    Case("exclusive minimum", {"deployment": {"gpuMemoryUtilization": 0}},
         "- deployment.gpuMemoryUtilization: Must be greater than 0",
         {"deployment": {"gpuMemoryUtilization": 0.01}}),
    Case("maximum of a fraction", {"deployment": {"gpuMemoryUtilization": 1.01}},
         "- deployment.gpuMemoryUtilization: Must be less than or equal to 1",
         {"deployment": {"gpuMemoryUtilization": 1}}),
    Case("pattern: image tag latest", {"image": {"tag": "latest"}},
         "- image.tag: Does not match pattern '^$|^v[0-9]+\\.[0-9]+\\.[0-9]+([.-][0-9A-Za-z.-]+)?$'",
         {"image": {"tag": "v0.11.0"}}),
    Case("pattern: a disruption budget of 0% blocks every eviction", {"podDisruptionBudget": {"enabled": True, "maxUnavailable": "0%"}},
         "- podDisruptionBudget.maxUnavailable: Does not match pattern '^([1-9][0-9]*|[1-9][0-9]?%|100%)$'",
         {"podDisruptionBudget": {"enabled": True, "maxUnavailable": "50%"}}),
    Case("minimum: a disruption budget of 0 blocks every eviction", {"podDisruptionBudget": {"enabled": True, "maxUnavailable": 0}},
         "- podDisruptionBudget.maxUnavailable: Must be greater than or equal to 1",
         {"podDisruptionBudget": {"enabled": True, "maxUnavailable": 1}}),
    Case("pattern: a digest is sha256 and 64 hex digits", {"image": {"digest": "sha256:" + "A" * 64}},
         "- image.digest: Does not match pattern '^$|^sha256:[a-f0-9]{64}$'",
         {"image": {"digest": "sha256:" + "a" * 64}}),
    Case("pattern: a client range is a CIDR", {"global": {"networkPolicy": {"clientCIDRs": ["203.0.113.0"]}}},
         "- global.networkPolicy.clientCIDRs.0: Does not match pattern '" + CIDR_PATTERN + "'",
         {"global": {"networkPolicy": {"clientCIDRs": ["203.0.113.0/32"]}}}),
    Case("pattern: the helm test image keeps its tag beside a digest",
         {"helmTest": {"image": "curlimages/curl@sha256:" + "a" * 64}},
         "- helmTest.image: Does not match pattern '" + HELM_TEST_IMAGE_PATTERN + "'",
         {"helmTest": {"image": "curlimages/curl:8.11.1@sha256:" + "a" * 64}}),
    Case("min length", {"image": {"repository": ""}},
         "- image.repository: String length must be greater than or equal to 1",
         {"image": {"repository": "registry.example.com/vllm/vllm-openai"}}),
    Case("max length", {"modelName": "m" * 56},
         "- modelName: String length must be less than or equal to 55",
         {"modelName": "m" * 55}),
    Case("min properties", {"extraEnv": [{"name": "POD_IP", "valueFrom": {}}]},
         "- extraEnv.0.valueFrom: Must have at least 1 properties",
         {"extraEnv": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]}),
    Case("min items", {"storage": {"type": "pvc", "pvc": {"accessModes": []}}},
         "- storage.pvc.accessModes: Array must have at least 1 items",
         {"storage": {"type": "pvc", "pvc": {"accessModes": ["ReadWriteOnce"]}}}),
    Case("required property", {"deployment": {"topologySpreadConstraints": [{"maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule"}]}},
         "- deployment.topologySpreadConstraints.0: topologyKey is required",
         {"deployment": {"topologySpreadConstraints": [{"maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule",
                                                        "topologyKey": "kubernetes.io/hostname"}]}}),
    Case("one value source", {"extraEnv": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"},
                                                                            "secretKeyRef": {"name": "s", "key": "k"}}}]},
         "- extraEnv.0.valueFrom: Must have at most 1 properties",
         {"extraEnv": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]}),
    Case("not: helm test image latest", {"helmTest": {"image": "curlimages/curl:latest"}},
         "- helmTest.image: Must not validate the schema (not)",
         {"helmTest": {"image": "curlimages/curl:8.11.1"}}),
    Case("strict Kubernetes objects: a misspelled security setting", {"containerSecurityContext": {"allowPrivilegeEscalaton": True}},
         "- containerSecurityContext: Additional property allowPrivilegeEscalaton is not allowed",
         {"containerSecurityContext": {"allowPrivilegeEscalation": False}}),
    Case("strict Kubernetes objects: a toleration", {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exist"}]},
         '- tolerations.0.operator: tolerations.0.operator must be one of the following: "Exists", "Equal"',
         {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]}),
    Case("enum: multi-node launcher", {"multiNode": {"launcher": "mpi"}},
         '- multiNode.launcher: multiNode.launcher must be one of the following: "auto", "native", "ray"',
         {"multiNode": {"launcher": "ray"}}, example="multi-node"),
    Case("minimum: a group has at least one node", {"multiNode": {"nodes": 0}},
         "- multiNode.nodes: Must be greater than or equal to 1",
         {"multiNode": {"nodes": 1}}),
    Case("enum: download source", {"storage": {"download": {"source": "gcs"}}},
         '- storage.download.source: storage.download.source must be one of the following: "", "s3", "huggingface"',
         {"storage": {"download": {"source": "s3"}}}, example="s3-delivery"),
    Case("pattern: an S3 source is an s3:// URI", {"storage": {"download": {"s3": {"uri": "https://models.s3.amazonaws.com/qwen"}}}},
         "- storage.download.s3.uri: Does not match pattern '^$|^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$'",
         {"storage": {"download": {"s3": {"uri": "s3://models/qwen"}}}}, example="s3-delivery"),
    Case("not: a download image tagged latest", {"storage": {"download": {"s3": {"image": {"tag": "latest"}}}}},
         "- storage.download.s3.image.tag: Must not validate the schema (not)",
         {"storage": {"download": {"s3": {"image": {"tag": "2.36.7"}}}}}, example="s3-delivery"),
    Case("minimum: a download gets at least a minute", {"storage": {"download": {"timeoutSeconds": 59}}},
         "- storage.download.timeoutSeconds: Must be greater than or equal to 60",
         {"storage": {"download": {"timeoutSeconds": 60}}}, example="s3-delivery"),
]


def escaped(pattern: str) -> str:
    """A pattern as helm v4 quotes it, backslashes doubled."""
    return pattern.replace("\\", "\\\\")


# helm v4 validates with santhosh-tekuri/jsonschema and words each refusal its own way (JSON pointers,
# patterns with their backslashes escaped); helm v3 (gojsonschema) says Case.message. Users run both.
HELM4_MESSAGES = {
    'unknown key': "- at '/deployment': additional properties 'tensorParalel' not allowed",
    'wrong type': "- at '/deployment/numGPUs': got string, want integer",
    'enum': "- at '/service/type': value must be one of 'NodePort', 'ClusterIP', 'LoadBalancer'",
    'minimum': "- at '/service/nodePort': minimum: got 29,999, want 30,000",
    'maximum': "- at '/service/nodePort': maximum: got 32,768, want 32,767",
    'exclusive minimum': "- at '/deployment/gpuMemoryUtilization': exclusiveMinimum: got 0, want 0",
    'maximum of a fraction': "- at '/deployment/gpuMemoryUtilization': maximum: got 1.01, want 1",
    'pattern: image tag latest': "- at '/image/tag': 'latest' does not match pattern '^$|^v[0-9]+\\\\.[0-9]+\\\\.[0-9]+([.-][0-9A-Za-z.-]+)?$'",
    'pattern: a disruption budget of 0% blocks every eviction': "- at '/podDisruptionBudget/maxUnavailable': '0%' does not match pattern '^([1-9][0-9]*|[1-9][0-9]?%|100%)$'",
    'minimum: a disruption budget of 0 blocks every eviction': "- at '/podDisruptionBudget/maxUnavailable': minimum: got 0, want 1",
    'pattern: a digest is sha256 and 64 hex digits': "- at '/image/digest': 'sha256:" + "A" * 64 + "' does not match pattern '^$|^sha256:[a-f0-9]{64}$'",
    'pattern: a client range is a CIDR': "- at '/global/networkPolicy/clientCIDRs/0': '203.0.113.0' does not match pattern '" + escaped(CIDR_PATTERN) + "'",
    'pattern: the helm test image keeps its tag beside a digest': "- at '/helmTest/image': 'curlimages/curl@sha256:" + "a" * 64 + "' does not match pattern '" + escaped(HELM_TEST_IMAGE_PATTERN) + "'",
    'min length': "- at '/image/repository': minLength: got 0, want 1",
    'max length': "- at '/modelName': maxLength: got 56, want 55",
    'min properties': "- at '/extraEnv/0/valueFrom': minProperties: got 0, want 1",
    'min items': "- at '/storage/pvc/accessModes': minItems: got 0, want 1",
    'required property': "- at '/deployment/topologySpreadConstraints/0': missing property 'topologyKey'",
    'one value source': "- at '/extraEnv/0/valueFrom': maxProperties: got 2, want 1",
    'not: helm test image latest': "- at '/helmTest/image': 'not' failed",
    'strict Kubernetes objects: a misspelled security setting': "- at '/containerSecurityContext': additional properties 'allowPrivilegeEscalaton' not allowed",
    'strict Kubernetes objects: a toleration': "- at '/tolerations/0/operator': value must be one of 'Exists', 'Equal'",
    'enum: multi-node launcher': "- at '/multiNode/launcher': value must be one of 'auto', 'native', 'ray'",
    'minimum: a group has at least one node': "- at '/multiNode/nodes': minimum: got 0, want 1",
    'enum: download source': "- at '/storage/download/source': value must be one of '', 's3', 'huggingface'",
    'pattern: an S3 source is an s3:// URI': "- at '/storage/download/s3/uri': 'https://models.s3.amazonaws.com/qwen' does not match pattern '^$|^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$'",
    'not: a download image tagged latest': "- at '/storage/download/s3/image/tag': 'not' failed",
    'minimum: a download gets at least a minute': "- at '/storage/download/timeoutSeconds': minimum: got 59, want 60",
}

FAIL_CASES = [
    Case("modelName required", {"modelName": ""},
         "vllm-models: modelName is required: the model identifier, e.g. qwen3-32b (the fleet names the release llms-v2-<modelName>)",
         {"modelName": "qwen3-32b-b"}),
    Case("modelInfo.parameters required", {"modelInfo": {"parameters": None}},
         "vllm-models: modelInfo.parameters is required: the model's size in whole billions (e.g. 32), which sets probe budgets and grace period",
         {"modelInfo": {"parameters": 8}}),
    Case("image tag required", {"image": {"tag": ""}},
         "vllm-models: image.tag (or global.image.tag) is required: pin a vLLM release such as v0.11.0",
         {"image": {"tag": ""}, "global": {"image": {"tag": "v0.11.0"}}}),
    Case("a digest pins the tag beside it", {"image": {"tag": "", "digest": "sha256:" + "a" * 64},
                                              "global": {"image": {"tag": "v0.11.0"}}},
         "vllm-models: image.digest (sha256:" + "a" * 64 + ") is set but image.tag is not (it comes from "
         "global.image.tag, v0.11.0): a digest pins the content of one tag, so set image.tag beside it to the "
         "version the digest was read for",
         {"image": {"tag": "v0.11.0", "digest": "sha256:" + "a" * 64}}),
    Case("remote code needs a reason", {"deployment": {"trustRemoteCode": True}},
         "vllm-models: deployment.trustRemoteCode is true but deployment.trustRemoteCodeReason is empty: "
         "--trust-remote-code runs Python shipped with the weights; set it only for an architecture vLLM and "
         "transformers do not implement, and write which in trustRemoteCodeReason",
         {"deployment": {"trustRemoteCode": True, "trustRemoteCodeReason": "MiniCPMV: no native minicpmv config"}}),
    Case("a reason without remote code is stale", {"deployment": {"trustRemoteCodeReason": "MiniCPMV"}},
         "vllm-models: deployment.trustRemoteCodeReason is set but deployment.trustRemoteCode is false; drop the "
         "reason, or set trustRemoteCode: true if the model needs remote code",
         {"deployment": {"trustRemoteCodeReason": ""}}),
    Case("model required", {"deployment": {"model": ""}},
         "vllm-models: deployment.model is required: the model path inside the container, e.g. /models/Qwen/Qwen3-32B-FP8",
         {"deployment": {"model": "/models/Qwen/Qwen3-8B"}}),
    Case("served model name required", {"deployment": {"servedModelName": ""}},
         "vllm-models: deployment.servedModelName is required: the name clients send in requests",
         {"deployment": {"servedModelName": "qwen3"}}),
    Case("seed key deployment.priorityClassName", {"deployment": {"priorityClassName": "gpu-critical"}},
         "vllm-models: deployment.priorityClassName is not read; move it to the top-level key priorityClassName "
         "(where the seeds' model templates put it)",
         {"priorityClassName": "gpu-critical"}),
    Case("seed key deployment.nccl", {"deployment": {"nccl": {"gpuMem": True}}},
         "vllm-models: deployment.nccl is not read; move it to the top-level key nccl (where the seeds' model templates put it)",
         {"nccl": {"gpuMem": True}}),
    Case("seed key deployment.extraEnv", {"deployment": {"extraEnv": [{"name": "NCCL_IB_DISABLE", "value": "0"}]}},
         "vllm-models: deployment.extraEnv is not read; move it to the top-level key extraEnv (where the seeds' model templates put it)",
         {"extraEnv": [{"name": "NCCL_IB_DISABLE", "value": "0"}]}),
    Case("tensor parallel equals GPUs", {"deployment": {"tensorParallel": 2}},
         "vllm-models: deployment.tensorParallel (2) must equal deployment.numGPUs (4): vLLM shards the model over "
         "exactly the pod's GPUs; set both to the same value",
         {"deployment": {"tensorParallel": 4}}, example="multi-gpu"),
    Case("tensor x pipeline parallel equals GPUs", {"deployment": {"tensorParallel": 2, "pipelineParallel": 3}},
         "vllm-models: deployment.tensorParallel (2) x deployment.pipelineParallel (3) = 6 must equal deployment.numGPUs (4)",
         {"deployment": {"tensorParallel": 2, "pipelineParallel": 2}}, example="multi-gpu"),
    Case("GPU limit equals numGPUs", {"resources": {"limits": {"nvidia.com/gpu": 2}}},
         "vllm-models: resources.limits.nvidia.com/gpu (2) must equal deployment.numGPUs (1); drop it to let the chart set it from numGPUs",
         without("limits.nvidia.com/gpu", "requests.nvidia.com/gpu")),
    Case("GPU request equals numGPUs", {"resources": {"requests": {"nvidia.com/gpu": 0}}},
         "vllm-models: resources.requests.nvidia.com/gpu (0) must equal deployment.numGPUs (1); drop it to let the chart set it from numGPUs",
         {"resources": {"requests": {"nvidia.com/gpu": 1}}}),
    Case("cpu limit required", without("limits.cpu", "requests.cpu"),
         "vllm-models: resources.limits.cpu is required: GPU pods need Guaranteed QoS (see the seed's sizing table)",
         without("requests.cpu")),
    Case("requests equal limits", {"resources": {"requests": {"memory": "100Gi"}}},
         "vllm-models: resources.requests.memory (100Gi) must equal resources.limits.memory (200Gi) for Guaranteed QoS; "
         "set both to the same value or drop the request",
         without("requests.memory")),
    Case("shm below the memory limit", {"shmSize": "200Gi"},
         "vllm-models: shmSize (200Gi) must be below resources.limits.memory (200Gi): /dev/shm is memory-backed and counts "
         "against the pod's memory limit; raise the limit or lower shmSize",
         {"shmSize": "199Gi"}),
    Case("shm at least the seed's table", {"shmSize": "16Gi"},
         "vllm-models: shmSize (16Gi) is below 32Gi, the least /dev/shm for 4 GPU(s) per pod (sizing.yaml sharedMemory: "
         "below it NCCL or vLLM's own processes run out of shared memory); raise it, or leave shmSize empty to use the table",
         {"shmSize": "32Gi"}, example="multi-gpu"),
    Case("shm at least the floor for one GPU", {"shmSize": "1023Mi"},
         "vllm-models: shmSize (1023Mi) is below 1Gi, the least /dev/shm for 1 GPU(s) per pod (sizing.yaml sharedMemory: "
         "below it NCCL or vLLM's own processes run out of shared memory); raise it, or leave shmSize empty to use the table",
         {"shmSize": "1Gi"}),
    Case("extraEnv once per name", {"extraEnv": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]},
         "vllm-models: extraEnv sets A twice; keep one entry",
         {"extraEnv": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}),
    Case("extraEnv value or valueFrom", {"extraEnv": [{"name": "A", "value": "1", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]},
         "vllm-models: extraEnv A has both value and valueFrom; Kubernetes accepts one, keep one",
         {"extraEnv": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]}),
    Case("no inline token", {"extraEnv": [{"name": "HF_TOKEN", "value": "hf_abc"}]},
         "vllm-models: extraEnv HF_TOKEN has an inline value that looks like a credential (rules.yaml secrets); secrets "
         "go through a Secret: use huggingface.tokenSecret for HF_TOKEN, or valueFrom.secretKeyRef",
         {"extraEnv": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}]}),
    Case("a credential only from a Secret", {"extraEnv": [{"name": "HF_TOKEN", "valueFrom": {
            "configMapKeyRef": {"name": "settings", "key": "token"}}}]},
         "vllm-models: extraEnv HF_TOKEN looks like a credential (rules.yaml secrets) but takes its value from "
         "configMapKeyRef; a credential comes only from a Secret: use valueFrom.secretKeyRef (huggingface.tokenSecret "
         "for HF_TOKEN)",
         {"extraEnv": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}]}),
    Case("extraEnv may not set what a key sets", {"extraEnv": [{"name": "NCCL_DEBUG", "value": "INFO"}]},
         "vllm-models: extraEnv sets NCCL_DEBUG, which the chart sets from nccl.logLevel (rules.yaml managedEnv); "
         "set that key instead",
         {"extraEnv": [{"name": "NCCL_IB_DISABLE", "value": "0"}]}),
    Case("extraEnv may not move HOME off the writable volume", {"extraEnv": [{"name": "HOME", "value": "/root"}]},
         "vllm-models: extraEnv sets HOME, which the chart sets from runtime.home.path (rules.yaml managedEnv); "
         "set that key instead",
         {"runtime": {"home": {"path": "/root"}}}),
    Case("the offline switch is the chart's for local weights", {"extraEnv": [{"name": "HF_HUB_OFFLINE", "value": "0"}]},
         "vllm-models: extraEnv sets HF_HUB_OFFLINE, which the chart sets to 1 because deployment.model "
         "(/models/Qwen/Qwen3-32B-FP8) is a local path (rules.yaml offline.env): vLLM reads the local or downloaded copy "
         "and must not reach for the Hub; drop it, or serve a Hugging Face id",
         {"extraEnv": [{"name": "HF_HUB_OFFLINE", "value": "1"}], "deployment": {"model": "Qwen/Qwen3-32B-FP8"},
          "storage": {"type": "existingClaim", "existingClaim": "hf-cache"}}),
    Case("non-root needs a user id", {"securityContext": {"runAsUser": None}},
         "vllm-models: securityContext.runAsNonRoot is true but no runAsUser is set, and the vLLM image runs as root "
         "(no USER up to v0.21.0), so the kubelet refuses to start it; set securityContext.runAsUser (the chart's "
         "default is 2000)",
         {"securityContext": {"runAsUser": None, "runAsNonRoot": False}}),
    Case("non-root is not uid 0", {"containerSecurityContext": {"runAsUser": 0}},
         "vllm-models: containerSecurityContext.runAsUser (0) contradicts securityContext.runAsNonRoot true, so the "
         "kubelet refuses to start the container; set a non-zero runAsUser (the chart's default is 2000), or run as "
         "root only with runAsNonRoot: false and a reason in policies/exceptions.yaml",
         {"containerSecurityContext": {"runAsUser": 1}}),
    Case("the device plugin assigns the GPUs", {"extraEnv": [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]},
         "vllm-models: extraEnv sets NVIDIA_VISIBLE_DEVICES, which overrides the GPUs the NVIDIA device plugin assigned "
         "(and can expose every GPU of the node); remove it and request GPUs with deployment.numGPUs",
         {"extraEnv": [{"name": "CUDA_DEVICE_ORDER", "value": "PCI_BUS_ID"}]}),
    Case("tool parser needs function calling", {"deployment": {"toolCallParser": "hermes"}},
         "vllm-models: deployment.toolCallParser is set but deployment.functionCall is false; set functionCall: true "
         "to enable tool calling, or drop the parser",
         {"deployment": {"toolCallParser": "hermes", "functionCall": True}}),
    Case("function calling needs a tool parser", {"deployment": {"functionCall": True}},
         "vllm-models: deployment.toolCallParser is required when deployment.functionCall is true, e.g. hermes, "
         "qwen3_coder or deepseek_v3",
         {"deployment": {"functionCall": True, "toolCallParser": "hermes"}}),
    Case("multimodal settings need a vision model", {"deployment": {"limitMmPerPrompt": '{"image": 2}'}},
         "vllm-models: deployment.limitMmPerPrompt and deployment.disableMmPreprocessorCache apply only to vision models; "
         "set deployment.visionModel: true",
         {"deployment": {"limitMmPerPrompt": '{"image": 2}', "visionModel": True}}),
    Case("one size for the multimodal cache", {"deployment": {"disableMmPreprocessorCache": True,
                                                               "kvOffloading": {"mmProcessorCacheGb": 4}}},
         "vllm-models: deployment.disableMmPreprocessorCache and deployment.kvOffloading.mmProcessorCacheGb (4) both "
         "size the multimodal processor cache (--mm-processor-cache-gb); keep one",
         {"deployment": {"disableMmPreprocessorCache": True}}, example="vision"),
    Case("cache type needs the flag's vLLM", {"deployment": {"kvOffloading": {"mmProcessorCacheType": "lru"}},
                                              "image": {"tag": f"v{just_before(CACHE_TYPE_FROM)}"}},
         f"vllm-models: deployment.kvOffloading.mmProcessorCacheType (lru) needs --mm-processor-cache-type, which vLLM "
         f"{just_before(CACHE_TYPE_FROM)} (image.tag v{just_before(CACHE_TYPE_FROM)}) does not have (vllm-versions.yaml: "
         f"from vLLM {CACHE_TYPE_FROM} on); drop the key or raise image.tag",
         {"deployment": {"kvOffloading": {"mmProcessorCacheType": "lru"}}, "image": {"tag": f"v{CACHE_TYPE_FROM}"}},
         example="lmcache"),
    Case("shutdown timeout needs the flag's vLLM", {"deployment": {"shutdownTimeoutSeconds": 30},
                                                    "image": {"tag": f"v{just_before(SHUTDOWN_FROM)}"}},
         f"vllm-models: deployment.shutdownTimeoutSeconds (30) needs --shutdown-timeout, which vLLM "
         f"{just_before(SHUTDOWN_FROM)} (image.tag v{just_before(SHUTDOWN_FROM)}) does not have (vllm-versions.yaml: "
         f"from vLLM {SHUTDOWN_FROM} on); drop the key (vLLM then aborts in-flight requests on SIGTERM) or raise image.tag",
         {"deployment": {"shutdownTimeoutSeconds": 30}, "image": {"tag": f"v{SHUTDOWN_FROM}"}}),
    Case("grace outlasts the pause and an explicit shutdown timeout",
         {"deployment": {"terminationGracePeriodSeconds": 120, "preStopSleepSeconds": 15, "shutdownTimeoutSeconds": 105},
          "image": {"tag": f"v{SHUTDOWN_FROM}"}},
         "vllm-models: deployment.terminationGracePeriodSeconds (120) must exceed deployment.preStopSleepSeconds (15) + "
         "vLLM's --shutdown-timeout (105) = 120 s, or vLLM is killed before it can finish in-flight requests; raise the "
         "grace period or shorten the pause",
         {"deployment": {"terminationGracePeriodSeconds": 120, "preStopSleepSeconds": 15, "shutdownTimeoutSeconds": 104},
          "image": {"tag": f"v{SHUTDOWN_FROM}"}}),
    Case("native offloading needs the flag's vLLM", {"deployment": {"kvOffloading": {"backend": "native"}},
                                                     "image": {"tag": f"v{just_before(NATIVE_FROM)}"}},
         f"vllm-models: deployment.kvOffloading.backend (native) needs --kv-offloading-backend, which vLLM "
         f"{just_before(NATIVE_FROM)} (image.tag v{just_before(NATIVE_FROM)}) does not have (vllm-versions.yaml: from "
         f"vLLM {NATIVE_FROM} on); use backend lmcache or raise image.tag",
         {"deployment": {"kvOffloading": {"backend": "native"}}, "image": {"tag": f"v{NATIVE_FROM}"}}, example="lmcache"),
    Case("LMCache needs an image that carries it", {"image": {"tag": f"v{BELOW_EVERY_CATALOG}"}},
         f"vllm-models: deployment.kvOffloading.backend lmcache needs the lmcache package in the image, and "
         f"vllm-versions.yaml records none in vllm/vllm-openai:v{BELOW_EVERY_CATALOG} (vLLM {BELOW_EVERY_CATALOG}; it "
         f"records LMCache in vLLM {LMCACHE_FROM} to {LMCACHE_THROUGH}, src/vllm_models/data/vllm_images.yaml); use an "
         f"image tag that carries it, an image.repository that installs lmcache, or kvOffloading.backend native (vLLM "
         f"{NATIVE_FROM} or newer)",
         {"image": {"tag": f"v{LMCACHE_FROM}"}}, example="lmcache"),
    Case("reasoning parser of the version", {"deployment": {"reasoningParser": "deepseek"}, "image": {"tag": f"v{NEWEST}"}},
         f"vllm-models: deployment.reasoningParser deepseek is not a reasoning parser of vLLM {NEWEST} (image.tag "
         f"v{NEWEST}, vllm-versions.yaml); choose one of: {', '.join(ENTRIES[-1]['reasoningParsers'])}",
         {"deployment": {"reasoningParser": "deepseek_r1"}, "image": {"tag": f"v{NEWEST}"}}),
    Case("pod labels cannot replace the chart's", {"deployment": {"podLabels": {"model": "other"}}},
         "vllm-models: deployment.podLabels.model is a label the chart sets (qwen3-32b); pick another label name",
         {"deployment": {"podLabels": {"team": "inference"}}}),
    Case("pod annotations cannot replace the chart's", {"deployment": {"podAnnotations": {"prometheus.io/path": "/x"}}},
         "vllm-models: deployment.podAnnotations.prometheus.io/path is an annotation the chart sets (/metrics); drop it "
         "(the scrape annotations follow metrics.podAnnotations)",
         {"deployment": {"podAnnotations": {"example.com/owner": "inference"}}}),
    Case("NodePort needs a port", {"service": {"nodePort": None}},
         "vllm-models: service.nodePort is required for a NodePort service: pick a free port in the category's range "
         "(see `vllm-models ports`)",
         {"service": {"nodePort": None, "type": "ClusterIP"}}),
    Case("NodePort clients need a client range", {"networkPolicy": {"enabled": True}},
         "vllm-models: the NetworkPolicy is on (networkPolicy.enabled or global.networkPolicy.enabled) and "
         "service.type is NodePort, but no client CIDRs are listed (global.networkPolicy.clientCIDRs, "
         "networkPolicy.clientCIDRs): clients of a NodePort come from outside the cluster and the policy admits only "
         "namespaces ingress-nginx, monitoring, so it would drop every one; list your clients' address ranges, or use "
         "service.type ClusterIP",
         {"networkPolicy": {"enabled": True, "clientCIDRs": ["203.0.113.0/24"]}}),
    Case("a download needs egress", {"networkPolicy": {"enabled": True, "clientCIDRs": ["203.0.113.0/24"]},
                                     "deployment": {"model": "Qwen/Qwen3-32B-FP8"},
                                     "storage": {"type": "existingClaim", "existingClaim": "hf-cache"}},
         "vllm-models: deployment.model (Qwen/Qwen3-32B-FP8) is a Hugging Face id, so vLLM downloads the weights at "
         "start, but the NetworkPolicy (networkPolicy.enabled or global.networkPolicy.enabled) lets the pods reach "
         "DNS only; add the store to networkPolicy.extraEgress, or serve a path below storage.mountPath",
         {"networkPolicy": {"enabled": True, "clientCIDRs": ["203.0.113.0/24"],
                            "extraEgress": [{"ports": [{"protocol": "TCP", "port": 443}]}]},
          "deployment": {"model": "Qwen/Qwen3-32B-FP8"},
          "storage": {"type": "existingClaim", "existingClaim": "hf-cache"}}),
    Case("a traffic policy only for node ports", {"service": {"type": "ClusterIP", "nodePort": None,
                                                              "externalTrafficPolicy": "Local"}},
         "vllm-models: service.externalTrafficPolicy (Local) applies only to NodePort and LoadBalancer Services, and "
         "service.type is ClusterIP; drop it or change the type",
         {"service": {"type": "LoadBalancer", "externalTrafficPolicy": "Local"}}),
    Case("cuMem stays vLLM's choice before v0.10.2", {"nccl": {"gpuMem": True}, "image": {"tag": "v0.10.1.1"}},
         "vllm-models: nccl.gpuMem is true (NCCL_CUMEM_ENABLE=1), but vLLM v0.10.1.1 (image.tag) sets "
         "NCCL_CUMEM_ENABLE=0 on purpose: with the NCCL it ships, cuMem makes CUDA-graph capture with all-reduce cost "
         "extra GPU memory (NVIDIA/nccl#1234), and one pod on one node gains nothing from it; drop nccl.gpuMem, or "
         "raise image.tag to v0.10.2 or newer, where vLLM leaves it to NCCL",
         {"nccl": {"gpuMem": True}, "image": {"tag": "v0.10.2"}}, example="multi-gpu"),
    Case("ClusterIP takes no node port", {"service": {"type": "ClusterIP"}},
         "vllm-models: service.nodePort (30025) is set but service.type is ClusterIP; use NodePort or drop the port",
         {"service": {"type": "LoadBalancer"}}),
    Case("host path required", {"hps": {"models": {"path": ""}}},
         "vllm-models: hps.models.path (or global.hps.models.path) is required for storage.type hostPath: the host "
         "directory holding the models",
         {"hps": {"models": {"path": ""}}, "global": {"hps": {"models": {"path": "/var/modas-models/fp8_models/"}}}}),
    Case("existing claim named", {"storage": {"type": "existingClaim"}},
         "vllm-models: storage.existingClaim is required for storage.type existingClaim: the name of the "
         "PersistentVolumeClaim holding the models",
         {"storage": {"type": "existingClaim", "existingClaim": "models"}}),
    Case("model below the mount", {"deployment": {"model": "/data/Qwen/Qwen3-32B-FP8"}},
         "vllm-models: deployment.model (/data/Qwen/Qwen3-32B-FP8) is not below storage.mountPath (/models), where the "
         "model files are mounted; write the path as /models/<org>/<model> or change storage.mountPath",
         {"deployment": {"model": "/data/Qwen/Qwen3-32B-FP8"}, "storage": {"mountPath": "/data"}}),
    Case("a host path holds the model", {"deployment": {"model": "Qwen/Qwen3-32B-FP8"}},
         "vllm-models: deployment.model (Qwen/Qwen3-32B-FP8) is not a path below storage.mountPath (/models), but "
         "storage.type hostPath mounts a host directory there for nothing else; write the model's path as "
         "/models/<org>/<model>, or use storage.type pvc or existingClaim",
         {"deployment": {"model": "Qwen/Qwen3-32B-FP8"}, "storage": {"type": "existingClaim", "existingClaim": "hf-cache"}}),
    Case("autoscaler range", {"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 2}},
         "vllm-models: autoscaling.maxReplicas (2) must exceed autoscaling.minReplicas (2), or the autoscaler can never scale",
         {"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 3}}),
    Case("disruption budget lets a pod go", {"podDisruptionBudget": {"enabled": True, "minAvailable": 1}},
         "vllm-models: podDisruptionBudget.minAvailable (1) must be below the replica count (1): otherwise no pod can "
         "ever be evicted and node drains hang; use maxUnavailable: 1 instead",
         {"podDisruptionBudget": {"enabled": True, "minAvailable": 1}, "replicaCount": 2}),
    Case("grace outlasts the preStop pause", {"deployment": {"terminationGracePeriodSeconds": 120, "preStopSleepSeconds": 120}},
         "vllm-models: deployment.terminationGracePeriodSeconds (120) must exceed deployment.preStopSleepSeconds (120) + "
         "vLLM's --shutdown-timeout (0) = 120 s, or vLLM is killed before it can finish in-flight requests; raise the "
         "grace period or shorten the pause",
         {"deployment": {"terminationGracePeriodSeconds": 120, "preStopSleepSeconds": 119}}),
    Case("liveness tolerates one slow answer", {"probes": {"liveness": {"failureThreshold": 1, "periodSeconds": 60}}},
         "vllm-models: probes.liveness.failureThreshold (1) is below 2 (rules.yaml liveness): one slow /health answer "
         "would restart a loaded model; raise it",
         {"probes": {"liveness": {"failureThreshold": 2, "periodSeconds": 60}}}),
    Case("liveness gives each check time", {"probes": {"liveness": {"timeoutSeconds": 4}}},
         "vllm-models: probes.liveness.timeoutSeconds (4) is below 5 (rules.yaml liveness): a busy engine answers "
         "/health in seconds; raise it",
         {"probes": {"liveness": {"timeoutSeconds": 5}}}),
    Case("liveness waits long enough", {"probes": {"liveness": {"failureThreshold": 3, "periodSeconds": 19}}},
         "vllm-models: probes.liveness.failureThreshold (3) x probes.liveness.periodSeconds (19) = 57 s is below 60 s "
         "(rules.yaml liveness): a model busy for that long would be restarted; raise either",
         {"probes": {"liveness": {"failureThreshold": 3, "periodSeconds": 20}}}),
    Case("grace meets the seed's table", {"deployment": {"terminationGracePeriodSeconds": 60}},
         "vllm-models: deployment.terminationGracePeriodSeconds (60) is below 120 s, the seed's grace for a 32B dense "
         "model, so in-flight requests are cut off; raise it or leave it null to use the table",
         {"deployment": {"terminationGracePeriodSeconds": None}}),
    Case("startup budget covers the seed's load time", {"probes": {"startup": {"failureThreshold": 59}}},
         "vllm-models: probes.startup.failureThreshold (59) x probes.startup.periodSeconds (5) gives the model 295 s to "
         "load, but the seed's table gives a medium model (32B) up to 300 s; raise it, or set "
         "slowStart.maxStartupSeconds to at least 300",
         {"probes": {"startup": {"failureThreshold": 60}}}),
    Case("rollout deadline outlasts the load", {"deployment": {"progressDeadlineSeconds": 600}},
         "vllm-models: deployment.progressDeadlineSeconds (600) must exceed the startup budget (600 s), or rollouts "
         "are marked failed while the model still loads",
         {"deployment": {"progressDeadlineSeconds": 601}}),
    Case("one startup budget", {"slowStart": {"maxStartupSeconds": 900}},
         "vllm-models: probes.startup.failureThreshold (120) and slowStart.maxStartupSeconds (900) both set the startup "
         "budget; keep one",
         {"slowStart": {"maxStartupSeconds": 900}, "probes": {"startup": {"failureThreshold": None}}}),
    Case("extraArgs may not repeat a managed flag", {"deployment": {"extraArgs": ["--max-model-len", "8192"]}},
         "vllm-models: deployment.extraArgs sets --max-model-len, which the chart manages from deployment.maxModelLen; "
         "set that key instead of passing the flag",
         {"deployment": {"extraArgs": ["--max-num-batched-tokens", "8192"]}}),
    Case("a profile file only with type Localhost",
         {"containerSecurityContext": {"seccompProfile": {"type": "RuntimeDefault", "localhostProfile": "vllm.json"}}},
         "vllm-models: containerSecurityContext.seccompProfile.localhostProfile must be set exactly when "
         "containerSecurityContext.seccompProfile.type is Localhost (type is RuntimeDefault)",
         {"containerSecurityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "vllm.json"}}}),
    Case("a toleration without a key tolerates by Exists", {"tolerations": [{"operator": "Equal", "value": "x"}]},
         "vllm-models: tolerations[0] has no key, so its operator must be Exists (it is Equal); set operator: Exists "
         "or give the taint's key",
         {"tolerations": [{"operator": "Exists"}]}),
    Case("a toleration by Exists has no value", {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "value": "x"}]},
         'vllm-models: tolerations[0] has operator Exists and value "x"; drop the value or use operator: Equal',
         {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "x"}]}),
    Case("toleration seconds only for NoExecute",
         {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 60}]},
         "vllm-models: tolerations[0].tolerationSeconds applies only to effect NoExecute; set effect: NoExecute or "
         "drop tolerationSeconds",
         {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}]}),
    Case("a sysctl once", {"securityContext": {"sysctls": [{"name": "net.core.somaxconn", "value": "1024"},
                                                           {"name": "net.core.somaxconn", "value": "2048"}]}},
         "vllm-models: securityContext.sysctls sets net.core.somaxconn twice; keep one entry",
         {"securityContext": {"sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]}}),
    Case("a spread constraint once per key and policy", {"deployment": {"topologySpreadConstraints": [SPREAD, SPREAD]}},
         "vllm-models: deployment.topologySpreadConstraints[1] repeats topologyKey kubernetes.io/hostname with "
         "whenUnsatisfiable DoNotSchedule; merge the two constraints",
         {"deployment": {"topologySpreadConstraints": [SPREAD, {**SPREAD, "whenUnsatisfiable": "ScheduleAnyway"}]}}),
    Case("minDomains only for DoNotSchedule",
         {"deployment": {"topologySpreadConstraints": [{**SPREAD, "whenUnsatisfiable": "ScheduleAnyway", "minDomains": 2}]}},
         "vllm-models: deployment.topologySpreadConstraints[0].minDomains applies only to whenUnsatisfiable "
         "DoNotSchedule; set it or drop minDomains",
         {"deployment": {"topologySpreadConstraints": [{**SPREAD, "minDomains": 2}]}}),
    Case("In needs values", {"deployment": {"topologySpreadConstraints": [
            {**SPREAD, "labelSelector": {"matchExpressions": [{"key": "model", "operator": "In"}]}}]}},
         "vllm-models: deployment.topologySpreadConstraints[0].labelSelector.matchExpressions on model: operator In "
         "needs values",
         {"deployment": {"topologySpreadConstraints": [
             {**SPREAD, "labelSelector": {"matchExpressions": [{"key": "model", "operator": "In", "values": ["a"]}]}}]}}),
    Case("Exists takes no values", {"deployment": {"topologySpreadConstraints": [
            {**SPREAD, "labelSelector": {"matchExpressions": [{"key": "model", "operator": "Exists", "values": ["a"]}]}}]}},
         "vllm-models: deployment.topologySpreadConstraints[0].labelSelector.matchExpressions on model: operator "
         "Exists takes no values; drop them",
         {"deployment": {"topologySpreadConstraints": [
             {**SPREAD, "labelSelector": {"matchExpressions": [{"key": "model", "operator": "Exists"}]}}]}}),
    Case("matchLabelKeys apart from the selector", {"deployment": {"topologySpreadConstraints": [
            {**SPREAD, "matchLabelKeys": ["model"]}]}},
         "vllm-models: deployment.topologySpreadConstraints[0].matchLabelKeys lists model, which the labelSelector "
         "already matches; drop it from one of them",
         {"deployment": {"topologySpreadConstraints": [{**SPREAD, "matchLabelKeys": ["pod-template-hash"]}]}}),
    Case("extraArgs gives a flag once", {"deployment": {"extraArgs": ["--max-num-batched-tokens", "8192",
                                                                      "--max_num_batched_tokens=4096"]}},
         "vllm-models: deployment.extraArgs sets --max_num_batched_tokens twice; vLLM keeps only the last one, so give it once",
         {"deployment": {"extraArgs": ["--max-num-batched-tokens", "8192", "--middleware", "a.B", "--middleware", "c.D"]}}),
    # Multi-node groups (multi-node.yaml: 2 nodes x 8 GPUs on vLLM v0.11.0).
    Case("tensor x pipeline parallel equals GPUs per node x nodes", {"deployment": {"pipelineParallel": 1}},
         "vllm-models: deployment.tensorParallel (8) x deployment.pipelineParallel (1) = 8 must equal "
         "deployment.numGPUs (8) x multiNode.nodes (2) = 16, the GPUs of one group; e.g. tensorParallel 8 (GPUs per "
         "node) and pipelineParallel 2 (nodes)",
         {"deployment": {"pipelineParallel": 1}, "multiNode": {"nodes": 1}}, example="multi-node"),
    Case("no autoscaler on a multi-node group", {"autoscaling": {"enabled": True}},
         "vllm-models: autoscaling.enabled is true but multiNode.nodes is 2: an autoscaler on a multi-node group adds "
         "or removes 2 pods x 8 GPUs per step and targets a Deployment, which a group does not have; set replicaCount "
         "and disable the autoscaler",
         {"autoscaling": {"enabled": True}, "multiNode": {"nodes": 1}, "deployment": {"pipelineParallel": 1}},
         example="multi-node"),
    Case("no KEDA on a multi-node group", {"keda": {"enabled": True}},
         "vllm-models: keda.enabled is true but multiNode.nodes is 2: an autoscaler on a multi-node group adds "
         "or removes 2 pods x 8 GPUs per step and targets a Deployment, which a group does not have; set replicaCount "
         "and disable the autoscaler",
         {"keda": {"enabled": False}}, example="multi-node"),
    Case("native launch needs vLLM's --nnodes", {"multiNode": {"launcher": "native"}},
         "vllm-models: multiNode.launcher native needs vLLM v0.11.1 or newer (vllm serve --nnodes, rules.yaml "
         "vllm.nativeMultiNode); image.tag is v0.11.0: use launcher ray or auto, or raise the tag",
         {"multiNode": {"launcher": "native"}, "image": {"tag": "v0.11.1"}}, example="multi-node"),
    Case("Ray launch needs Ray in the image", {"multiNode": {"launcher": "ray"}, "image": {"tag": "v0.18.0"}},
         "vllm-models: multiNode.launcher ray needs Ray in the image, and vllm/vllm-openai ships none from v0.18.0 "
         "(rules.yaml vllm.stockImageWithoutRay); image.tag is v0.18.0: use launcher native or auto, or an "
         "image.repository that installs ray[cgraph]",
         {"multiNode": {"launcher": "ray"}, "image": {"tag": "v0.17.1"}}, example="multi-node"),
    Case("RDMA names its device plugin's resource", {"multiNode": {"rdma": {"enabled": True}}},
         "vllm-models: multiNode.rdma.resourceName is required when multiNode.rdma.enabled is true: the extended "
         "resource the cluster's RDMA device plugin offers, e.g. rdma/rdma_shared_device_a or rdma/hca",
         {"multiNode": {"rdma": {"enabled": True, "resourceName": "rdma/hca"}}}, example="multi-node"),
    Case("RDMA only between the nodes of a group", {"multiNode": {"rdma": {"enabled": True, "resourceName": "rdma/hca"}}},
         "vllm-models: multiNode.rdma.enabled is true but multiNode.nodes is 1: it connects the nodes of a multi-node "
         "group; set multiNode.nodes above 1 or drop it",
         {"multiNode": {"rdma": {"enabled": False, "resourceName": "rdma/hca"}}}),
    Case("host networking only for a group", {"multiNode": {"hostNetwork": True}},
         "vllm-models: multiNode.hostNetwork is true but multiNode.nodes is 1: it connects the nodes of a multi-node "
         "group; set multiNode.nodes above 1 or drop it",
         {"multiNode": {"hostNetwork": False}}),
    Case("a group's name leaves room for the StatefulSet label", {"fullnameOverride": "llms-v2-" + "x" * 43},
         "vllm-models: fullnameOverride llms-v2-" + "x" * 43 + " (51 characters) is too long for a multi-node group "
         "of replicaCount 1: LeaderWorkerSet names each group's StatefulSet <name>-<group index>, and its pods' "
         "controller-revision-hash label then exceeds 63 characters; use at most 50 characters",
         {"fullnameOverride": "llms-v2-" + "x" * 42}, example="multi-node"),
    Case("a group's name leaves room for two-digit group indexes", {"fullnameOverride": "llms-v2-" + "x" * 42,
                                                                   "replicaCount": 11},
         "vllm-models: fullnameOverride llms-v2-" + "x" * 42 + " (50 characters) is too long for a multi-node group "
         "of replicaCount 11: LeaderWorkerSet names each group's StatefulSet <name>-<group index>, and its pods' "
         "controller-revision-hash label then exceeds 63 characters; use at most 49 characters",
         {"fullnameOverride": "llms-v2-" + "x" * 42, "replicaCount": 10}, example="multi-node"),
    Case("a group rollout can progress",
         {"deployment": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}}},
         "vllm-models: deployment.updateStrategy.rollingUpdate.maxUnavailable and maxSurge are both 0, which "
         "LeaderWorkerSet refuses (a rollout could never progress); keep maxSurge 1 (a spare group) or set "
         "maxUnavailable 1 and maxSurge 0 (replace groups in place)",
         {"deployment": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}}}, example="multi-node"),
    Case("a group's disruption budget counts its pods", {"podDisruptionBudget": {"minAvailable": 2}},
         "vllm-models: podDisruptionBudget.minAvailable (2) must be below the pod count, replicaCount (1) x "
         "multiNode.nodes (2) = 2: otherwise no pod can ever be evicted and node drains hang; use maxUnavailable: 1 "
         "instead (one pod, so one group, at a time)",
         {"podDisruptionBudget": {"minAvailable": 1}}, example="multi-node"),
    Case("the chart sets a group's networking variables", {"extraEnv": [{"name": "VLLM_HOST_IP", "value": "10.0.0.1"}]},
         "vllm-models: extraEnv sets VLLM_HOST_IP, which the chart sets for a multi-node group (VLLM_HOST_IP from the "
         "pod's IP, NCCL_SOCKET_IFNAME and GLOO_SOCKET_IFNAME from multiNode.socketInterface, NCCL_IB_HCA from "
         "multiNode.rdma.hca); set that key instead",
         {"extraEnv": [{"name": "VLLM_HOST_IP", "value": "10.0.0.1"}], "multiNode": {"nodes": 1},
          "deployment": {"pipelineParallel": 1}}, example="multi-node"),
    Case("extraArgs may not set the group's size", {"deployment": {"extraArgs": ["--nnodes", "3"]}},
         "vllm-models: deployment.extraArgs sets --nnodes, which the chart manages from multiNode.nodes; set that key "
         "instead of passing the flag",
         {"deployment": {"extraArgs": ["--max-num-batched-tokens", "8192"]}}, example="multi-node"),
    Case("no async scheduling with pipeline parallelism", {"deployment": {"asyncScheduling": True}},
         "vllm-models: deployment.asyncScheduling is true with deployment.pipelineParallel 2: vLLM refuses async "
         "scheduling with pipeline parallelism and the pod would crash-loop; set asyncScheduling: false (or "
         "pipelineParallel: 1)",
         {"deployment": {"asyncScheduling": False}}, example="multi-node"),
    Case("no async scheduling on Ray", {"deployment": {"asyncScheduling": True, "tensorParallel": 16, "pipelineParallel": 1}},
         "vllm-models: deployment.asyncScheduling is true with the Ray launcher (multiNode.launcher): vLLM's async "
         "scheduling runs only on its own multiprocessing executor; set asyncScheduling: false, or "
         "multiNode.launcher native (vLLM v0.11.1 or newer)",
         {"deployment": {"asyncScheduling": True, "tensorParallel": 16, "pipelineParallel": 1},
          "image": {"tag": "v0.11.1"}}, example="multi-node"),
    # Weights delivery (s3-delivery.yaml, huggingface-delivery.yaml).
    Case("a download names its source", {"storage": {"download": {"enabled": True}}},
         "vllm-models: storage.download.enabled is true but storage.download.source is empty: name where the weights "
         "come from, s3 (storage.download.s3.uri) or huggingface (storage.download.huggingface.repo), or set "
         "enabled: false",
         {"storage": {"download": {"enabled": False}}}),
    Case("an S3 source names its objects", {"storage": {"download": {"s3": {"uri": ""}}}},
         "vllm-models: storage.download.s3.uri is required for storage.download.source s3: the model's directory in "
         "the bucket, s3://bucket/prefix",
         {"storage": {"download": {"s3": {"uri": "s3://models/qwen"}}}}, example="s3-delivery"),
    Case("an S3 source reads its keys from a Secret", {"storage": {"download": {"s3": {"credentialsSecret": {"name": ""}}}}},
         "vllm-models: storage.download.s3.credentialsSecret.name is required for storage.download.source s3 "
         "(s3://models/Qwen/Qwen3-32B-FP8) with storage.download.s3.auth secret: the Secret holding AWS_ACCESS_KEY_ID "
         "and AWS_SECRET_ACCESS_KEY, read through secretKeyRef (credentials never go in values); create it and name "
         "it here, or on EKS let the pods' ServiceAccount carry the role (storage.download.s3.auth irsa or "
         "eksPodIdentity)",
         {"storage": {"download": {"s3": {"credentialsSecret": {"name": "other-store"}}}}}, example="s3-delivery"),
    # Workload identity (storage.download.s3.auth): the role comes from the pods' ServiceAccount.
    Case("irsa needs the role on the service account",
         {"storage": {"download": {"s3": {**AWS_S3, "auth": "irsa"}}}},
         "vllm-models: storage.download.s3.auth irsa needs the IAM role on the ServiceAccount the chart creates: "
         f"serviceAccount.annotations.{IRSA_ROLE} is \"\", not an IAM role ARN (arn:aws:iam::<12-digit account>:"
         "role/<name>); set it to the role that may read s3://models/Qwen/Qwen3-32B-FP8",
         {"storage": {"download": {"s3": {**AWS_S3, "auth": "irsa"}}}, "serviceAccount": IRSA_ACCOUNT},
         example="s3-delivery"),
    Case("irsa needs a role arn, not a role name",
         {"storage": {"download": {"s3": {**AWS_S3, "auth": "irsa"}}},
          "serviceAccount": {"annotations": {IRSA_ROLE: "model-reader"}}},
         "vllm-models: storage.download.s3.auth irsa needs the IAM role on the ServiceAccount the chart creates: "
         f"serviceAccount.annotations.{IRSA_ROLE} is \"model-reader\", not an IAM role ARN (arn:aws:iam::<12-digit "
         "account>:role/<name>); set it to the role that may read s3://models/Qwen/Qwen3-32B-FP8",
         {"storage": {"download": {"s3": {**AWS_S3, "auth": "irsa"}}}, "serviceAccount": IRSA_ACCOUNT},
         example="s3-delivery"),
    Case("workload identity needs a service account of the release's own",
         {"storage": {"download": {"s3": {**AWS_S3, "auth": "eksPodIdentity"}}}, "serviceAccount": {"create": False}},
         "vllm-models: storage.download.s3.auth eksPodIdentity takes the role from the pods' ServiceAccount, but "
         "serviceAccount.create is false and serviceAccount.name is empty, so the pods run as the namespace's default "
         "ServiceAccount; set serviceAccount.create: true, or name the ServiceAccount that has the role in "
         "serviceAccount.name",
         {"storage": {"download": {"s3": {**AWS_S3, "auth": "eksPodIdentity"}}},
          "serviceAccount": {"create": False, "name": "model-reader"}}, example="s3-delivery"),
    Case("workload identity and a key secret are one source too many",
         {"storage": {"download": {"s3": {"endpoint": "", "auth": "eksPodIdentity"}}}},
         "vllm-models: storage.download.s3.credentialsSecret.name (model-store-credentials) is set with "
         "storage.download.s3.auth eksPodIdentity: the AWS CLI would use the Secret's keys before the "
         "ServiceAccount's role; drop the Secret's name, or set auth: secret",
         {"storage": {"download": {"s3": {**AWS_S3, "auth": "eksPodIdentity"}}}}, example="s3-delivery"),
    Case("workload identity reaches AWS S3 only",
         {"storage": {"download": {"s3": {"credentialsSecret": {"name": ""}, "auth": "eksPodIdentity"}}}},
         "vllm-models: storage.download.s3.auth eksPodIdentity gets credentials from AWS, which the S3-compatible "
         "store at storage.download.s3.endpoint (http://minio.storage.svc:9000) does not accept; use auth: secret "
         "with its key pair in storage.download.s3.credentialsSecret, or download from AWS S3 (endpoint empty)",
         {"storage": {"download": {"s3": {**AWS_S3, "auth": "eksPodIdentity"}}}}, example="s3-delivery"),
    Case("a Hugging Face source names its repository", {"storage": {"download": {"huggingface": {"repo": ""}}}},
         "vllm-models: storage.download.huggingface.repo is required for storage.download.source huggingface: the "
         "model repository on the Hub, e.g. deepseek-ai/DeepSeek-R1",
         {"storage": {"download": {"huggingface": {"repo": "meta-llama/Llama-3.1-8B"}}}}, example="huggingface-delivery"),
    Case("a download writes into the directory vLLM reads", {"deployment": {"model": "Qwen/Qwen3-32B-FP8"}},
         "vllm-models: deployment.model (Qwen/Qwen3-32B-FP8) must be a directory below storage.mountPath (/models) "
         "when storage.download.enabled is true: the weights are downloaded there and vLLM reads them offline; write "
         "it as /models/<org>/<model>",
         {"deployment": {"model": "/models/Qwen3-32B-FP8"}}, example="s3-delivery"),
    Case("the download fits inside the startup budget", {"storage": {"download": {"timeoutSeconds": 901}}},
         "vllm-models: storage.download.timeoutSeconds (901) exceeds the startup budget (900 s, from probes.startup or "
         "slowStart.maxStartupSeconds): the download must fit inside it (a group's leader waits for its slowest node); "
         "lower it, or raise slowStart.maxStartupSeconds",
         {"storage": {"download": {"timeoutSeconds": 900}}}, example="huggingface-delivery"),
    Case("the rollout deadline outlasts download and load", {"deployment": {"progressDeadlineSeconds": 1500}},
         "vllm-models: deployment.progressDeadlineSeconds (1500) must exceed the download time limit (600 s, "
         "storage.download.timeoutSeconds) + the startup budget (900 s) = 1500 s, or rollouts are marked failed while "
         "the weights download or load",
         {"deployment": {"progressDeadlineSeconds": 1501}}, example="huggingface-delivery"),
    Case("a ReadWriteOnce claim serves one pod", {"storage": {"type": "pvc", "pvc": {"accessModes": ["ReadWriteOnce"]}},
                                                  "replicaCount": 2},
         "vllm-models: storage.pvc.accessModes (ReadWriteOnce) attach the claim to one node, but it is shared by 2 "
         "pods (replicas 2 x multiNode.nodes 1); use ReadWriteMany (ReadOnlyMany without storage.download), or "
         "storage.type hostPath for a copy on each node",
         {"storage": {"type": "pvc", "pvc": {"accessModes": ["ReadWriteOnce"]}}, "replicaCount": 1}),
    Case("a ReadWriteOnce claim serves no group", {"storage": {"type": "pvc", "pvc": {"accessModes": ["ReadWriteOnce"]}}},
         "vllm-models: storage.pvc.accessModes (ReadWriteOnce) attach the claim to one node, but it is shared by 2 "
         "pods (replicas 1 x multiNode.nodes 2); use ReadWriteMany (ReadOnlyMany without storage.download), or "
         "storage.type hostPath for a copy on each node",
         {"storage": {"type": "pvc", "pvc": {"accessModes": ["ReadOnlyMany"]}}}, example="multi-node"),
    Case("a download writes into a writable claim", {"storage": {"pvc": {"accessModes": ["ReadOnlyMany"]}}},
         "vllm-models: storage.pvc.accessModes (ReadOnlyMany) mount the claim read-only, but storage.download writes "
         "the weights into it; use ReadWriteMany (or ReadWriteOnce for a single pod)",
         {"storage": {"pvc": {"accessModes": ["ReadWriteOnce"]}}, "replicaCount": 1}, example="s3-delivery"),
    Case("pods sharing a download share a ReadWriteMany claim",
         {"storage": {"pvc": {"accessModes": ["ReadWriteOnce", "ReadOnlyMany"]}}},
         "vllm-models: storage.pvc.accessModes (ReadWriteOnce, ReadOnlyMany) cannot let 2 pods (replicas 2 x "
         "multiNode.nodes 1) share the weights storage.download writes; use ReadWriteMany, or storage.type hostPath "
         "for a copy on each node",
         {"storage": {"pvc": {"accessModes": ["ReadWriteMany", "ReadOnlyMany"]}}}, example="s3-delivery"),
    Case("vLLM runs offline after a download", {"extraEnv": [{"name": "TRANSFORMERS_OFFLINE", "value": "0"}]},
         "vllm-models: extraEnv sets TRANSFORMERS_OFFLINE, which the chart sets to 1 because deployment.model "
         "(/models/Qwen/Qwen3-32B-FP8) is a local path (rules.yaml offline.env): vLLM reads the local or downloaded "
         "copy and must not reach for the Hub; drop it, or serve a Hugging Face id",
         {"extraEnv": [{"name": "HF_HUB_ENABLE_HF_TRANSFER", "value": "0"}]}, example="s3-delivery"),
    Case("a download image is pinned", {"storage": {"download": {"huggingface": {"image": {"repository": "python"}}}}},
         "vllm-models: storage.download.huggingface.image.tag is required with image.repository python: pin the "
         "download image to a release",
         {"storage": {"download": {"huggingface": {"image": {"repository": "python", "tag": "3.12-slim"}}}}},
         example="huggingface-delivery"),
    # LoRA adapters (lora.yaml).
    Case("an adapter name is listed once", {"lora": {"adapters": [SQL_ADAPTER, SQL_ADAPTER]}},
         "vllm-models: lora.adapters[1].name (llama-3-1-8b-sql) repeats lora.adapters[0].name: clients choose an "
         "adapter by name, so each is listed once; rename or remove one",
         {"lora": {"adapters": [SQL_ADAPTER, dict(SQL_ADAPTER, name="llama-3-1-8b-sql-2", path="/models/adapters/sql-2")]}},
         example="lora"),
    Case("an adapter is not named as the base model", {"lora": {"adapters": [dict(SQL_ADAPTER, name=LORA_SERVED)]}},
         f"vllm-models: lora.adapters[0].name ({LORA_SERVED}) is deployment.servedModelName: the adapter and the base "
         "model would share one name in /v1/models; rename the adapter",
         {"lora": {"adapters": [dict(SQL_ADAPTER, name=LORA_SERVED + "-sql")]}}, example="lora"),
    Case("an adapter's rank fits --max-lora-rank", {"lora": {"maxLoraRank": 8, "adapters": [dict(SQL_ADAPTER, rank=9)]}},
         "vllm-models: lora.adapters[0].rank (9) of adapter llama-3-1-8b-sql is above lora.maxLoraRank (8), so vLLM "
         "refuses to load it; raise lora.maxLoraRank to at least 9 (it sizes the GPU memory reserved per adapter slot) "
         "or serve a lower-rank adapter",
         {"lora": {"maxLoraRank": 8, "adapters": [dict(SQL_ADAPTER, rank=8)]}}, example="lora"),
    Case("the rank limit is one the version accepts", {"lora": {"maxLoraRank": 24}, "image": {"tag": f"v{RANKS_FROM}"}},
         f"vllm-models: lora.maxLoraRank (24) is not a rank vLLM {RANKS_FROM} (image.tag v{RANKS_FROM}) accepts for "
         f"--max-lora-rank (vllm-versions.yaml loraRanks: {RANKS}); use the smallest of them at or above your largest "
         "adapter's rank",
         {"lora": {"maxLoraRank": 24}, "image": {"tag": f"v{just_before(RANKS_FROM)}"}}, example="lora"),
    Case("the CPU cache holds a batch's adapters", {"lora": {"maxCpuLoras": 1}},
         "vllm-models: lora.maxCpuLoras (1) is below lora.maxLoras (2), which vLLM refuses at start (the CPU cache holds "
         "every adapter a batch uses); raise maxCpuLoras to at least 2 or leave it null",
         {"lora": {"maxCpuLoras": 2}}, example="lora"),
    Case("adapters need LoRA on", {"lora": {"enabled": False}},
         "vllm-models: lora.adapters is set but lora.enabled is false, so vLLM would serve no adapter; set "
         "lora.enabled: true, or drop lora.adapters",
         {"lora": {"enabled": False, "adapters": []}}, example="lora"),
    Case("runtime loading needs LoRA on", {"lora": {"runtimeUpdating": True}},
         "vllm-models: lora.runtimeUpdating is set but lora.enabled is false, so vLLM would serve no adapter; set "
         "lora.enabled: true, or drop lora.runtimeUpdating",
         {"lora": {"runtimeUpdating": False}}),
    Case("an adapter lives below the mount", {"lora": {"adapters": [dict(SQL_ADAPTER, path="/adapters/sql")]}},
         "vllm-models: lora.adapters[0].path (/adapters/sql) of adapter llama-3-1-8b-sql is not below "
         "storage.mountPath (/models), the only volume vLLM reads weights from; write it as /models/<dir>",
         {"lora": {"adapters": [dict(SQL_ADAPTER, path="/models/sql")]}}, example="lora"),
    Case("an adapter has its own directory",
         {"lora": {"adapters": [dict(SQL_ADAPTER, path="/models/meta-llama/Llama-3.1-8B-Instruct/")]}},
         "vllm-models: lora.adapters[0].path (/models/meta-llama/Llama-3.1-8B-Instruct/) of adapter llama-3-1-8b-sql is "
         "deployment.model, the base weights' directory; give the adapter its own directory",
         {"lora": {"adapters": [dict(SQL_ADAPTER, path="/models/meta-llama/Llama-3.1-8B-Instruct-sql")]}}, example="lora"),
    Case("a fetched adapter rides the weights' download", {"lora": {"adapters": [dict(SQL_ADAPTER, source="huggingface",
                                                                                      huggingface={"repo": "org/sql"})]}},
         "vllm-models: lora.adapters[0].source is huggingface, but storage.download is source s3: an adapter is fetched "
         "by the weights' download (its image, credentials and egress); set storage.download.enabled: true with source "
         "huggingface, or copy the adapter to /models/adapters/llama-3-1-8b-sql and drop its source",
         {"lora": {"adapters": [dict(SQL_ADAPTER, source="s3", s3={"uri": "s3://models/sql"})]}}, example="lora"),
    Case("a fetched adapter names its objects", {"lora": {"adapters": [{k: v for k, v in SQL_ADAPTER.items() if k != "s3"}]}},
         "vllm-models: lora.adapters[0].s3.uri is required for source s3: where adapter llama-3-1-8b-sql comes from "
         "(s3://bucket/prefix)",
         {"lora": {"adapters": [{k: v for k, v in SQL_ADAPTER.items() if k not in ("s3", "source")}]}}, example="lora"),
]


def refusal(tmp_path, case: Case, helm: str = "helm4") -> str:
    with pytest.raises(harness.RenderError) as refused:
        render_case(case.example, case.bad, tmp_path, helm=helm)
    return refused.value.stderr


@pytest.mark.parametrize("helm", ["helm4", "helm3"])
@pytest.mark.parametrize("case", SCHEMA_CASES, ids=lambda case: case.id)
def test_values_outside_the_schema_are_refused_with_helms_message(case, helm, tmp_path):
    stderr = refusal(tmp_path, case, helm)
    expected = HELM4_MESSAGES[case.id] if helm == "helm4" else case.message
    assert stderr.startswith("Error: values don't meet the specifications of the schema(s) in the following chart(s):")
    assert expected in stderr.splitlines(), f"{case.id}: {helm} says\n{stderr}"


@pytest.mark.parametrize("case", FAIL_CASES, ids=lambda case: case.id)
def test_values_the_chart_refuses_get_a_message_naming_key_value_and_fix(case, tmp_path):
    stderr = refusal(tmp_path, case)
    first = stderr.splitlines()[0]
    assert first.startswith("Error: execution error at (vllm-models/templates/"), stderr
    assert first.endswith(f"): {case.message}"), f"{case.id}: helm says\n{stderr}"


@pytest.mark.parametrize("case", SCHEMA_CASES + FAIL_CASES, ids=lambda case: case.id)
def test_the_nearest_accepted_value_renders(case, tmp_path):
    rendered = render_case(case.example, case.good, tmp_path)
    assert rendered.workload()


def test_a_refusal_names_the_values_file_that_sets_the_key():
    with pytest.raises(harness.RenderError) as refused:
        render_chart(example="single-gpu", values={"deployment": {"tensorParallel": 2}})
    message = str(refused.value)
    assert re.search(r"deployment\.tensorParallel is set in /\S+/single-gpu-overrides\.yaml\n", message), message
    assert "deployment.numGPUs is set in charts/vllm-models/examples/single-gpu.yaml" in message


def case_named(id: str) -> Case:
    return next(case for case in FAIL_CASES if case.id == id)


@pytest.mark.parametrize("helm", ["helm4", "helm3"])
def test_every_refusal_of_a_release_comes_in_one_message_each_with_its_own_text(helm, tmp_path):
    """A user who set two bad keys reads both refusals at once, a line each, not the second after fixing the first."""
    first, second = case_named("liveness tolerates one slow answer"), case_named("liveness gives each check time")
    both = harness.deep_merge(json.loads(json.dumps(first.bad)), second.bad)
    with pytest.raises(harness.RenderError) as refused:
        render_case("single-gpu", both, tmp_path, helm=helm)
    lines = refused.value.stderr.splitlines()
    assert lines[0].startswith("Error: execution error at (vllm-models/templates/") and \
        lines[0].endswith(f"): {first.message}") and lines[1] == second.message, f"{helm} says\n{refused.value.stderr}"
    assert refused.value.refusals == [m.removeprefix(harness.CHART_PREFIX) for m in (first.message, second.message)]


def test_a_release_refused_twice_reads_both_refusals_before_the_files_and_no_helm_dump(tmp_path):
    first, second = case_named("tensor parallel equals GPUs"), case_named("liveness gives each check time")
    both = harness.deep_merge(json.loads(json.dumps(first.bad)), second.bad)
    with pytest.raises(harness.RenderError) as refused:
        render_case(first.example, both, tmp_path)
    message = str(refused.value)
    subject, _, rest = message.partition("): ")
    assert subject.startswith(f"release {chart_examples.release_name(first.example)} ("), message
    assert rest.startswith(f"2 refusals:\n  - {first.message.removeprefix(harness.CHART_PREFIX)}\n"
                           f"  - {second.message.removeprefix(harness.CHART_PREFIX)}\n"), message
    assert harness.CHART_PREFIX not in message, "the chart's prefix is said once, by the subject, not per refusal"
    assert "vllm-models-values-" not in message and "refused:" not in message, \
        "the refusals say it all: no helm command naming a deleted temporary values file"
