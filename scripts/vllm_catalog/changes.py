#!/usr/bin/env python3
"""Print, from the committed catalogs, how the flags and metrics the chart uses change by version.

    python3 scripts/vllm_catalog/changes.py            # markdown table, one column per catalog

Stdlib only: reads src/vllm_models/data/vllm/v*.json (no vLLM needed). VERSIONS.md quotes it.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "src" / "vllm_models" / "data" / "vllm"

FLAGS = [
    "--model", "--served-model-name", "--host", "--port", "--tensor-parallel-size",
    "--pipeline-parallel-size", "--gpu-memory-utilization", "--max-model-len", "--max-num-seqs",
    "--enable-chunked-prefill", "--no-enable-chunked-prefill", "--enable-prefix-caching",
    "--no-enable-prefix-caching", "--quantization", "--trust-remote-code", "--limit-mm-per-prompt",
    "--mm-processor-cache-gb", "--mm-processor-cache-type", "--disable-mm-preprocessor-cache",
    "--enable-expert-parallel", "--async-scheduling", "--enable-auto-tool-choice", "--tool-call-parser",
    "--kv-transfer-config", "--compilation-config", "--shutdown-timeout", "--reasoning-parser",
    "--nnodes", "--node-rank", "--master-addr", "--master-port", "--headless", "--data-parallel-size",
    "--data-parallel-size-local", "--data-parallel-address", "--data-parallel-rpc-port",
    "--data-parallel-start-rank", "--disable-log-requests", "--enable-log-requests", "--swap-space",
    "--task", "--runner", "--convert", "--kv-offloading-size", "--kv-offloading-backend",
    "--attention-backend",
]
METRICS = [
    "vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:gpu_cache_usage_perc",
    "vllm:kv_cache_usage_perc", "vllm:gpu_prefix_cache_hits", "vllm:gpu_prefix_cache_queries",
    "vllm:prefix_cache_hits", "vllm:prefix_cache_queries", "vllm:time_to_first_token_seconds",
    "vllm:time_per_output_token_seconds", "vllm:inter_token_latency_seconds",
    "vllm:generation_tokens", "vllm:e2e_request_latency_seconds",
]


def version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(x) for x in path.stem[1:].split("."))


def flag_cell(catalog: dict, flag: str) -> str:
    spec = catalog["flags"].get(flag)
    if spec is None:
        return "-"
    marks = []
    if spec.get("deprecated"):
        marks.append("dep")
    if spec.get("hidden"):
        marks.append("hidden")
    if flag == "--model" and catalog.get("serve_rejects_model_flag"):
        marks.append("serve rejects")
    elif flag == "--model" and (catalog.get("serve_model_flag") or {}).get("deprecated"):
        marks.append("serve: moved+warns")
    if flag == "--shutdown-timeout":
        marks.append(f"default {(catalog.get('shutdown_timeout') or {}).get('default')}")
    return "yes" + (f" ({', '.join(marks)})" if marks else "")


def metric_cell(catalog: dict, name: str) -> str:
    entry = catalog["metrics"].get(name)
    if entry is None:
        return "-"
    marks = [entry["type"]]
    if entry.get("hidden"):
        marks.append("hidden")
    if entry.get("deprecated"):
        marks.append("dep")
    return ", ".join(marks)


def main() -> int:
    paths = sorted(DATA.glob("v*.json"), key=version_key)
    catalogs = [(p.stem, json.loads(p.read_text())) for p in paths]
    out = ["| | " + " | ".join(v for v, _ in catalogs) + " |",
           "|---|" + "---|" * len(catalogs)]
    for flag in FLAGS:
        out.append(f"| `{flag}` | " + " | ".join(flag_cell(c, flag) for _, c in catalogs) + " |")
    out.append("| VLLM_ATTENTION_BACKEND (env) | "
               + " | ".join("yes" if "VLLM_ATTENTION_BACKEND" in c["env_vars"] else "-" for _, c in catalogs) + " |")
    for name in METRICS:
        out.append(f"| `{name}` | " + " | ".join(metric_cell(c, name) for _, c in catalogs) + " |")
    out.append("| reasoning parsers | " + " | ".join(str(len(c.get("reasoning_parsers") or [])) for _, c in catalogs) + " |")
    out.append("| tool call parsers | " + " | ".join(str(len(c["tool_call_parsers"])) for _, c in catalogs) + " |")
    out.append("| torch / transformers | " + " | ".join(
        f"{c['provenance']['torch_version']} / {c['provenance'].get('transformers_version', '?')}" for _, c in catalogs) + " |")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
