"""`new-model`: write a model file from the seed template of its shape, sized from sizing.yaml.

Every number a newcomer used to look up is derived here: the NodePort (next free in the category's
ranges), memory and CPU (sizing.yaml resources by parameters), /dev/shm (by GPUs), the startup
threshold (size class) and grace period (grace table), the development GPU-memory cap. The enable
flag goes into environments/<env>/values.yaml by a textual edit that keeps its comments and layout.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import re
import string
from decimal import Decimal
from pathlib import Path

import yaml

from . import capacity, fit, golden, modelfacts, policy, ports, toolchain, yamledit
from . import render as harness
from .yamledit import Edits

TEMPLATES = Path(__file__).resolve().parent / "templates"
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME = 40  # llms-v2-<name> plus the chart's longest suffix (-dashboard) stays a 63-character DNS name
GPU_COUNTS = (1, 2, 4, 8)  # tensor-parallel sizes that divide every served model's attention heads
NO_QUANTIZATION = "none"  # --quantization none: deployment.quantization null, the weights as the checkpoint stores them


class Refusal(Exception):
    """The command will not do what was asked; the message says why and what to do instead."""


class PolicyRefusal(Refusal):
    """The written release would fail a policy: `denied` holds the violations, `rendered` the release."""

    def __init__(self, message: str, denied: list, rendered: harness.Rendered):
        super().__init__(message)
        self.denied, self.rendered = denied, rendered


@dataclasses.dataclass(frozen=True)
class Shape:
    template: str
    seed: str
    category: str
    architecture: str
    gpu_memory_utilization: str  # seed "GPU Memory Utilization" by model type
    quantization: str | None  # the seed template's
    multi_gpu: bool | None  # True: needs >1 GPU; False: exactly 1; None: either
    tool_call_parser: str | None = None
    memory_factor: Decimal = Decimal(1)


SHAPES = {
    "single-gpu": Shape("single-gpu.yaml", "Template 1", "language", "dense", "0.85", "fp8", False),
    "multi-gpu": Shape("multi-gpu.yaml", "Template 2", "language", "dense", "0.9", "fp8", True),
    "vision": Shape("vision.yaml", "Template 3", "vision-language", "dense", "0.95", None, None),
    "moe": Shape("moe.yaml", "Template 4", "language", "moe", "0.95", None, None),
    "function-calling": Shape("function-calling.yaml", "Template 5", "language", "dense", "0.9", None, None,
                              tool_call_parser="hermes"),
    # Seed Template 6 sizes a 32B model at 300Gi/24 CPU where the table says 200Gi/16: half again
    # for the CPU-side KV cache.
    "lmcache": Shape("lmcache.yaml", "Template 6", "language", "dense", "0.85", None, None,
                     memory_factor=Decimal("1.5")),
}


@dataclasses.dataclass(frozen=True)
class Request:
    name: str
    env: str
    shape: str
    params_b: int | None = None  # None: from the model facts (--hf-config, or environments/models.yaml)
    category: str | None = None
    model_path: str | None = None
    served_name: str | None = None
    tp: int | None = None
    architecture: str | None = None
    tool_call_parser: str | None = None
    hf_config: Path | None = None
    quantization: str | None = None


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything new-model derived, for the summary it prints."""

    category: str
    file: str  # repo-relative
    text: str
    port: int
    port_note: str
    gpus: int
    values: dict
    notes: tuple[str, ...]
    checkpoint: str = ""
    new_facts: dict | None = None  # the environments/models.yaml entry --hf-config adds
    quantization: str | None = None  # deployment.quantization written (None: the checkpoint's weights as stored)
    quantization_note: str = ""  # which, and why


@functools.lru_cache(maxsize=None)
def sizing() -> dict:
    return yaml.safe_load((toolchain.CHART_DIR / "sizing.yaml").read_text())["sizing"]


def last_row(rows: list[dict], key: str, amount: int, **match) -> dict:
    """The last row whose `key` is <= amount (and whose optional fields equal `match`): sizing.yaml's rule."""
    found = {}
    for row in rows:
        if row[key] <= amount and all(row.get(k, v) == v for k, v in match.items()):
            found = row
    return found


@functools.lru_cache(maxsize=None)
def quantization_methods() -> tuple[str, ...]:
    """deployment.quantization's methods in the chart's schema (its null is --quantization none)."""
    schema = json.loads((toolchain.CHART_DIR / "values.schema.json").read_text())
    return tuple(m for m in schema["properties"]["deployment"]["properties"]["quantization"]["enum"] if m is not None)


def utilization_cap(env: str) -> Decimal | None:
    """The most of a GPU's memory vLLM may take in env: development keeps an extra margin (sizing.yaml
    gpuMemoryUtilization.developmentMax); elsewhere the seed's value for the model type stands."""
    if env != "development":
        return None
    return Decimal(str(sizing()["gpuMemoryUtilization"]["developmentMax"]))


def shape_of(values: dict, category: str) -> str:
    """The seed template a model file's values correspond to (what new-model would have written it from)."""
    deployment = values.get("deployment") or {}
    offloading = deployment.get("kvOffloading") or {}
    if category == "vision-language":
        return "vision"
    if (values.get("modelInfo") or {}).get("architecture") == "moe":
        return "moe"
    if offloading.get("enabled") and offloading.get("backend") == "lmcache":
        return "lmcache"
    if deployment.get("functionCall"):
        return "function-calling"
    return "multi-gpu" if int(deployment.get("tensorParallel") or 1) > 1 else "single-gpu"


def quantization_choice(req: "Request", entry: dict | None, shape: "Shape") -> tuple[str | None, str]:
    """The --quantization new-model writes (None: the weights as stored), and the summary's why."""
    stored = (entry or {}).get("weightDtype")
    weights = f"{stored} weights" if stored else "weights"
    if req.quantization == NO_QUANTIZATION:
        return None, (f"none (--quantization none): vLLM loads the checkpoint's {weights} as stored, and the fit "
                      f"check sizes them as such")
    if req.quantization:
        return req.quantization, f"{req.quantization} (--quantization)"
    if stored in ("fp8", "int8", "int4"):
        return None, f"none: the checkpoint stores {stored} weights, which vLLM reads as they are"
    if shape.quantization:
        return shape.quantization, (
            f"{shape.quantization}, seed {shape.seed}'s: vLLM converts the checkpoint's {weights} to "
            f"{shape.quantization} as it loads them (half the memory, some accuracy); --quantization "
            f"{NO_QUANTIZATION} keeps them {stored or 'as stored'}")
    return None, f"none, seed {shape.seed}'s: vLLM loads the checkpoint's {weights} as stored"


def default_gpus(params_b: int) -> int:
    """Seed "Right-Sizing GPU Resources" (FP8 on 80GB GPUs): up to 40B one GPU, 70B four, 405B+ eight."""
    return 1 if params_b <= 40 else 4 if params_b <= 100 else 8


def quantity_times(quantity: str, factor: Decimal) -> str:
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(quantity)).groups()
    value = (Decimal(number) * factor).normalize()
    return f"{value:f}{unit}"




def model_facts(req: Request) -> tuple[str, dict | None, dict | None]:
    """(checkpoint, its facts, the facts --hf-config adds) for the request; Refusal without a model path."""
    if not req.model_path:
        raise Refusal("pass --model-path: the checkpoint's directory under the models mount, e.g. "
                      "/models/meta-llama/Llama-3.3-70B-Instruct-FP8 (its part below /models is the checkpoint's id "
                      "in environments/models.yaml)")
    mount = "/models/"
    if not req.model_path.startswith(mount) or req.model_path.rstrip("/") == mount.rstrip("/"):
        raise Refusal(f"--model-path {req.model_path} is not a directory below {mount} (storage.mountPath), where "
                      f"storage.type hostPath mounts the host's models; e.g. /models/Qwen/Qwen3-32B-FP8")
    checkpoint = req.model_path[len(mount):].rstrip("/")
    known = fit.models().get(checkpoint)
    if req.hf_config is None:
        return checkpoint, known, None
    try:
        entry = modelfacts.facts(modelfacts.read_config(req.hf_config), label=str(req.hf_config),
                                 source=f"config.json of {checkpoint} ({req.hf_config.name}, via vllm-models new-model)")
    except modelfacts.FactsRefused as error:
        raise Refusal(f"--hf-config {req.hf_config}: {error}") from None
    if known is None:
        return checkpoint, entry, entry
    # A second model from a checkpoint already described: the same config.json says the same, so the entry stands.
    differ = [f"{key} {known.get(key)} there, {entry.get(key)} in the config" for key in sorted(set(known) | set(entry))
              if key != "source" and known.get(key) != entry.get(key)]
    if differ:
        raise Refusal(f"{fit.MODELS_FILE} already has facts for {checkpoint} that --hf-config {req.hf_config} "
                      f"contradicts ({'; '.join(differ)}): correct that entry, or drop --hf-config to use it as it is")
    return checkpoint, known, None


def smallest_fitting_gpus(env: str, entry: dict, shape: Shape, utilization: Decimal) -> int | None:
    """The fewest GPUs (of GPU_COUNTS, dividing the attention heads) on which the model fits every GPU
    product of the environment's node pools, at the shape's utilization."""
    try:
        products = sorted({pool.product for pool in fit.node_pools(env)})
    except fit.FactsError:
        products = []
    for gpus in GPU_COUNTS:
        if int(entry["attentionHeads"]) % gpus or (shape.multi_gpu is True and gpus < 2):
            continue
        if products and all(fit.estimate(fit.Inputs(model=entry, usable_gib=float(fit.product(p)["usableGiB"]),
                                                    utilization=float(utilization), tensor_parallel=gpus,
                                                    batched_tokens=int(fit.product(p)["batchedTokens"]),
                                                    max_num_seqs=int(fit.product(p)["maxNumSeqs"]))).fits
                            for p in products):
            return gpus
    return None


def validate(req: Request, entry: dict | None = None) -> tuple[Shape, str, int, str]:
    """Shape, category, GPUs, architecture for the request; Refusal on any inconsistency."""
    envs = harness.environments()
    if req.env not in envs:
        raise Refusal(f"environment {req.env} is not in environments/fleet.yaml promotionOrder ({', '.join(envs)})")
    if not NAME.match(req.name) or len(req.name) > MAX_NAME:
        raise Refusal(f"NAME {req.name!r} must be lowercase letters, digits and '-', at most {MAX_NAME} characters "
                      f"(the release is llms-v2-NAME, a Kubernetes name); e.g. llama-3-3-70b-instruct")
    shape = SHAPES[req.shape]
    category = req.category or shape.category
    if (category == "vision-language") != (req.shape == "vision"):
        raise Refusal(f"--shape {req.shape} does not fit --category {category}: vision-language models use "
                      f"--shape vision (its --tp and --architecture cover multi-GPU and MoE ones), and "
                      f"--shape vision needs --category vision-language")
    if req.params_b is None:
        raise Refusal("pass --params-b (the parameter count in whole billions) or --hf-config (the model's "
                      "config.json, from which it is derived)")
    if req.params_b < 1:
        raise Refusal(f"--params-b {req.params_b}: the parameter count in whole billions, at least 1")
    fitting = smallest_fitting_gpus(req.env, entry, shape, Decimal(shape.gpu_memory_utilization)) if entry else None
    gpus = req.tp or fitting or default_gpus(req.params_b)
    if shape.multi_gpu is True:
        gpus = req.tp or max(2, gpus)
    if shape.multi_gpu is False:
        if req.tp not in (None, 1):
            raise Refusal(f"--shape single-gpu runs on one GPU, not --tp {req.tp}; use --shape multi-gpu --tp {req.tp}")
        if req.params_b > 40 or (entry and fitting != 1):
            needed = f"--tp {fitting}" if fitting else f"--tp {default_gpus(req.params_b)} or more"
            raise Refusal(f"--shape single-gpu runs on one GPU, and a {req.params_b}B model does not fit one GPU of "
                          f"{req.env}'s node pools (seed: Template 1 for 7B-32B); use --shape multi-gpu ({needed})")
        gpus = 1
    if gpus not in GPU_COUNTS:
        raise Refusal(f"--tp {gpus}: tensor parallel size must be one of {', '.join(map(str, GPU_COUNTS))} "
                      f"(GPUs of one node; attention heads must divide evenly)")
    if shape.multi_gpu is True and gpus < 2:
        raise Refusal("--shape multi-gpu needs --tp 2 or more; use --shape single-gpu for one GPU")
    architecture = req.architecture or ("moe" if entry and entry.get("experts") else shape.architecture)
    if req.shape == "moe" and architecture != "moe":
        raise Refusal("--shape moe is for mixture-of-experts models: drop --architecture dense or pick another shape")
    return shape, category, gpus, architecture


def existing(name: str) -> list[str]:
    """Model files for NAME anywhere in the fleet (repo-relative)."""
    categories = harness.fleet_data().get("categories") or []
    return [f"environments/{env}/{category}/{name}.yaml" for env in harness.environments() for category in categories
            if (toolchain.ENVIRONMENTS_DIR / env / category / f"{name}.yaml").exists()]


def served_names(env: str) -> dict[str, str]:
    return {str(harness.lookup(rel.values(), "deployment.servedModelName")): rel.model_file
            for rel in harness.model_releases(env, include_disabled=True)}


def image_tag(env: str) -> str:
    values = yaml.safe_load(yamledit.environment_values_text(env)) or {}
    tag = ((values.get("global") or {}).get("image") or {}).get("tag")
    if not tag:
        raise Refusal(f"environments/{env}/values.yaml sets no global.image.tag, so the new model would have no "
                      f"vLLM version; set global.image.tag (e.g. v0.11.0)")
    return str(tag)


def build(req: Request) -> Plan:
    """Derive every value and the file text; refuses before anything is written."""
    checkpoint, entry, new_facts = model_facts(req)
    if req.params_b is None and entry is not None:
        req = dataclasses.replace(req, params_b=modelfacts.size_class_parameters(entry))
    # GPUs are counted for the checkpoint's weights as stored, quantized at load or not: never fewer than it needs.
    shape, category, gpus, architecture = validate(req, entry)
    quantization, quantization_note = quantization_choice(req, entry, shape)
    if quantization:
        check_quantization(req.env, quantization)
    found = existing(req.name)
    if found:
        here = [f for f in found if f.startswith(f"environments/{req.env}/")]
        if here:
            raise Refusal(f"{here[0]} already exists (release llms-v2-{req.name}); pick another NAME, or edit that file")
        holders = [f.split("/")[1] for f in found]
        order = harness.environments()
        earlier = [env for env in holders if order.index(env) < order.index(req.env)]
        source = earlier[-1] if earlier else holders[0]
        raise Refusal(f"model {req.name} already exists in the fleet ({', '.join(found)}); to run it in {req.env} "
                      f"use `vllm-models promote {req.name} --from {source} --to {req.env}` so it keeps its port")
    served = req.served_name or req.name
    taken_names = served_names(req.env)
    if served in taken_names:
        raise Refusal(f"served model name {served!r} is already served in {req.env} by {taken_names[served]} "
                      f"(deployment.servedModelName); pass --served-name with another name")

    table = sizing()
    envs = harness.environments()
    port = ports.next_free(category, envs)
    port_note = "free in every environment, so promotion keeps it"
    if port is None:
        port = ports.next_free(category, [req.env])
        port_note = (f"free in {req.env}; other environments use every such port, so promotion will allocate "
                     f"another and declare it in environments/fleet.yaml portChanges")
    if port is None:
        ranges = ", ".join(f"{r.name} {r.first}-{r.last}" for r in ports.category_ranges(category)) or "none"
        raise Refusal(f"no free NodePort for category {category} in {req.env}: its ranges ({ranges}) in "
                      f"environments/fleet.yaml portRanges are full; free one (`vllm-models ports --env {req.env}`) "
                      f"or add a range to portRanges")

    size = last_row(table["sizeClasses"], "minParamsB", req.params_b)
    grace = last_row(table["terminationGrace"], "minParamsB", req.params_b, architecture=architecture)["seconds"]
    resources = last_row(table["resources"], "minParamsB", req.params_b)
    memory = quantity_times(resources["memory"], shape.memory_factor)
    cpu = quantity_times(str(resources["cpu"]), shape.memory_factor)
    shm = last_row(table["sharedMemory"], "minGPUs", gpus)["size"]
    if gpus > 1 and capacity.quantity(shm) >= capacity.quantity(memory):
        raise Refusal(f"/dev/shm for {gpus} GPUs ({shm}, sizing.yaml sharedMemory) would not fit below the memory "
                      f"limit of a {req.params_b}B model ({memory}, sizing.yaml resources); use a smaller --tp")
    utilization = Decimal(shape.gpu_memory_utilization)
    notes = []
    cap = utilization_cap(req.env)
    if cap is not None and utilization > cap:
        notes.append(f"gpuMemoryUtilization {utilization} capped at {cap} for {req.env} (sizing.yaml developmentMax); "
                     f"promote gives later environments the seed's {utilization}")
        utilization = cap
    model_path = req.model_path
    if entry is None:
        notes.append(f"{fit.MODELS_FILE} has no facts for {checkpoint}, so the fit check will refuse it: add them "
                     f"with --hf-config or `vllm-models model-facts {checkpoint} --hf-config config.json`")
    parser = req.tool_call_parser or shape.tool_call_parser
    startup = size["startupFailureThreshold"]

    blocks = {
        "quantization": f"  quantization: {quantization}\n" if quantization else "",
        "expert_parallel": "\n  # MoE: expert parallelism\n  enableExpertParallel: true\n  asyncScheduling: true\n"
        if architecture == "moe" else "",
        "function_call": f"\n  # Function calling\n  functionCall: true\n  toolCallParser: \"{parser}\"\n"
        if parser else "",
        "parallel": f"\n# Shared memory for NCCL (sizing.yaml sharedMemory: {gpus} GPUs -> {shm})\nshmSize: {shm}\n\n"
                    f"nccl:\n  logLevel: \"WARN\"\n" if gpus > 1 else "",
    }
    note = (f"# Sized from charts/vllm-models/sizing.yaml: size class {size['name']} ({size['seedRow']}),\n"
            f"# resources row {resources['minParamsB']}B+, grace {grace}s, startup threshold {startup}.")
    text = string.Template((TEMPLATES / shape.template).read_text()).substitute(
        name=req.name, params=req.params_b, architecture=architecture, image_tag=image_tag(req.env),
        model_path=model_path, served_name=served, gpus=gpus, gpu_memory_utilization=f"{utilization.normalize():f}",
        grace=grace, node_port=port, memory=memory, cpu=cpu, startup_threshold=startup,
        startup_minutes=f"{Decimal(startup * 5) / 60:.0f}", tool_call_parser=parser or "", sizing_note=note, **blocks)
    text = re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"
    return Plan(category, f"environments/{req.env}/{category}/{req.name}.yaml", text, port, port_note, gpus,
                yaml.safe_load(text), tuple(notes), checkpoint, new_facts, quantization, quantization_note)


def check_quantization(env: str, method: str) -> None:
    """--quantization names a method the environment's vLLM version knows (its catalog's choices)."""
    from . import vllm_args

    tag = image_tag(env)
    try:
        known = vllm_args.load_catalog(tag).get("quantization_methods") or []
    except vllm_args.CatalogMissing as missing:
        raise Refusal(f"--quantization {method}: {missing}") from None
    if known and method not in known:
        raise Refusal(f"--quantization {method} is not a quantization method of vLLM {tag} ({env}'s global.image.tag); "
                      f"it knows: {', '.join(known)}")


def checked_write(edits: Edits, env: str, release: str, *, allow_over_quota: bool = False):
    """Write the edits, render `release` in env, check its fit and the quota, and rewrite the environment's
    golden renders; undo everything on failure. Returns the release's render and the capacity plan."""
    edits.apply()
    fit.models.cache_clear()
    try:
        renders = harness.installed_renders(env)
        rendered = next((r for r in renders if r.release.name == release), None) or harness.render(harness.release(env, release))
        try:
            pools = fit.node_pools(env)
        except fit.FactsError as error:
            raise Refusal(f"environment {env}: {error} (nothing was written)") from None
        unfit = [p for result in fit.release_fit(rendered, pools) for p in result.problems]
        if unfit and not allow_over_quota:
            raise Refusal("\n  ".join(unfit) + "\n(nothing was written)")
        plan = capacity.plan(env, renders)
        if plan.problems and not allow_over_quota:
            others = capacity.plan(env, [r for r in renders if r.release.name != release])
            raise Refusal(f"{capacity.shortfall(others, plan, release)} (nothing was written):\n  "
                          + "\n  ".join(plan.problems))
        # A file the CLI writes must pass what `make test` will ask of it, policies included, whatever --force says.
        denied = [v for v in policy.evaluate_release(rendered) if v.severity == "deny" and not v.excepted]
        if denied:
            raise PolicyRefusal(f"environment {env}, release {release} ({rendered.release.model_file}) would fail "
                                f"{len(denied)} polic{'y' if len(denied) == 1 else 'ies'} (nothing was written):\n  "
                                + "\n  ".join(f"[{v.rule}] {v.message}" for v in denied), denied, rendered)
        golden.write(environments={env})
        return rendered, plan
    except BaseException:
        edits.rollback()
        fit.models.cache_clear()
        raise


def create(req: Request):
    """new-model: derive, write the model file and the enable flag, render, check the quota.
    Returns what was derived, the environment's capacity plan with the model, and warnings."""
    plan = build(req)
    edits = Edits()
    edits.set(plan.file, plan.text)
    if plan.new_facts is not None:
        try:
            edits.set(fit.MODELS_FILE, modelfacts.add(plan.checkpoint, plan.new_facts))
        except modelfacts.FactsRefused as error:
            raise Refusal(str(error)) from None
    values_text, warnings = yamledit.enable(req.env, plan.category, req.name)
    edits.set(f"environments/{req.env}/values.yaml", values_text)
    _rendered, capacity_plan = checked_write(edits, req.env, f"llms-v2-{req.name}")
    return plan, capacity_plan, warnings
