"""Fit: does each release's model load on the GPUs it is pinned to, and do its pods find nodes?

Per GPU, as vLLM's V1 engine sizes it at start-up (vllm/v1/worker/gpu_worker.py
determine_available_memory, vllm/v1/core/kv_cache_utils.py; docs/fit.md walks through both):

    budget    = usable GPU memory x gpuMemoryUtilization
    KV memory = budget - weights per GPU - activation peak - non-torch memory [- CUDA graphs from v0.21]
                [- NCCL communicators, versions that measured them inside the budget]
    refused   when the KV memory cannot hold one sequence of maxModelLen (vLLM's start-up ValueError)

and the CUDA context (with the communicators and, before vLLM 0.21, the CUDA graphs) must fit in what
the budget leaves of the GPU, and online FP8 quantization's 16-bit weights must fit the GPU while they
load. Every constant is calibrated against public start-up logs (tests/fixtures/fit_calibration.yaml)
so that the KV memory lands at most vllmMemory.fitMarginGiB above vLLM's own figure. Model facts come
from environments/models.yaml, GPU products and the constants from environments/gpus.yaml, node pools
from each environment's values.yaml `nodePools`.

Placement: every pod of every release, plus the surge pods of every rollout that cannot remove a pod
first (all at once, as `helmfile apply` rolls every changed release), goes onto the environment's
nodes by first-fit decreasing: a pod needs its GPUs of the pinned product, its CPU and its memory on
one node. A pod that finds no node is reported with the pool and what each node has left.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import re
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from . import capacity, rules, toolchain
from . import render as harness
from .render import environment_file, load_yaml

GiB = 2**30
MODELS_FILE = "environments/models.yaml"
GPUS_FILE = "environments/gpus.yaml"
PRODUCT_LABEL = "nvidia.com/gpu.product"
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "bf16": 2, "fp16": 2, "float32": 4, "auto": None,
               "fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1, "fp8_inc": 1}


class FactsError(LookupError):
    """A model, product or node pool the fit check needs is not declared; the message says where to add it."""


@functools.lru_cache(maxsize=None)
def models() -> dict[str, dict]:
    return (load_yaml((toolchain.ROOT / MODELS_FILE).read_text()) or {}).get("models") or {}


@functools.lru_cache(maxsize=None)
def gpu_catalog() -> dict:
    return load_yaml((toolchain.ROOT / GPUS_FILE).read_text()) or {}


def gpus() -> dict[str, dict]:
    return gpu_catalog().get("gpus") or {}


def runtime() -> dict:
    return gpu_catalog()["vllmMemory"]


def product(name: str) -> dict:
    """The catalog entry of a node-label product name (or one of its aliases)."""
    for label, entry in gpus().items():
        if name == label or name in (entry.get("aliases") or []):
            return {"label": label, **entry}
    raise FactsError(f"GPU product {name} is not in {GPUS_FILE}; add it (memoryMiB, usableGiB, batchedTokens, "
                     f"maxNumSeqs) with the nvidia-smi or node-label output it comes from")


# --- The arithmetic, one GPU at a time --------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Inputs:
    """Everything the estimate needs; a release's come from its rendered command line and the facts."""
    model: Mapping
    usable_gib: float
    utilization: float
    tensor_parallel: int = 1
    pipeline_parallel: int = 1
    max_model_len: int | None = None  # None: the model's maxPositionEmbeddings
    batched_tokens: int = 8192
    max_num_seqs: int = 1024
    chunked_prefill: bool = True
    kv_cache_dtype: str = "auto"
    hybrid_kv_cache: bool = True  # off when a KV connector (LMCache) is set: sliding layers then hold every token
    nvlink: bool = False  # the product's GPUs talk over NVLink: tensor parallel allocates all-reduce buffers
    graphs_in_budget: bool = False  # vLLM >= 0.21 takes CUDA graphs from the budget
    legacy_sampler: bool = True  # vLLM < 0.17 profiled the sampler with more copies of the logits
    communicators_in_budget: bool = True  # vLLM measured NCCL communicators as non-torch memory
    communicators_beside_budget: bool = True  # vLLM created them before its memory snapshot
    lora_slots: int = 0  # --max-loras with --enable-lora: adapters a batch may hold at once (0: no LoRA)
    lora_rank: int = 0  # --max-lora-rank: every slot is allocated at this rank


@dataclasses.dataclass(frozen=True)
class Estimate:
    inputs: Inputs
    max_model_len: int
    budget_gib: float
    weights_gib: float  # per GPU
    activation_gib: float
    non_torch_gib: float  # with the NCCL communicators where vLLM counts them inside the budget
    communicator_gib: float  # NCCL communicators of a parallel run, per GPU
    graphs_gib: float  # what CUDA graphs take: from the budget (graphs_in_budget) or beside it
    kv_gib: float  # left for the KV cache
    kv_bytes_per_token: int  # per GPU, every cached layer, one token
    tokens: int  # "GPU KV cache size: N tokens"
    concurrency: float  # "Maximum concurrency for maxModelLen tokens per request"
    needed_gib: float  # one sequence of max_model_len
    outside_budget_gib: float  # CUDA context (+ communicators, + graphs before 0.21) beside the budget
    spare_gib: float  # what the GPU has beyond the budget
    load_peak_gib: float  # weights while loading (16-bit under online FP8 quantization) + what sits beside them

    @property
    def fits(self) -> bool:
        return self.kv_gib >= self.needed_gib and self.kv_gib > 0

    @property
    def headroom_ok(self) -> bool:
        return self.outside_budget_gib <= self.spare_gib + 1e-9  # equal in exact arithmetic counts as room

    @property
    def load_ok(self) -> bool:
        return self.load_peak_gib <= self.inputs.usable_gib + 1e-9


def dtype_bytes(kv_cache_dtype: str, model: Mapping) -> int:
    found = DTYPE_BYTES.get(kv_cache_dtype)
    return found if found is not None else DTYPE_BYTES[str(model.get("dtype", "bfloat16"))]


def is_moe(model: Mapping) -> bool:
    return bool(model.get("experts"))


def _layers(model: Mapping, pipeline_parallel: int) -> tuple[int, int]:
    """(full-attention layers, sliding-window layers) on the first pipeline stage (the largest)."""
    total = int(model["layers"])
    if model.get("attention") == "sliding":
        global_layers = int(model["globalLayers"])
        return math.ceil(global_layers / pipeline_parallel), math.ceil((total - global_layers) / pipeline_parallel)
    return math.ceil(total / pipeline_parallel), 0


def _layer_bytes(model: Mapping, tensor_parallel: int, element: int) -> int:
    """KV bytes one token takes in one layer on one GPU (vLLM's page_size_bytes / block_size)."""
    if model.get("attention") == "mla":  # one latent per token, the same on every tensor-parallel rank
        return (int(model["kvLoraRank"]) + int(model["qkRopeHeadDim"])) * element
    heads = max(1, int(model["kvHeads"]) // tensor_parallel)  # a rank keeps at least one KV head
    return 2 * heads * int(model.get("headDim") or int(model["hiddenSize"]) // int(model["attentionHeads"])) * element


def activation_bytes(model: Mapping, tokens: int, max_num_seqs: int, tensor_parallel: int,
                     legacy_sampler: bool = False) -> float:
    """The profile run's activation peak: its forward pass, then its sampler (environments/gpus.yaml vllmMemory)."""
    constants = runtime()
    hidden = int(model["hiddenSize"])
    if is_moe(model):
        per_token = int(model["moeIntermediateSize"]) * (int(model["expertsPerToken"]) + int(model.get("sharedExperts", 0)))
    else:
        per_token = int(model["intermediateSize"])
    forward = tokens * (4 * hidden + 3 * per_token / tensor_parallel) * 2
    copies = constants["legacySampler"]["samplerLogitCopies"] if legacy_sampler else constants["samplerLogitCopies"]
    sampler = min(max_num_seqs, tokens) * int(model["vocabSize"]) * 4 * copies
    # The forward pass's buffers are free by the time the sampler runs, except the fused-MoE workspace.
    peak = forward + sampler if is_moe(model) else max(forward, sampler)
    return max(peak, constants["activationFloorGiB"] * GiB)


def non_torch_bytes(inputs: Inputs) -> float:
    """CUDA/NCCL memory outside torch that grows during the profile run (environments/gpus.yaml vllmMemory)."""
    table = runtime()["nonTorchGiB"]
    if inputs.tensor_parallel > 1 and inputs.nvlink:
        return table["tensorParallelNVLink"] * GiB
    return table["parallel" if inputs.tensor_parallel * inputs.pipeline_parallel > 1 else "single"] * GiB


def lora_bytes(inputs: Inputs) -> float:
    """GPU memory vLLM allocates at start for LoRA: every slot (--max-loras) at --max-lora-rank, an A (in x rank)
    and a B (rank x out) matrix per target module and layer, in the model's dtype. vLLM targets every linear
    layer: q, k, v and o of attention, gate, up and down of the MLP (each expert's, for a MoE). Tensor
    parallelism splits one side of each pair: B of the column-parallel modules, A of the row-parallel ones."""
    if not inputs.lora_slots:
        return 0.0
    model, tp = inputs.model, inputs.tensor_parallel
    hidden = int(model["hiddenSize"])
    head_dim = int(model.get("headDim") or hidden // int(model["attentionHeads"]))
    q, kv = int(model["attentionHeads"]) * head_dim, int(model.get("kvHeads") or model["attentionHeads"]) * head_dim
    if is_moe(model):
        mlp, copies = int(model["moeIntermediateSize"]), int(model["experts"]) + int(model.get("sharedExperts", 0))
    else:
        mlp, copies = int(model["intermediateSize"]), 1
    # (in, out) of each module; column-parallel ones (q, k, v, gate, up) keep A whole, row-parallel (o, down) keep B.
    column = [(hidden, q), (hidden, kv), (hidden, kv)] + [(hidden, mlp)] * 2 * copies
    row = [(q, hidden)] + [(mlp, hidden)] * copies
    per_rank = sum(i + o / tp for i, o in column) + sum(i / tp + o for i, o in row)
    layers = math.ceil(int(model["layers"]) / inputs.pipeline_parallel)
    return inputs.lora_slots * inputs.lora_rank * per_rank * layers * dtype_bytes("auto", model)


def estimate(inputs: Inputs) -> Estimate:
    """vLLM's start-up arithmetic for one GPU of the first pipeline stage."""
    model, constants = inputs.model, runtime()
    block = int(constants["blockSize"])
    length = int(inputs.max_model_len or model["maxPositionEmbeddings"])
    parallel = inputs.tensor_parallel * inputs.pipeline_parallel
    element = dtype_bytes(inputs.kv_cache_dtype, model)
    budget = inputs.usable_gib * inputs.utilization * GiB
    weights = float(model["weightsGiB"]) * GiB / parallel
    batched = inputs.batched_tokens if inputs.chunked_prefill else max(length, inputs.batched_tokens)
    activation = activation_bytes(model, batched, inputs.max_num_seqs, inputs.tensor_parallel, inputs.legacy_sampler)
    communicator = constants["communicatorGiB"] * GiB if parallel > 1 and inputs.nvlink else 0.0
    non_torch = non_torch_bytes(inputs) + (communicator if inputs.communicators_in_budget else 0)
    full, sliding = _layers(model, inputs.pipeline_parallel)
    graphs = constants["cudaGraphsGiBPerLayer"]["moe" if is_moe(model) else "dense"] * (full + sliding) * GiB
    beside = constants["cudaContextGiB"] * GiB + (communicator if inputs.communicators_beside_budget else 0)
    loading = float(model.get("loadWeightsGiB") or model["weightsGiB"]) * GiB / parallel
    kv = budget - weights - activation - non_torch - (graphs if inputs.graphs_in_budget else 0) - lora_bytes(inputs)
    layer = _layer_bytes(model, inputs.tensor_parallel, element)
    if sliding and not inputs.hybrid_kv_cache:
        full, sliding = full + sliding, 0
    page = block * layer
    if sliding:  # vLLM's hybrid allocator: groups of `size` layers share one pool of blocks
        size = min(full, sliding)
        groups = math.ceil(full / size) + math.ceil(sliding / size)
        blocks = max(0, math.floor(kv / page / size))
        window = min(int(model["slidingWindow"]) - 1 + batched, length)
        per_request = (math.ceil(full / size) * math.ceil(length / block)
                       + math.ceil(sliding / size) * (math.ceil(window / block) + 1))
        tokens = blocks // groups * block
        needed = per_request * page * size
    else:
        blocks = max(0, math.floor(kv / (page * full)))
        per_request = math.ceil(length / block)
        tokens = blocks * block
        needed = per_request * page * full
    return Estimate(inputs, length, budget / GiB, weights / GiB, activation / GiB, non_torch / GiB,
                    communicator / GiB, graphs / GiB, kv / GiB, layer * (full + sliding), tokens,
                    blocks / per_request, needed / GiB, (beside + (0 if inputs.graphs_in_budget else graphs)) / GiB,
                    inputs.usable_gib - budget / GiB, (loading + beside) / GiB)


def longest_fitting(inputs: Inputs) -> int:
    """The longest maxModelLen whose one sequence fits (0 when not even a block does)."""
    low, high = 0, int(inputs.max_model_len or inputs.model["maxPositionEmbeddings"])
    while low < high:
        middle = (low + high + 1) // 2
        if estimate(dataclasses.replace(inputs, max_model_len=middle)).fits:
            low = middle
        else:
            high = middle - 1
    return low


# --- Calibration: the estimate against public start-up logs -------------------------------------------

CALIBRATION_FILE = "tests/fixtures/fit_calibration.yaml"


@functools.lru_cache(maxsize=None)
def calibration_cases() -> tuple[dict, ...]:
    # The evidence for the arithmetic travels with the code (like toolchain.toml), not with the fleet's data
    # that VLLM_MODELS_ROOT may point elsewhere.
    path = Path(__file__).resolve().parents[2] / CALIBRATION_FILE
    return tuple((load_yaml(path.read_text()) or {}).get("cases") or [])


def calibration_inputs(case: Mapping) -> Inputs:
    """A logged start-up as the estimate sees it: the case's GPU, parallelism, flags and vLLM version."""
    gpu = product(case["product"]) if "product" in case else {}
    version = version_tuple(str(case["vllmVersion"]))
    return Inputs(
        model=loaded_model(case["model"], case.get("quantization"), version),
        usable_gib=float(case.get("usableGiB") or gpu["usableGiB"]), utilization=float(case["utilization"]),
        tensor_parallel=int(case.get("tensorParallel", 1)), pipeline_parallel=int(case.get("pipelineParallel", 1)),
        max_model_len=int(case["maxModelLen"]),
        batched_tokens=int(case.get("batchedTokens", gpu.get("batchedTokens", 2048))),
        max_num_seqs=int(case.get("maxNumSeqs", gpu.get("maxNumSeqs", 256))),
        chunked_prefill=bool(case.get("chunkedPrefill", True)), nvlink=bool(gpu.get("nvlink")),
        **version_inputs(version))


def calibration_report() -> dict:
    """Every recorded case: the estimated and the logged KV GiB per GPU. The margin holds for the V1-engine
    cases (the fleet's catalogue starts at 0.10.2 on V1); V0 logs are listed for their token counts only."""
    rows = []
    for case in calibration_cases():
        result = estimate(calibration_inputs(case))
        rows.append({"id": case["id"], "engine": case.get("engine", "V1"), "vllmVersion": str(case["vllmVersion"]),
                     "gpu": case.get("product") or f"{case['usableGiB']} GiB", "tensorParallel": case.get("tensorParallel", 1),
                     "pipelineParallel": case.get("pipelineParallel", 1), "kvGiB": result.kv_gib,
                     "loggedKvGiB": case["logged"]["kvGiB"], "offGiB": result.kv_gib - case["logged"]["kvGiB"],
                     "source": case["source"]})
    held = [row for row in rows if row["engine"] == "V1"]
    return {"marginGiB": runtime()["fitMarginGiB"], "publicLogs": len(held),
            "worstGiB": max((row["offGiB"] for row in held), default=None), "cases": rows}


def margin_note() -> str:
    """One line for `vllm-models plan`: how far the KV estimate may sit above vLLM's own figure."""
    report = calibration_report()
    return (f"fit margin: the KV cache estimate is at most {report['marginGiB']:g} GiB per GPU above vLLM's own "
            f"figure in {report['publicLogs']} public start-up logs ({CALIBRATION_FILE}; docs/fit.md)")


# --- A release's inputs, from its render --------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Serving:
    """What a rendered release runs: its vLLM pod template and the group it belongs to."""
    kind: str
    name: str
    pod: Mapping  # the pod template spec that runs the API server
    nodes: int  # pods (nodes) per replica: 1, or a LeaderWorkerSet's size

    @property
    def container(self) -> Mapping:
        return next(c for c in self.pod["containers"] if c["name"] == "vllm")

    @property
    def gpus_per_pod(self) -> int:
        return int((self.container.get("resources") or {}).get("limits", {}).get("nvidia.com/gpu", 0))


def serving(rendered: harness.Rendered) -> Serving | None:
    """The release's vLLM workload: a Deployment, or a LeaderWorkerSet group (its leader's pod)."""
    for doc in rendered.documents:
        if doc.get("kind") == "Deployment":
            return Serving("Deployment", doc["metadata"]["name"], doc["spec"]["template"]["spec"], 1)
        if doc.get("kind") == "LeaderWorkerSet":
            template = doc["spec"]["leaderWorkerTemplate"]
            pod = (template.get("leaderTemplate") or template["workerTemplate"])["spec"]
            return Serving("LeaderWorkerSet", doc["metadata"]["name"], pod, int(template.get("size", 1)))
    return None


def flags(arguments: Sequence[str]) -> dict[str, str | bool]:
    """`--flag value`, `--flag=value` and bare `--flag` of a command line, underscores as dashes; the last wins."""
    found: dict[str, str | bool] = {}
    items = [str(a) for a in arguments]
    for index, item in enumerate(items):
        if not item.startswith("-") or re.fullmatch(r"-\d+(\.\d+)?", item):
            continue
        name, equals, value = item.partition("=")
        name = "--" + name.lstrip("-").replace("_", "-") if name.startswith("--") else name
        if equals:
            found[name] = value
        elif index + 1 < len(items) and not items[index + 1].startswith("--"):
            found[name] = items[index + 1]
        else:
            found[name] = True
    return found


def pinned_products(pod: Mapping) -> list[str]:
    """GPU products the pod may run on: its nodeSelector, or every value its required node affinity allows."""
    chosen = (pod.get("nodeSelector") or {}).get(PRODUCT_LABEL)
    if chosen:
        return [chosen]
    terms = (((pod.get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    allowed: list[str] = []
    for term in terms:
        for expression in term.get("matchExpressions") or []:
            if expression.get("key") == PRODUCT_LABEL and expression.get("operator") == "In":
                allowed += [v for v in expression.get("values") or [] if v not in allowed]
    return allowed


def checkpoint(rendered: harness.Rendered, container: Mapping) -> str:
    """modelInfo.checkpoint, else the served path below the models volume's mount (a Hugging Face id)."""
    explicit = harness.lookup(rendered.release.values(), "modelInfo.checkpoint")
    if explicit:
        return str(explicit)
    arguments = [str(a) for a in container.get("args") or []]
    path = str(flags(arguments).get("--model") or (arguments[0] if arguments and not arguments[0].startswith("-") else ""))
    for mount in container.get("volumeMounts") or []:
        if mount.get("name") == "models" and path.startswith(mount["mountPath"].rstrip("/") + "/"):
            return path[len(mount["mountPath"].rstrip("/")) + 1:]
    return path


def vllm_version(container: Mapping) -> tuple[int, ...] | None:
    match = re.search(r":v?(\d+)\.(\d+)\.(\d+)", container.get("image", ""))
    return tuple(int(part) for part in match.groups()) if match else None


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def version_inputs(version: tuple[int, ...] | None) -> dict[str, bool]:
    """What a vLLM version changes in the arithmetic (environments/gpus.yaml vllmMemory); an unknown version
    takes the cautious side of each."""
    constants = runtime()

    def before(key: str, table: Mapping = constants) -> bool:
        return version is None or version < version_tuple(table[key])
    return {"graphs_in_budget": not before("cudaGraphsInBudgetFrom"),
            "legacy_sampler": before("before", constants["legacySampler"]),
            "communicators_in_budget": before("communicatorsInBudgetBefore"),
            "communicators_beside_budget": version is None or not before("communicatorsBesideBudgetFrom")}


ONLINE_FP8 = ("fp8", "fbgemm_fp8", "ptpc_fp8")


def loaded_model(model: Mapping, quantization: str | None, version: tuple[int, ...] | None = None) -> Mapping:
    """The facts as vLLM loads them: --quantization fp8 on a 16-bit checkpoint stores its linear layers in
    one byte each at load (embeddings and norms stay 16-bit), halving most of the weights; before
    vllmMemory.onlineFp8FullPrecisionLoadBefore the 16-bit weights are all on the GPU first (loadWeightsGiB)."""
    if quantization not in ONLINE_FP8 or model.get("weightDtype") not in ("bf16", "fp16"):
        return model
    embeddings = int(model["vocabSize"]) * int(model["hiddenSize"]) * 2
    linear = float(model["parametersB"]) * 1e9 - embeddings
    loaded = {**model, "weightsGiB": round((linear + embeddings * 2) / GiB, 1)}
    if version is None or version < version_tuple(runtime()["onlineFp8FullPrecisionLoadBefore"]):
        loaded["loadWeightsGiB"] = float(model["weightsGiB"])
    return loaded


def release_inputs(rendered: harness.Rendered, workload: Serving, model: Mapping, gpu: Mapping) -> Inputs:
    container = workload.container
    given = flags(container.get("args") or [])
    version = vllm_version(container)
    model = loaded_model(model, str(given.get("--quantization") or given.get("-q") or "") or None, version)

    def number(name: str, default):
        value = given.get(name)
        return default if value in (None, True) else type(default)(value)
    return Inputs(
        model=model, usable_gib=float(gpu["usableGiB"]),
        utilization=number("--gpu-memory-utilization", 0.9),
        tensor_parallel=number("--tensor-parallel-size", 1), pipeline_parallel=number("--pipeline-parallel-size", 1),
        max_model_len=number("--max-model-len", int(model["maxPositionEmbeddings"])),
        batched_tokens=number("--max-num-batched-tokens", int(gpu["batchedTokens"])),
        max_num_seqs=number("--max-num-seqs", int(gpu["maxNumSeqs"])),
        chunked_prefill="--no-enable-chunked-prefill" not in given,
        kv_cache_dtype=str(given.get("--kv-cache-dtype", "auto")),
        hybrid_kv_cache="--kv-transfer-config" not in given and "--disable-hybrid-kv-cache-manager" not in given,
        nvlink=bool(gpu.get("nvlink")), **version_inputs(version),
        # vLLM's defaults for a flag the command line leaves out: one slot, rank 16 (rules.yaml lora).
        lora_slots=number("--max-loras", 1) if "--enable-lora" in given else 0,
        lora_rank=number("--max-lora-rank", int(rules.data()["lora"]["defaultMaxRank"])) if "--enable-lora" in given else 0)


# --- Node pools ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Pool:
    index: int
    name: str
    product: str
    gpus_per_node: int
    nodes: int
    cpu: Fraction
    memory: Fraction

    def describe(self) -> str:
        return (f"pool {self.name} ({self.nodes} node(s) x {self.gpus_per_node} {self.product}, "
                f"{capacity.show('cpu', self.cpu)} CPU, {capacity.show('memory', self.memory)} memory each)")


def node_pools(env: str, values: Mapping | None = None) -> list[Pool]:
    """The environment's declared node pools (environments/<env>/values.yaml nodePools)."""
    if values is None:
        values = load_yaml((toolchain.ENVIRONMENTS_DIR / env / "values.yaml").read_text()) or {}
    found = []
    for index, entry in enumerate(values.get("nodePools") or []):
        where = f"{environment_file(env)} nodePools[{index}]"
        missing = [key for key in ("name", "gpuProduct", "gpusPerNode", "nodes", "cpu", "memory") if key not in entry]
        if missing:
            raise FactsError(f"{where} lacks {', '.join(missing)}: a node pool names its GPU product (a key of "
                             f"{GPUS_FILE}), GPUs per node, node count and each node's allocatable cpu and memory")
        try:
            label = product(str(entry["gpuProduct"]))["label"]
        except FactsError as error:
            raise FactsError(f"{where}.gpuProduct: {error}") from None
        found.append(Pool(index, str(entry["name"]), label, int(entry["gpusPerNode"]), int(entry["nodes"]),
                          capacity.quantity(entry["cpu"]), capacity.quantity(entry["memory"])))
    return found


# --- Per release ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ReleaseFit:
    release: harness.Release
    checkpoint: str
    product: str
    estimate: Estimate | None
    problems: tuple[str, ...]

    def as_dict(self) -> dict:
        e = self.estimate
        data = {"release": self.release.name, "checkpoint": self.checkpoint, "product": self.product,
                "problems": list(self.problems)}
        if e:
            data.update({"weightsPerGpuGiB": round(e.weights_gib, 2), "kvCacheGiB": round(e.kv_gib, 2),
                         "kvBytesPerToken": e.kv_bytes_per_token, "kvTokens": e.tokens,
                         "maxModelLen": e.max_model_len, "maxConcurrency": round(e.concurrency, 2)})
        return data


def products_for(workload: Serving, pools: Sequence[Pool]) -> list[str]:
    pinned = pinned_products(workload.pod)
    return pinned or sorted({pool.product for pool in pools if pool.gpus_per_node > 0})


def release_fit(rendered: harness.Rendered, pools: Sequence[Pool]) -> list[ReleaseFit]:
    """The fit of a release on each GPU product it may run on (the pinned one, or every pool's)."""
    workload = serving(rendered)
    rel = rendered.release
    if workload is None or workload.gpus_per_pod == 0:
        return []
    where = harness.at(rel)
    key = checkpoint(rendered, workload.container)
    model = models().get(key)
    if model is None:
        return [ReleaseFit(rel, key, "", None, (
            f"{where}: no model facts for checkpoint {key} (deployment.model below storage.mountPath, or "
            f"modelInfo.checkpoint) in {MODELS_FILE}, so nothing proves it fits its GPUs; add them with "
            f"`vllm-models model-facts {key} --hf-config <its config.json>`",))]
    found = []
    for name in products_for(workload, pools):
        try:
            gpu = product(name)
        except FactsError as error:
            found.append(ReleaseFit(rel, key, name, None, (f"{where}: {error}",)))
            continue
        inputs = release_inputs(rendered, workload, model, gpu)
        result = estimate(inputs)
        found.append(ReleaseFit(rel, key, gpu["label"], result, tuple(fit_problems(rel, key, gpu, result, pools))))
    return found


def fit_problems(rel: harness.Release, key: str, gpu: Mapping, e: Estimate, pools: Sequence[Pool]) -> list[str]:
    where, i = harness.at(rel), e.inputs
    shape = (f"{gpu['label']} ({i.usable_gib:g} GiB usable x deployment.gpuMemoryUtilization {i.utilization:g} = "
             f"{e.budget_gib:.1f} GiB for vLLM)")
    parallel = f"tensorParallel {i.tensor_parallel} x pipelineParallel {i.pipeline_parallel}"
    spent = (f"weights take {e.weights_gib:.1f} GiB per GPU ({float(i.model['weightsGiB']):g} GiB over {parallel}), "
             f"activations ~{e.activation_gib:.1f} GiB, non-torch ~{e.non_torch_gib:.1f} GiB"
             + (f", CUDA graphs ~{e.graphs_gib:.1f} GiB" if i.graphs_in_budget else "")
             + (f", LoRA ~{lora_bytes(i) / GiB:.2f} GiB (lora.maxLoras {i.lora_slots} x lora.maxLoraRank "
                f"{i.lora_rank})" if i.lora_slots else ""))
    problems = []
    if not e.fits:
        left = max(e.kv_gib, 0)
        fixes = [f"more GPUs ({suggest_parallel(i, pools, gpu['label'])})", f"a larger product ({suggest_product(i)})"]
        if i.model.get("weightDtype") in ("bf16", "fp16"):
            fixes.append(f"a quantized checkpoint (FP8 weights halve {float(i.model['weightsGiB']):g} GiB)")
        longest = longest_fitting(i)
        fixes.append(f"a shorter deployment.maxModelLen (at most {longest} tokens fit)" if longest
                     else "a shorter deployment.maxModelLen (none fits: the weights alone exceed the budget)")
        problems.append(
            f"{where}: model {key} does not fit {shape}: {spent}, leaving {left:.1f} GiB for the KV cache, but one "
            f"sequence of {e.max_model_len} tokens (deployment.maxModelLen, {e.kv_bytes_per_token} KV bytes per token "
            f"per GPU) needs {e.needed_gib:.1f} GiB; vLLM refuses to start. Fix: " + ", or ".join(fixes))
    if not e.headroom_ok:
        beside = [f"the CUDA context (~{runtime()['cudaContextGiB']:g} GiB)"]
        if e.communicator_gib and i.communicators_beside_budget:
            beside.append(f"NCCL communicators (~{e.communicator_gib:g} GiB)")
        if not i.graphs_in_budget:
            beside.append(f"CUDA graphs (~{e.graphs_gib:.2f} GiB, captured after the KV cache before vLLM "
                          f"{runtime()['cudaGraphsInBudgetFrom']})")
        problems.append(
            f"{where}: on {gpu['label']} deployment.gpuMemoryUtilization {i.utilization:g} leaves {e.spare_gib:.2f} GiB "
            f"beside vLLM's budget, but {' and '.join(beside)} need {e.outside_budget_gib:.2f} GiB: vLLM runs out of "
            f"memory beside its budget; lower gpuMemoryUtilization to at most "
            f"{math.floor((i.usable_gib - e.outside_budget_gib) / i.usable_gib * 100) / 100:g}")
    if not e.load_ok:
        sixteen = float(i.model["loadWeightsGiB"])
        problems.append(
            f"{where}: on {gpu['label']} ({i.usable_gib:g} GiB usable) online FP8 quantization (--quantization fp8 on the "
            f"{i.model.get('weightDtype')} checkpoint {key}) loads all {sixteen:g} GiB of 16-bit weights before "
            f"quantizing them, {sixteen / (i.tensor_parallel * i.pipeline_parallel):.1f} GiB per GPU over {parallel}, "
            f"{e.load_peak_gib:.1f} GiB with the CUDA context and communicators beside them: loading runs out of "
            f"memory before vLLM {runtime()['onlineFp8FullPrecisionLoadBefore']}. Fix: a pre-quantized FP8 checkpoint, "
            f"more GPUs, or vLLM {runtime()['onlineFp8FullPrecisionLoadBefore']} or later")
    return problems


def _divides(model: Mapping, tensor_parallel: int) -> bool:
    return int(model["attentionHeads"]) % tensor_parallel == 0


def suggest_parallel(inputs: Inputs, pools: Sequence[Pool], label: str) -> str:
    per_node = max((p.gpus_per_node for p in pools if p.product == label), default=8)
    for tensor_parallel in (2, 4, 8, 16):
        if tensor_parallel * inputs.pipeline_parallel <= inputs.tensor_parallel * inputs.pipeline_parallel \
                or not _divides(inputs.model, tensor_parallel):
            continue
        result = estimate(dataclasses.replace(inputs, tensor_parallel=tensor_parallel))
        if result.fits:
            if tensor_parallel <= per_node:
                return (f"tensorParallel {tensor_parallel} = numGPUs {tensor_parallel}: {result.weights_gib:.1f} GiB of "
                        f"weights per GPU, {result.tokens} KV tokens")
            nodes = math.ceil(tensor_parallel / per_node)
            return (f"{tensor_parallel} GPUs over {nodes} nodes of {per_node} (multiNode.nodes {nodes}): "
                    f"{result.weights_gib:.1f} GiB of weights per GPU")
    return "no tensor parallel size up to 16 fits"


def suggest_product(inputs: Inputs) -> str:
    current = inputs.usable_gib
    for label, entry in sorted(gpus().items(), key=lambda item: item[1]["usableGiB"]):
        if entry["usableGiB"] <= current:
            continue
        result = estimate(dataclasses.replace(inputs, usable_gib=float(entry["usableGiB"])))
        if result.fits:
            return f"{label} leaves {result.kv_gib:.1f} GiB for the KV cache"
    return "no product in environments/gpus.yaml fits at this parallelism"


# --- Placement -------------------------------------------------------------------------------------

@dataclasses.dataclass
class Node:
    pool: Pool
    index: int
    gpus: int
    cpu: Fraction
    memory: Fraction
    holds: list[str] = dataclasses.field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.pool.name}-{self.index}"


@dataclasses.dataclass(frozen=True)
class Pod:
    release: harness.Release
    role: str  # "replica" or "rollout surge"
    gpus: int
    cpu: Fraction
    memory: Fraction
    products: tuple[str, ...]

    def describe(self) -> str:
        what = "its rollout's surge pod" if self.role == "rollout surge" else "a pod"
        return (f"{what} ({self.gpus} GPU(s), {capacity.show('cpu', self.cpu)} CPU, "
                f"{capacity.show('memory', self.memory)} memory)")


def pods_of(rendered: harness.Rendered, pools: Sequence[Pool], *, surge: bool = True) -> list[Pod]:
    """Every pod the release holds at its peak: replicas x group size, plus its rollout's surge pods
    (`surge=False`: the replicas alone, as a settled installation runs them)."""
    workload = serving(rendered)
    if workload is None:
        return []
    held = capacity.footprint(rendered)
    group = getattr(held, "group_size", workload.nodes)
    per = held.per_pod
    pod = dict(gpus=int(per.get("requests.nvidia.com/gpu", 0)), cpu=per.get("requests.cpu", Fraction(0)),
               memory=per.get("requests.memory", Fraction(0)), products=tuple(products_for(workload, pools)))
    found = [Pod(rendered.release, "replica", **pod) for _ in range(held.replicas * group)]
    if surge and held.waits_for_surge:
        found += [Pod(rendered.release, "rollout surge", **pod) for _ in range(held.surge_pods * group)]
    return found


@dataclasses.dataclass
class Placement:
    environment: str
    nodes: list[Node]
    problems: list[str]

    def as_dict(self) -> dict:
        return {"environment": self.environment, "problems": self.problems,
                "nodes": [{"node": n.name, "pool": n.pool.name, "product": n.pool.product, "gpusFree": n.gpus,
                           "cpuFree": capacity.show("cpu", n.cpu), "memoryFree": capacity.show("memory", n.memory),
                           "pods": n.holds} for n in self.nodes]}


def place(env: str, renders: Iterable[harness.Rendered], pools: Sequence[Pool], *, surge: bool = True) -> Placement:
    """First-fit decreasing of every pod (GPUs, then memory, then CPU) onto the environment's nodes: the
    replicas, then every rollout's surge pods."""
    nodes = [Node(pool, index, pool.gpus_per_node, pool.cpu, pool.memory)
             for pool in pools for index in range(pool.nodes)]
    pods = [pod for rendered in renders for pod in pods_of(rendered, pools, surge=surge)]
    # Replicas first (they run before any rollout), then the surge pods; each largest first.
    pods.sort(key=lambda p: (p.role != "replica", -p.gpus, -p.memory, -p.cpu, p.release.name))
    problems: list[str] = []
    reported: set[tuple[str, str]] = set()
    for pod in pods:
        candidates = [n for n in nodes if pod.gpus == 0 or n.pool.product in pod.products]
        target = next((n for n in candidates if n.gpus >= pod.gpus and n.cpu >= pod.cpu and n.memory >= pod.memory),
                      None)
        if target is not None:
            target.gpus -= pod.gpus
            target.cpu -= pod.cpu
            target.memory -= pod.memory
            target.holds.append(f"{pod.release.name}{' (surge)' if pod.role == 'rollout surge' else ''}")
            continue
        if (pod.release.name, pod.role) in reported:
            continue
        reported.add((pod.release.name, pod.role))
        problems.append(unplaced(env, pod, candidates, pools))
    return Placement(env, nodes, problems)


def unplaced(env: str, pod: Pod, candidates: Sequence[Node], pools: Sequence[Pool]) -> str:
    where = f"environment {env}: release {pod.release.name} ({pod.release.model_file})"
    file = environment_file(env)
    if not candidates:
        declared = ", ".join(sorted({p.product for p in pools})) or "none"
        return (f"{where}: {pod.describe()} may run only on {', '.join(pod.products)}, but {file} nodePools declares "
                f"no such node (its products: {declared}); add a pool of that product or pin the release to one "
                f"(gpuProducts, or global.nodeSelector nvidia.com/gpu.product)")
    widest = max(c.pool.gpus_per_node for c in candidates)
    if pod.gpus > widest:
        return (f"{where}: {pod.describe()} needs {pod.gpus} GPUs on one node, but {candidates[0].pool.describe()} "
                f"has {widest} per node; use tensorParallel x pipelineParallel over several nodes (multiNode.nodes) "
                f"with at most {widest} GPUs per pod, or a pool with larger nodes")
    left = ", ".join(f"{n.name} {n.gpus} GPU(s)/{capacity.show('cpu', n.cpu)} CPU/{capacity.show('memory', n.memory)}"
                     for n in candidates)
    pool = candidates[0].pool
    return (f"{where}: {pod.describe()} finds no node in {pool.describe()} once the larger pods are placed "
            f"(first-fit decreasing, every release at its peak: replicas plus the surge pods of every rollout that "
            f"cannot remove a pod first); free per node: {left}. Fix: add nodes ({file} nodePools[{pool.index}].nodes), "
            f"let rollouts remove a pod first (deployment.updateStrategy), or disable a release")


# --- Fleet rule ------------------------------------------------------------------------------------

def check_environment(env: str, renders: Sequence[harness.Rendered]) -> list[str]:
    """Every installed release fits its GPUs, and every pod (with every rollout's surge) finds a node."""
    try:
        pools = node_pools(env)
    except FactsError as error:
        return [f"environment {env}: {error}"]
    if not pools:
        return [f"environment {env}: {environment_file(env)} declares no nodePools, so nothing proves its releases "
                f"fit GPUs or find nodes; declare each node pool (name, gpuProduct, gpusPerNode, nodes, cpu, memory)"]
    problems = [problem for rendered in renders for fit in release_fit(rendered, pools) for problem in fit.problems]
    return problems + place(env, renders, pools).problems
