"""The chart's examples: the seeds' six configuration templates, each rendering to the expected pod,
and the shapes the seeds ask for beyond them (multi-node serving, weights delivered from S3 or
Hugging Face; tests/test_leaderworkerset.py and tests/test_model_download.py test what they render).

Each example is rendered exactly as a user would (`helm template <name> charts/vllm-models -f
examples/<name>.yaml`); the expected args, environment, resources and volumes below are the
seed template's, with the corrections its header lists.
"""
from __future__ import annotations

import pytest
import yaml

from charts import render_chart
from vllm_models import chart_examples, policy, render as harness, toolchain

SHAPES = ["function-calling", "lmcache", "moe", "multi-gpu", "single-gpu", "vision"]
# Beyond the seed templates, each from the seed document that asks for it.
MORE_SHAPES = {"huggingface-delivery": "Seed 003", "lora": "Issue 27", "multi-node": "Seed 002", "s3-delivery": "Seed 001"}

COMMON_ARGS = ["--host", "0.0.0.0", "--port", "8000"]
LOGGING = {"name": "VLLM_LOGGING_LEVEL", "value": "INFO"}
NCCL = [{"name": "NCCL_DEBUG", "value": "WARN"}]  # NCCL_CUMEM_ENABLE left to vLLM and NCCL (nccl.gpuMem null)
# A non-root vLLM on a read-only root filesystem (the chart's runtime block), then offline mode for local weights.
RUNTIME = [{"name": "HOME", "value": "/home/vllm"}, {"name": "USER", "value": "vllm"}, {"name": "LOGNAME", "value": "vllm"},
           {"name": "XDG_CACHE_HOME", "value": "/home/vllm/.cache"}, {"name": "XDG_CONFIG_HOME", "value": "/home/vllm/.config"},
           {"name": "VLLM_CACHE_ROOT", "value": "/home/vllm/.cache/vllm"},
           {"name": "TRITON_CACHE_DIR", "value": "/home/vllm/.cache/vllm/triton"}, {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
           {"name": "HF_HUB_OFFLINE", "value": "1"}, {"name": "TRANSFORMERS_OFFLINE", "value": "1"}]


def resources(gpus: int, memory: str, cpu: str) -> dict:
    block = {"cpu": cpu, "memory": memory, "nvidia.com/gpu": gpus}
    return {"limits": block, "requests": dict(block)}


EXPECTED = {
    "single-gpu": {
        "seed": "Seed template 1",
        "args": ["/models/Qwen/Qwen3-32B-FP8", "--served-model-name", "Qwen3-32B", *COMMON_ARGS,
                 "--tensor-parallel-size", "1", "--gpu-memory-utilization", "0.85", "--max-num-seqs", "256",
                 "--enable-chunked-prefill", "--enable-prefix-caching", "--quantization", "fp8"],
        "env": [LOGGING, *RUNTIME],
        "resources": resources(1, "200Gi", "16"),
        "shm": "16Gi",
        "startup": 120,
        "grace": 120,
    },
    "multi-gpu": {
        "seed": "Seed template 2",
        "args": ["/models/meta-llama/Llama-3.3-70B-Instruct-FP8", "--served-model-name", "Llama-3.3-70B-Instruct",
                 *COMMON_ARGS, "--tensor-parallel-size", "4", "--gpu-memory-utilization", "0.9", "--max-num-seqs", "256",
                 "--enable-chunked-prefill", "--enable-prefix-caching", "--quantization", "fp8"],
        "env": [LOGGING, *NCCL, *RUNTIME],
        "resources": resources(4, "400Gi", "32"),
        "shm": "32Gi",
        "startup": 240,
        "grace": 120,
    },
    "vision": {
        "seed": "Seed template 3",
        "args": ["/models/google/gemma-3-27b-it", "--served-model-name", "Gemma-3-27B-IT", *COMMON_ARGS,
                 "--tensor-parallel-size", "1", "--gpu-memory-utilization", "0.95", "--max-num-seqs", "256",
                 "--enable-chunked-prefill", "--enable-prefix-caching",
                 "--limit-mm-per-prompt", '{"image": 12}'],
        "env": [LOGGING, {"name": "VLLM_ATTENTION_BACKEND", "value": "FLASH_ATTN"}, *RUNTIME],
        "resources": resources(1, "64Gi", "16"),
        "shm": "16Gi",
        "startup": 120,
        "grace": 60,
    },
    "moe": {
        "seed": "Seed template 4",
        "args": ["/models/deepseek-ai/DeepSeek-R1-FP8", "--served-model-name", "DeepSeek-R1", *COMMON_ARGS,
                 "--tensor-parallel-size", "8", "--gpu-memory-utilization", "0.95", "--max-num-seqs", "256",
                 "--enable-chunked-prefill", "--enable-prefix-caching",
                 "--enable-expert-parallel", "--async-scheduling", "--enable-auto-tool-choice",
                 "--tool-call-parser", "deepseek_v3"],
        "env": [LOGGING, *NCCL, *RUNTIME],
        "resources": resources(8, "1024Gi", "64"),
        "shm": "784Gi",
        "startup": 480,
        "grace": 300,
    },
    "function-calling": {
        "seed": "Seed template 5",
        "args": ["/models/Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8", "--served-model-name", "Qwen3-Coder-480B",
                 *COMMON_ARGS, "--tensor-parallel-size", "4", "--gpu-memory-utilization", "0.9", "--max-num-seqs", "256",
                 "--enable-chunked-prefill", "--enable-prefix-caching",
                 "--enable-expert-parallel", "--async-scheduling", "--enable-auto-tool-choice",
                 "--tool-call-parser", "qwen3_coder"],
        "env": [LOGGING, *NCCL, *RUNTIME, {"name": "VLLM_USE_DEEP_GEMM", "value": "1"},
                {"name": "VLLM_MOE_USE_DEEP_GEMM", "value": "0"}],
        "resources": resources(4, "400Gi", "32"),
        "shm": "32Gi",
        "startup": 360,
        "grace": 180,
    },
    "lmcache": {
        "seed": "Seed template 6",
        "args": ["/models/Qwen/Qwen3-32B-FP8", "--served-model-name", "Qwen3-32B-LMCache", *COMMON_ARGS,
                 "--tensor-parallel-size", "1", "--gpu-memory-utilization", "0.85", "--max-num-seqs", "256",
                 "--enable-chunked-prefill", "--enable-prefix-caching",
                 "--kv-transfer-config", '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_both"}',
                 "--mm-processor-cache-gb", "4"],
        "env": [LOGGING, {"name": "LMCACHE_LOCAL_CPU", "value": "True"},
                {"name": "LMCACHE_MAX_LOCAL_CPU_SIZE", "value": "4"}, *RUNTIME,
                {"name": "LMCACHE_CHUNK_SIZE", "value": "512"}, {"name": "LMCACHE_LOG_LEVEL", "value": "INFO"},
                {"name": "VLLM_USE_V1", "value": "1"}],
        "resources": resources(1, "300Gi", "24"),
        "shm": "16Gi",
        "startup": 120,
        "grace": 120,
    },
}

examples = pytest.mark.parametrize("name", SHAPES)


def where(name: str) -> str:
    return f"example {chart_examples.path(name).relative_to(toolchain.ROOT)}"


def test_the_chart_ships_one_example_per_seed_template_and_per_shape_the_seeds_ask_for():
    assert chart_examples.names() == sorted(SHAPES + list(MORE_SHAPES)), (
        f"charts/vllm-models/examples holds {chart_examples.names()}")


@pytest.mark.parametrize("name", sorted(MORE_SHAPES))
def test_each_further_example_header_names_the_seed_it_comes_from_and_lists_its_corrections(name):
    header = chart_examples.path(name).read_text().split("\n\n", 1)[0]
    assert header.startswith(f"# {MORE_SHAPES[name]}"), f"{where(name)}: header does not start by naming {MORE_SHAPES[name]}"
    assert "Corrections to the seed template" in header, f"{where(name)}: header lists no corrections"


@pytest.mark.parametrize("name", chart_examples.names())
def test_every_example_passes_every_policy(name):
    violations = [str(v) for v in policy.evaluate_release(render_chart(example=name)) if v.severity == "deny"]
    assert violations == [], f"{where(name)}:\n" + "\n".join(violations)


@examples
def test_each_example_header_names_its_seed_template_and_lists_its_corrections(name):
    header = chart_examples.path(name).read_text().split("\n\n", 1)[0]
    assert EXPECTED[name]["seed"] in header, f"{where(name)}: header does not name {EXPECTED[name]['seed']}"
    assert "Corrections to the seed template:" in header, f"{where(name)}: header lists no corrections"


@examples
def test_each_example_runs_vllm_with_the_seed_templates_arguments(name):
    container = render_chart(example=name).container()
    assert container["command"] == ["vllm", "serve"], f"{where(name)}: command {container['command']}"
    assert container["args"] == EXPECTED[name]["args"], f"{where(name)}: args {container['args']}"


@examples
def test_each_example_sets_the_expected_environment(name):
    env = render_chart(example=name).container()["env"]
    assert env == EXPECTED[name]["env"], f"{where(name)}: env {env}"


@examples
def test_each_example_requests_exactly_its_limits(name):
    got = render_chart(example=name).container()["resources"]
    assert got == EXPECTED[name]["resources"], f"{where(name)}: Deployment resources {got}"


@examples
def test_each_example_mounts_the_models_read_only_a_memory_backed_dev_shm_and_writable_runtime_dirs(name):
    rendered = render_chart(example=name)
    pod = rendered.one("Deployment")["spec"]["template"]["spec"]
    assert pod["volumes"] == [
        {"name": "models", "hostPath": {"path": "/var/modas-models/fp8_models/", "type": "Directory"}},
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": EXPECTED[name]["shm"]}},
        {"name": "home", "emptyDir": {"sizeLimit": "20Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "10Gi"}},
    ], f"{where(name)}: volumes {pod['volumes']}"
    mounts = rendered.container()["volumeMounts"]
    assert mounts == [{"name": "models", "mountPath": "/models", "readOnly": True},
                      {"name": "dshm", "mountPath": "/dev/shm"}, {"name": "home", "mountPath": "/home/vllm"},
                      {"name": "tmp", "mountPath": "/tmp"}], f"{where(name)}: volumeMounts {mounts}"


@examples
def test_each_example_gets_the_startup_budget_and_grace_period_of_its_size(name):
    rendered = render_chart(example=name)
    pod = rendered.one("Deployment")["spec"]["template"]["spec"]
    threshold = rendered.container()["startupProbe"]["failureThreshold"]
    assert threshold == EXPECTED[name]["startup"], f"{where(name)}: startupProbe.failureThreshold {threshold}"
    grace = pod["terminationGracePeriodSeconds"]
    assert grace == EXPECTED[name]["grace"], f"{where(name)}: terminationGracePeriodSeconds {grace}"


def test_only_the_multi_gpu_example_asks_for_a_disruption_budget_and_it_lets_drains_proceed():
    budgets = {name: render_chart(example=name).objects("PodDisruptionBudget") for name in SHAPES}
    assert [name for name, found in budgets.items() if found] == ["multi-gpu"]
    assert budgets["multi-gpu"][0]["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("name", chart_examples.names())
def test_helm_lint_strict_passes_for_each_example(name):
    output = chart_examples.lint(name)
    assert "0 chart(s) failed" in output, f"{where(name)}: helm lint --strict says:\n{output}"


def test_helm_lint_strict_passes_for_every_release_of_every_environment(release, tmp_path):
    files = harness.values_files(release, tmp_path)
    output = chart_examples.lint_files(files, environment=release.environment, release=release.name,
                                       sources=release.sources)
    assert "0 chart(s) failed" in output


def lint_edited(tmp_path, monkeypatch, edit) -> str:
    """Lint single-gpu.yaml with `edit(values)` applied, as if the user had made that edit; the refusal's text."""
    values = chart_examples.values("single-gpu")
    edit(values)
    (tmp_path / "single-gpu.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
    monkeypatch.setattr(chart_examples, "EXAMPLES_DIR", tmp_path)
    with pytest.raises(harness.RenderError) as refused:
        chart_examples.lint("single-gpu")
    return str(refused.value)


def test_lint_counts_a_refusal_that_helm_lint_only_logs_as_info(tmp_path, monkeypatch):
    message = lint_edited(tmp_path, monkeypatch, lambda values: values["deployment"].update(numGPUs=2))
    # Every refusal of the release, in one message (helm lint logs the chart's one `fail` as INFO).
    assert message.startswith(
        "release llms-v2-qwen3-32b: 3 refusals:\n"
        "  - deployment.tensorParallel (1) must equal deployment.numGPUs (2): vLLM shards the model over exactly the "
        "pod's GPUs; set both to the same value\n"
        "  - resources.limits.nvidia.com/gpu (1) must equal deployment.numGPUs (2); drop it to let the chart set it "
        "from numGPUs\n"
        "  - resources.requests.nvidia.com/gpu (1) must equal deployment.numGPUs (2); drop it to let the chart set it "
        "from numGPUs\n"), message
    assert f"--values {tmp_path / 'single-gpu.yaml'}" in message, "without the helmfile's sources, the command names the file"


def test_lint_reports_a_schema_violation(tmp_path, monkeypatch):
    message = lint_edited(tmp_path, monkeypatch, lambda values: values["image"].update(tag="latest"))
    assert "- at '/image/tag': 'latest' does not match pattern" in message
