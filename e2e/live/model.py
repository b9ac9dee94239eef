"""The live tier's tiny model: a Llama-architecture checkpoint with random weights and a tokenizer
trained here, made offline and byte for byte the same on every run (no hub, no download).

Run in the venv of e2e/live/model.lock (numpy, safetensors, tokenizers; no torch):
    python e2e/live/model.py OUT_DIR
    python e2e/live/model.py --adapter OUT_DIR
The first writes config.json, generation_config.json, model.safetensors, tokenizer.json,
tokenizer_config.json and special_tokens_map.json: what `vllm serve OUT_DIR` reads. The sizes are
the smallest vLLM's CPU engine serves: its attention kernels take head_dim 32 (not 16).
The second writes a LoRA adapter of that model in PEFT's layout (adapter_config.json,
adapter_model.safetensors): what `--lora-modules name=OUT_DIR` reads.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

SEED = 26
HIDDEN = 128
HEADS = 4
KV_HEADS = 2
HEAD_DIM = HIDDEN // HEADS  # 32
LAYERS = 2
INTERMEDIATE = 256
VOCAB = 1024
MAX_POSITIONS = 2048
BOS, EOS, PAD = "<|begin_of_text|>", "<|im_end|>", "<|pad|>"
SPECIAL = [BOS, "<|end_of_text|>", "<|im_start|>", EOS, PAD]
# ChatML, the shape most chat templates take; add_generation_prompt opens the assistant's turn.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
WORDS = (
    "the a model serves tokens from weights on a node kubelet runs containers pod ready probe "
    "health metrics request answer stream chat completion user assistant system hello world "
    "cluster image volume download bucket object copy restart rolling update shutdown drain "
    "one two three four five six seven eight nine ten fast slow small large red green blue"
).split()


def corpus(lines: int = 4000) -> list[str]:
    """Sentences drawn from WORDS by a seeded generator, with digits and punctuation: the
    tokenizer's training text (the same every run)."""
    rng = random.Random(SEED)
    out = []
    for _ in range(lines):
        words = [rng.choice(WORDS) for _ in range(rng.randint(4, 14))]
        out.append(" ".join(words).capitalize() + rng.choice([".", "?", "!", f" {rng.randint(0, 999)}."]))
    return out


def tokenizer() -> Tokenizer:
    """A byte-level BPE (every string encodes, no unknown token) trained on corpus()."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer=trainer)
    return tok


# Each layer's projections in Hugging Face's order: their block and (out, in) shape. The base weights and the
# adapter's factors are both drawn from this table, in this order.
PROJECTIONS = {
    "q_proj": ("self_attn", (HEADS * HEAD_DIM, HIDDEN)),
    "k_proj": ("self_attn", (KV_HEADS * HEAD_DIM, HIDDEN)),
    "v_proj": ("self_attn", (KV_HEADS * HEAD_DIM, HIDDEN)),
    "o_proj": ("self_attn", (HIDDEN, HEADS * HEAD_DIM)),
    "gate_proj": ("mlp", (INTERMEDIATE, HIDDEN)),
    "up_proj": ("mlp", (INTERMEDIATE, HIDDEN)),
    "down_proj": ("mlp", (HIDDEN, INTERMEDIATE)),
}


def weights(vocab: int) -> dict[str, np.ndarray]:
    """Llama's tensors under Hugging Face's names, normal(0, 0.02) from a seeded generator."""
    rng = np.random.default_rng(SEED)

    def normal(*shape: int) -> np.ndarray:
        return rng.normal(0.0, 0.02, size=shape).astype(np.float32)

    tensors = {"model.embed_tokens.weight": normal(vocab, HIDDEN)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        tensors |= {f"{p}{block}.{name}.weight": normal(*shape) for name, (block, shape) in PROJECTIONS.items()}
        tensors |= {
            p + "input_layernorm.weight": np.ones(HIDDEN, np.float32),
            p + "post_attention_layernorm.weight": np.ones(HIDDEN, np.float32),
        }
    tensors["model.norm.weight"] = np.ones(HIDDEN, np.float32)
    tensors["lm_head.weight"] = normal(vocab, HIDDEN)
    return tensors


# The adapter: rank 8 on every projection vLLM's Llama takes LoRA on. Its factors are larger than the
# base weights' 0.02 so that it visibly changes what the model says (the live test compares the two).
ADAPTER_RANK = 8
ADAPTER_ALPHA = 16
ADAPTER_TARGETS = list(PROJECTIONS)
ADAPTER_BASE = "vllm-models/tiny-llama"  # adapter_config.json base_model_name_or_path: the chart release's lora baseModel


def adapter_weights() -> dict[str, np.ndarray]:
    """lora_A (rank x in) and lora_B (out x rank) of every target in every layer, under PEFT's names."""
    rng = np.random.default_rng(SEED + 1)
    tensors = {}
    for i in range(LAYERS):
        for target in ADAPTER_TARGETS:
            block, (out_features, in_features) = PROJECTIONS[target]
            prefix = f"base_model.model.model.layers.{i}.{block}.{target}."
            tensors[prefix + "lora_A.weight"] = rng.normal(0.0, 0.1, size=(ADAPTER_RANK, in_features)).astype(np.float32)
            tensors[prefix + "lora_B.weight"] = rng.normal(0.0, 0.1, size=(out_features, ADAPTER_RANK)).astype(np.float32)
    return tensors


def write_adapter(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": ADAPTER_BASE,
        "r": ADAPTER_RANK,
        "lora_alpha": ADAPTER_ALPHA,
        "lora_dropout": 0.0,
        "target_modules": ADAPTER_TARGETS,
        "bias": "none",
        "fan_in_fan_out": False,
        "modules_to_save": None,
        "use_rslora": False,
        "use_dora": False,
    }
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    save_file(adapter_weights(), str(out / "adapter_model.safetensors"), metadata={"format": "pt"})
    for path in out.iterdir():
        path.chmod(0o644)


def write(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tok = tokenizer()
    tok.save(str(out / "tokenizer.json"))
    vocab = tok.get_vocab_size()
    ids = {name: tok.token_to_id(name) for name in SPECIAL}
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "head_dim": HEAD_DIM,
        "hidden_act": "silu",
        "max_position_embeddings": MAX_POSITIONS,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "vocab_size": vocab,
        "bos_token_id": ids[BOS],
        "eos_token_id": ids[EOS],
        "pad_token_id": ids[PAD],
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
    }
    generation = {"bos_token_id": ids[BOS], "eos_token_id": ids[EOS], "pad_token_id": ids[PAD]}
    special = {"bos_token": BOS, "eos_token": EOS, "pad_token": PAD}
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MAX_POSITIONS,
        "clean_up_tokenization_spaces": False,
        "chat_template": CHAT_TEMPLATE,
        **special,
    }
    for name, data in (("config.json", config), ("generation_config.json", generation),
                       ("special_tokens_map.json", special), ("tokenizer_config.json", tokenizer_config)):
        (out / name).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    save_file(weights(vocab), str(out / "model.safetensors"), metadata={"format": "pt"})
    for path in out.iterdir():
        path.chmod(0o644)  # safetensors writes 0600; the server runs as another user (UID 2000)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if len(sys.argv) == 3 and sys.argv[1] == "--adapter":
        write_adapter(Path(sys.argv[2]))
    elif len(sys.argv) == 2:
        write(Path(sys.argv[1]))
    else:
        sys.exit("usage: model.py [--adapter] OUT_DIR")
