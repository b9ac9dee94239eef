"""`vllm-models add-adapter`: serve one more LoRA adapter from a model of an environment.

The adapter goes into the model file's `lora:` block (lora.enabled on, the adapter appended, lora.maxLoraRank
raised to the smallest rank the image's vLLM accepts that holds it). Before anything is written it is refused
when its name is already a model of the environment's /v1/models or it was trained on another model; after
writing, the release must render, fit its GPUs with the adapter slots, keep to the quota and pass every
policy (scaffold.checked_write), else every file is put back.
"""
from __future__ import annotations

import dataclasses

import yaml

from . import fleet, promote, scaffold, toolchain, vllm_versions, yamledit
from . import render as harness


@dataclasses.dataclass(frozen=True)
class Added:
    file: str
    release: str
    adapter: dict
    max_lora_rank: int
    raised_from: int | None  # the previous lora.maxLoraRank when it had to grow


def chart_lora_defaults() -> dict:
    return yaml.safe_load((toolchain.CHART_DIR / "values.yaml").read_text())["lora"]


def rank_limit(rank: int, current: int, tag: str) -> int:
    """lora.maxLoraRank holding `rank`: the current one when it does, else the smallest the version accepts."""
    if rank <= current:
        return current
    accepted = vllm_versions.facts(tag)["loraRanks"] if tag else []
    return min((r for r in accepted if r >= rank), default=rank)


def adapter_entry(name: str, path: str, rank: int, base_model: str, source: str | None, uri: str | None,
                  repo: str | None, revision: str | None) -> dict:
    entry: dict = {"name": name, "path": path, "rank": rank, "baseModel": base_model}
    if source == "s3":
        entry.update(source="s3", s3={"uri": uri})
    elif source == "huggingface":
        entry.update(source="huggingface", huggingface={"repo": repo} | ({"revision": revision} if revision else {}))
    return entry


def add(model: str, env: str, name: str, rank: int, *, path: str | None = None, base_model: str | None = None,
        s3_uri: str | None = None, hf_repo: str | None = None, hf_revision: str | None = None) -> Added:
    if s3_uri and hf_repo:
        raise scaffold.Refusal("--s3-uri and --hf-repo both name where the adapter comes from; give one")
    category, file = promote.find(model, env)
    release = f"{harness.RELEASE_PREFIX}{model}"
    rel = harness.release(env, release)
    values = rel.values()
    text = (toolchain.ROOT / file).read_text()
    own = yaml.safe_load(text) or {}
    mount = str(harness.lookup(values, "storage.mountPath") or "/models").rstrip("/")
    checkpoint = fleet.release_checkpoint(values)
    source = "s3" if s3_uri else "huggingface" if hf_repo else None
    entry = adapter_entry(name, path or f"{mount}/adapters/{name}", rank, base_model or checkpoint, source, s3_uri,
                          hf_repo, hf_revision)
    defaults = chart_lora_defaults()
    lora = {**(own.get("lora") or {})}
    current = int(harness.lookup(values, "lora.maxLoraRank") or defaults["maxLoraRank"])
    limit = rank_limit(rank, current, fleet.image_tag(rel))
    lora["enabled"] = True
    if limit != current:
        lora["maxLoraRank"] = limit
    lora["adapters"] = list(lora.get("adapters") or []) + [entry]
    edited = dataclasses.replace(rel, sources=(*rel.sources[:-1], dataclasses.replace(
        rel.sources[-1], data={**rel.sources[-1].data, "lora": lora})))
    others = [r for r in harness.model_releases(env) if r.name != release]
    refused = fleet.adapter_names([edited, *others]) + fleet.adapter_base_models([edited])
    if env in fleet.production_environments(harness.environments()):
        refused += fleet.pinned_revisions([edited])
    if refused:
        raise scaffold.Refusal("\n  ".join(refused) + "\n(nothing was written)")
    edits = yamledit.Edits()
    edits.set(file, yamledit.set_block(text, "lora", lora, label=file))
    scaffold.checked_write(edits, env, release)
    return Added(file, release, entry, limit, current if limit != current else None)
