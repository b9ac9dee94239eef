"""Model facts from a Hugging Face config.json: what environments/models.yaml records for the fit check.

`facts(config)` reads the dimensions vLLM sizes a model by (layers, KV heads, head size, attention kind,
experts, context), derives the parameter count and the bytes vLLM loads (linear layers at the stored
precision, embeddings and norms in bf16), and refuses an architecture it cannot size, naming what is
missing. `add(checkpoint, facts)` appends the entry to environments/models.yaml, keeping its comments.
"""
from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Mapping

import yaml

from . import fit, toolchain
from .render import load_yaml

BYTES = {"bf16": 2, "fp16": 2, "fp32": 4, "fp8": 1, "int8": 1, "int4": 0.5}
TORCH_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}


class FactsRefused(ValueError):
    """The config cannot be sized; the message names the file and what is missing."""


def weight_dtype(config: Mapping) -> str:
    """How the checkpoint stores its linear layers, from quantization_config, else torch_dtype."""
    quantization = config.get("quantization_config") or {}
    method = str(quantization.get("quant_method", "")).lower()
    if method in ("fp8", "fbgemm_fp8", "modelopt"):
        return "fp8"
    bits = quantization.get("bits") or quantization.get("w_bit")
    for group in (quantization.get("config_groups") or {}).values():  # compressed-tensors
        weights = group.get("weights") or {}
        bits = weights.get("num_bits", bits)
        if weights.get("type") == "float" and bits == 8:
            return "fp8"
    if method or bits:
        if bits in (4, "4"):
            return "int4"
        if bits in (8, "8"):
            return "int8"
        raise FactsRefused(f"quantization_config {json.dumps(quantization)[:200]}: unknown method {method!r} with "
                           f"{bits!r} bits; add the entry by hand with weightDtype and weightsGiB")
    return TORCH_DTYPES.get(str(config.get("torch_dtype") or config.get("dtype") or "bfloat16"), "bf16")


def _require(config: Mapping, keys: tuple[str, ...], label: str) -> None:
    missing = [key for key in keys if config.get(key) in (None, "")]
    if missing:
        raise FactsRefused(f"{label} lacks {', '.join(missing)}, which the fit check needs to size the model; "
                           f"pass the model's own config.json (for a multimodal model, its text_config must have them)")


def facts(config: Mapping, *, label: str = "config.json", source: str = "") -> dict[str, Any]:
    """The models.yaml entry for a config.json (a multimodal one sized by its text_config)."""
    architectures = config.get("architectures") or []
    if not architectures:
        raise FactsRefused(f"{label} names no architectures; it is not a model's config.json")
    text = config.get("text_config") or config
    text_label = f"{label} text_config" if "text_config" in config else label
    _require(text, ("num_hidden_layers", "hidden_size", "num_attention_heads", "vocab_size"), text_label)
    layers, hidden, heads = int(text["num_hidden_layers"]), int(text["hidden_size"]), int(text["num_attention_heads"])
    kv_heads = int(text.get("num_key_value_heads") or heads)  # absent: multi-head attention, as transformers reads it
    head_dim = int(text.get("head_dim") or hidden // heads)
    vocab = int(text["vocab_size"])
    experts = int(text.get("n_routed_experts") or text.get("num_experts") or text.get("num_local_experts") or 0)
    entry: dict[str, Any] = {"architecture": architectures[0]}
    if text.get("kv_lora_rank"):
        _require(text, ("qk_rope_head_dim", "q_lora_rank", "qk_nope_head_dim", "v_head_dim"), text_label)
        attention_params = (hidden * int(text["q_lora_rank"]) + int(text["q_lora_rank"]) * heads
                            * (int(text["qk_nope_head_dim"]) + int(text["qk_rope_head_dim"]))
                            + hidden * (int(text["kv_lora_rank"]) + int(text["qk_rope_head_dim"]))
                            + int(text["kv_lora_rank"]) * heads * (int(text["qk_nope_head_dim"]) + int(text["v_head_dim"]))
                            + heads * int(text["v_head_dim"]) * hidden)
        attention = {"attention": "mla", "kvLoraRank": int(text["kv_lora_rank"]),
                     "qkRopeHeadDim": int(text["qk_rope_head_dim"])}
    else:
        attention_params = hidden * heads * head_dim * 2 + 2 * hidden * kv_heads * head_dim
        window = text.get("sliding_window") if text.get("use_sliding_window", True) is not False else None
        layer_types = text.get("layer_types") or []
        pattern = text.get("sliding_window_pattern")
        if window and (layer_types or pattern):
            if layer_types:
                global_layers = sum(1 for kind in layer_types if kind == "full_attention")
            else:
                global_layers = layers // int(pattern)
            attention = {"attention": "sliding", "slidingWindow": int(window), "globalLayers": global_layers}
        elif window and int(window) < int(text.get("max_position_embeddings") or 0):
            attention = {"attention": "sliding", "slidingWindow": int(window), "globalLayers": 0}
        else:
            attention = {"attention": "full"}
    if experts:
        _require(text, ("moe_intermediate_size",), text_label)
        moe_size = int(text["moe_intermediate_size"] or text.get("intermediate_size"))
        per_token = int(text.get("num_experts_per_tok") or 0)
        if not per_token:
            raise FactsRefused(f"{text_label} has {experts} experts but no num_experts_per_tok; the fit check needs "
                               f"the experts each token runs through")
        shared = int(text.get("n_shared_experts") or (1 if text.get("shared_expert_intermediate_size") else 0))
        dense_layers = int(text.get("first_k_dense_replace") or 0)
        dense_size = int(text.get("intermediate_size") or 0)
        expert_params = 3 * hidden * moe_size
        mlp_total = dense_layers * 3 * hidden * dense_size + (layers - dense_layers) * (
            (experts + shared) * expert_params + hidden * experts)
        mlp_active = dense_layers * 3 * hidden * dense_size + (layers - dense_layers) * (
            (per_token + shared) * expert_params + hidden * experts)
        moe = {"intermediateSize": dense_size or moe_size, "moeIntermediateSize": moe_size, "experts": experts,
               "expertsPerToken": per_token, "sharedExperts": shared}
    else:
        _require(text, ("intermediate_size",), text_label)
        mlp_total = mlp_active = layers * 3 * hidden * int(text["intermediate_size"])
        moe = {"intermediateSize": int(text["intermediate_size"])}
    embeddings = vocab * hidden * (1 if text.get("tie_word_embeddings", config.get("tie_word_embeddings")) else 2)
    norms = layers * 2 * hidden + hidden
    linear = layers * attention_params + mlp_total
    vision = vision_facts(config.get("vision_config"))
    stored = weight_dtype(config)
    total = linear + embeddings + norms + (vision["parametersB"] * 1e9 if vision else 0)
    loaded = linear * BYTES[stored] + (embeddings + norms) * 2 + (vision["parametersB"] * 1e9 * 2 if vision else 0)
    entry.update({"parametersB": round(total / 1e9, 2)})
    if experts:
        entry["activeParametersB"] = round((layers * attention_params + mlp_active + embeddings + norms) / 1e9, 2)
    entry.update({"weightDtype": stored, "weightsGiB": round(loaded / 2**30, 1), "layers": layers,
                  "attentionHeads": heads, "kvHeads": kv_heads, "headDim": head_dim, "hiddenSize": hidden, **moe,
                  "vocabSize": vocab, **attention,
                  "maxPositionEmbeddings": int(text.get("max_position_embeddings") or config.get("max_position_embeddings") or 0),
                  "dtype": str(config.get("torch_dtype") or text.get("torch_dtype") or "bfloat16")})
    if not entry["maxPositionEmbeddings"]:
        raise FactsRefused(f"{text_label} lacks max_position_embeddings, the context vLLM serves by default")
    if vision:
        entry["vision"] = vision
    if config.get("auto_map"):
        entry["trustRemoteCode"] = True  # the repository ships its own modelling code
    entry["source"] = source or label
    return entry


def vision_facts(vision: Mapping | None) -> dict | None:
    """The vision encoder's size, from vision_config (layers x (4 h^2 + 2 h i), the ViT blocks)."""
    if not vision:
        return None
    hidden, size = vision.get("hidden_size"), vision.get("intermediate_size")
    layers = vision.get("num_hidden_layers") or vision.get("depth")
    if not (hidden and size and layers):
        return {"encoder": str(vision.get("model_type", "unknown")), "parametersB": 0.0}
    params = int(layers) * (4 * int(hidden) ** 2 + 2 * int(hidden) * int(size))
    return {"encoder": str(vision.get("model_type", "vision")), "parametersB": round(params / 1e9, 2)}


def read_config(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise FactsRefused(f"{path}: not a readable JSON file ({error})") from None
    if not isinstance(data, dict):
        raise FactsRefused(f"{path}: a config.json is a JSON object")
    return data


def models_file() -> Path:
    return toolchain.ROOT / fit.MODELS_FILE


def add(checkpoint: str, entry: Mapping) -> str:
    """environments/models.yaml with `checkpoint` appended under `models:`, every other line kept."""
    text = models_file().read_text()
    current = load_yaml(text) or {}
    if checkpoint in (current.get("models") or {}):
        raise FactsRefused(f"{fit.MODELS_FILE} already has {checkpoint}; edit that entry instead")
    block = yaml.safe_dump({checkpoint: dict(entry)}, sort_keys=False, default_flow_style=False, width=1000)
    indented = "".join(f"  {line}" if line.strip() else line for line in block.splitlines(keepends=True))
    result = text.rstrip("\n") + "\n\n" + indented
    parsed = load_yaml(result)
    if parsed["models"].get(checkpoint) != dict(entry) or {k: v for k, v in parsed["models"].items()
                                                          if k != checkpoint} != (current.get("models") or {}):
        raise FactsRefused(f"{fit.MODELS_FILE}: appending {checkpoint} textually would change other entries; "
                           f"add it by hand")
    return result


def size_class_parameters(entry: Mapping) -> int:
    """modelInfo.parameters for the chart: the nearest whole billion (23.57B is a 24B model), at least 1. Never
    below the count rounded down, so a size row never comes out smaller than by the count itself."""
    return max(1, int(Decimal(str(entry["parametersB"])).quantize(Decimal(1), rounding=ROUND_HALF_UP)))
