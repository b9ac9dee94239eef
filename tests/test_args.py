"""The vLLM arguments helper (`vllm-models.args` in _args.tpl): every key to its flag, checked against vLLM itself.

The committed catalogs (src/vllm_models/data/vllm/) hold the flags each vLLM version's own parser
accepts; every command line the chart can build must be one the version in image.tag accepts.
"""
from __future__ import annotations

import json
import re

import pytest
import yaml

from charts import render_chart
from vllm_models import chart_examples, toolchain, vllm_args, vllm_versions
from vllm_models import render as harness

CATALOG_VERSIONS = [f"v{version}" for version in vllm_args.available_versions()]  # every committed catalog

# Every optional argument on at once, in three renders (a vision model and an LMCache one, as the
# multimodal cache is sized either by disableMmPreprocessorCache or by kvOffloading; and async
# scheduling, which vLLM refuses beside pipeline parallelism).
EVERYTHING = {
    "deployment": {
        "tensorParallel": 2, "pipelineParallel": 2, "maxModelLen": 32768, "quantization": "fp8",
        "enableExpertParallel": True, "functionCall": True, "toolCallParser": "hermes", "reasoningParser": "deepseek_r1",
        "cudaGraphMode": "FULL_AND_PIECEWISE", "extraArgs": ["--max-num-batched-tokens", "8192"],
        "trustRemoteCode": True, "trustRemoteCodeReason": "every optional flag at once",
    },
}
VISION = {"deployment": {"visionModel": True, "limitMmPerPrompt": '{"image": 4}', "disableMmPreprocessorCache": True,
                         "attentionBackend": "FLASH_ATTN"}}
LMCACHE = {"deployment": {"kvOffloading": {"enabled": True, "mmProcessorCacheGb": 2}}}
NATIVE = {"deployment": {"kvOffloading": {"enabled": True, "backend": "native", "cpuOffloadingBufferSize": 8}}}
ASYNC = {"deployment": {"asyncScheduling": True, "tensorParallel": 4, "pipelineParallel": 1}}
LORA = {"lora": {"enabled": True, "maxLoras": 2, "maxLoraRank": 16, "maxCpuLoras": 4,
                 "adapters": [{"name": "sql", "path": "/models/adapters/sql", "rank": 8},
                              {"name": "support", "path": "/models/adapters/support", "rank": 16}]}}


def args_of(tmp_path, example: str, *overrides: dict, tag: str | None = None) -> list[str]:
    merged: dict = {}
    for override in overrides:
        harness.deep_merge(merged, json.loads(json.dumps(override)))
    if tag:
        harness.deep_merge(merged, {"image": {"tag": tag}})
    return render_chart(example=example, values=merged).container()["args"]


def managed_flags() -> dict[str, str]:
    """The flag -> key map of `vllm-models.managedFlags`, read from _args.tpl."""
    text = (toolchain.CHART_DIR / "templates" / "_args.tpl").read_text()
    body = text.split('{{- define "vllm-models.managedFlags" -}}', 1)[1].split("{{- end -}}", 1)[0]
    return dict(line.split(": ", 1) for line in body.strip().splitlines())


def flags_in(args: list[str]) -> list[str]:
    return [arg.split("=", 1)[0] for arg in args if arg.startswith("-")]


def shapes(tag: str) -> list[dict]:
    """The shapes to render on `tag`: native offloading only where the version has it (else refused)."""
    native = vllm_versions.facts(tag)["flags"]["--kv-offloading-backend"]
    return [VISION, LMCACHE, ASYNC, LORA] + ([NATIVE] if native else [])


@pytest.mark.parametrize("tag", CATALOG_VERSIONS)
def test_every_argument_the_chart_can_build_is_one_vllm_accepts(tag, tmp_path):
    for shape in shapes(tag):
        args = args_of(tmp_path, "multi-gpu", EVERYTHING, shape, tag=tag)
        problems = [p.message for p in vllm_args.check_args(args, tag)]
        assert problems == [], f"vLLM {tag} refuses the chart's arguments {args}: {problems}"


@pytest.mark.parametrize("name", chart_examples.names())
def test_each_examples_arguments_are_accepted_by_the_vllm_of_its_image_tag(name):
    rendered = render_chart(example=name)
    tag = chart_examples.values(name)["image"]["tag"]
    problems = [p.message for p in vllm_args.check_args(rendered.container()["args"], tag)]
    assert problems == [], f"example {name}: vLLM {tag} refuses: {problems}"


# Flags some catalogued version lacks, with the version the chart requires before it emits them
# (the refusal below that version is a case in tests/test_bad_values.py): vllm-versions.yaml's gated flags
# (their first catalogued version), and the native multi-node flags from rules.yaml vllm.nativeMultiNode (the
# chart passes them only from there on, else it launches with Ray); -n and -r are --nnodes' and --node-rank's
# short forms.
NATIVE_FROM = "v" + yaml.safe_load((toolchain.CHART_DIR / "rules.yaml").read_text())["rules"]["vllm"]["nativeMultiNode"]["from"]
VERSION_GATED = {**{flag: f"v{next(e['version'] for e in vllm_versions.committed()['versions'] if e['flags'][flag])}"
                    for flag in vllm_versions.GATED_FLAGS},
                 **{flag: NATIVE_FROM for flag in ("--nnodes", "-n", "--node-rank", "-r", "--master-addr")}}


def release(tag: str) -> tuple[int, ...]:
    return tuple(int(part) for part in vllm_args.catalog_version(tag).split("."))


@pytest.mark.parametrize("tag", CATALOG_VERSIONS)
def test_every_flag_the_chart_manages_exists_in_vllm_or_is_gated_by_version(tag):
    known = vllm_args.load_catalog(tag)["flags"]
    missing = sorted(flag for flag in managed_flags() if flag not in known and flag not in REFUSED_ONLY)
    expected = sorted(flag for flag, since in VERSION_GATED.items()
                      if release(tag) < release(since))
    assert missing == expected, (f"_args.tpl vllm-models.managedFlags names flags vLLM {tag} does not have: {missing}; "
                                 f"the chart gates only {expected} by version")


# Managed only so that extraArgs cannot set them (older spellings of what a key sets); the chart never renders them.
REFUSED_ONLY = {"--disable-mm-preprocessor-cache", "-O"}


@pytest.mark.parametrize("shape", [VISION, LMCACHE, ASYNC, NATIVE, LORA], ids=["vision", "lmcache", "async", "native", "lora"])
def test_every_flag_the_chart_sets_is_one_extra_args_may_not_repeat(shape, tmp_path):
    tag = CATALOG_VERSIONS[-1]  # the newest: every version-gated flag renders there
    args = args_of(tmp_path, "multi-gpu", EVERYTHING, shape, {"deployment": {"attentionBackend": "FLASH_ATTN"}}, tag=tag)
    chart_set = flags_in(args[:args.index("--max-num-batched-tokens")])
    unguarded = sorted(set(chart_set) - set(managed_flags()))
    assert unguarded == [], f"_args.tpl sets {unguarded} but vllm-models.managedFlags does not list them"
    assert not set(chart_set) & REFUSED_ONLY, f"vLLM {tag}: the chart renders {sorted(set(chart_set) & REFUSED_ONLY)}"


def test_every_optional_key_reaches_its_flag(tmp_path):
    args = args_of(tmp_path, "multi-gpu", EVERYTHING, VISION)
    expected = [
        "/models/meta-llama/Llama-3.3-70B-Instruct-FP8", "--served-model-name", "Llama-3.3-70B-Instruct",
        "--host", "0.0.0.0", "--port", "8000", "--tensor-parallel-size", "2", "--pipeline-parallel-size", "2",
        "--gpu-memory-utilization", "0.9", "--max-model-len", "32768", "--max-num-seqs", "256",
        "--enable-chunked-prefill", "--enable-prefix-caching", "--quantization", "fp8", "--trust-remote-code",
        "--limit-mm-per-prompt", '{"image": 4}', "--mm-processor-cache-gb", "0",
        "--enable-expert-parallel", "--enable-auto-tool-choice", "--tool-call-parser", "hermes",
        "--reasoning-parser", "deepseek_r1",
        "--compilation-config", '{"cudagraph_mode":"FULL_AND_PIECEWISE"}',
        "--max-num-batched-tokens", "8192",
    ]
    assert args == expected


@pytest.mark.parametrize("tag", CATALOG_VERSIONS)
def test_lora_renders_its_limits_and_each_adapter_in_the_form_the_version_reads(tag, tmp_path):
    args = args_of(tmp_path, "single-gpu", LORA, tag=tag)
    lora = LORA["lora"]
    start = args.index("--enable-lora")
    modules = args[args.index("--lora-modules") + 1:args.index("--lora-modules") + 1 + len(lora["adapters"])]
    assert args[start:args.index("--lora-modules")] == [
        "--enable-lora", "--max-loras", str(lora["maxLoras"]), "--max-lora-rank", str(lora["maxLoraRank"]),
        "--max-cpu-loras", str(lora["maxCpuLoras"])], f"vLLM {tag}: args {args}"
    served = chart_examples.values("single-gpu")["deployment"]["servedModelName"]
    if vllm_versions.facts(tag)["loraModulesJson"]:
        expected = [{"name": a["name"], "path": a["path"], "base_model_name": served} for a in lora["adapters"]]
        assert [json.loads(module) for module in modules] == expected, f"vLLM {tag}: --lora-modules {modules}"
    else:
        assert modules == [f"{a['name']}={a['path']}" for a in lora["adapters"]], f"vLLM {tag}: --lora-modules {modules}"


def test_lora_off_renders_no_lora_flag_and_no_runtime_loading(tmp_path):
    container = render_chart(example="single-gpu").container()
    assert not [arg for arg in container["args"] if "lora" in arg], f"single-gpu: args {container['args']}"
    assert not [e for e in container["env"] if "LORA" in e["name"]], f"single-gpu: env {container['env']}"


def test_lora_without_adapters_or_cpu_cache_size_renders_only_the_limits(tmp_path):
    args = args_of(tmp_path, "single-gpu", {"lora": {"enabled": True}})
    assert "--lora-modules" not in args and "--max-cpu-loras" not in args, f"single-gpu with lora.enabled: args {args}"
    assert args[args.index("--enable-lora"):][:5] == ["--enable-lora", "--max-loras", "1", "--max-lora-rank", "16"]


def test_runtime_adapter_loading_is_an_explicit_switch_on_vllms_variable():
    rules = yaml.safe_load((toolchain.CHART_DIR / "rules.yaml").read_text())["rules"]
    env = render_chart(example="lora", values={"lora": {"runtimeUpdating": True}}).container()["env"]
    assert {"name": rules["lora"]["runtimeUpdatingEnv"], "value": "1"} in env, f"lora with runtimeUpdating: env {env}"


def test_async_scheduling_reaches_its_flag_on_tensor_parallelism_alone(tmp_path):
    args = args_of(tmp_path, "multi-gpu", EVERYTHING, ASYNC)
    assert "--async-scheduling" in args and "--pipeline-parallel-size" not in args, args


def test_kv_offloading_connects_lmcache_with_valid_json(tmp_path):
    args = args_of(tmp_path, "single-gpu", LMCACHE)
    config = args[args.index("--kv-transfer-config") + 1]
    assert json.loads(config) == {"kv_connector": "LMCacheConnectorV1", "kv_role": "kv_both"}
    assert args[args.index("--mm-processor-cache-gb") + 1] == "2"


def native_offloading_from() -> str:
    return VERSION_GATED["--kv-offloading-backend"]


def test_native_kv_offloading_uses_vllms_own_flags_and_no_lmcache(tmp_path):
    rendered = render_chart(example="single-gpu", values={**NATIVE, "image": {"tag": native_offloading_from()}})
    args = rendered.container()["args"]
    assert args[args.index("--kv-offloading-size") + 1] == "8"
    assert args[args.index("--kv-offloading-backend") + 1] == "native"
    assert "--kv-transfer-config" not in args
    assert not [e for e in rendered.container()["env"] if e["name"].startswith("LMCACHE_")]


def shutdown_from() -> str:
    return VERSION_GATED["--shutdown-timeout"]


def drain_of(values: dict, tag: str) -> tuple[str | None, str, str]:
    """(--shutdown-timeout value or None, preStop sleep of the server, grace period) as rendered."""
    rendered = render_chart(example="single-gpu", values={**values, "image": {"tag": tag}})
    args = rendered.container()["args"]
    pod = rendered.one("Deployment")["spec"]["template"]["spec"]
    sleep = pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][1]
    value = args[args.index("--shutdown-timeout") + 1] if "--shutdown-timeout" in args else None
    return value, sleep, str(pod["terminationGracePeriodSeconds"])


MARGIN = yaml.safe_load((toolchain.CHART_DIR / "rules.yaml").read_text())["rules"]["shutdown"]["exitMarginSeconds"]


@pytest.mark.parametrize("grace, pause, expected", [  # the example's grace-table floor is 120 s
    (120, 15, 120 - 15 - MARGIN),  # the grace period less the pause and vLLM's exit
    (120, 120 - MARGIN - 1, 1),  # one second of drain left
    (120, 120 - MARGIN, None),  # none left: no flag (vLLM aborts in-flight requests)
])
def test_the_shutdown_timeout_is_derived_from_the_grace_period_and_the_pause(grace, pause, expected):
    values = {"deployment": {"terminationGracePeriodSeconds": grace, "preStopSleepSeconds": pause}}
    value, sleep, rendered_grace = drain_of(values, shutdown_from())
    assert (value, sleep, rendered_grace) == (None if expected is None else str(expected), str(pause), str(grace))
    assert int(rendered_grace) > int(sleep) + int(value or 0)


def test_an_explicit_shutdown_timeout_is_rendered_and_zero_renders_none():
    assert drain_of({"deployment": {"shutdownTimeoutSeconds": 30}}, shutdown_from())[0] == "30"
    assert drain_of({"deployment": {"shutdownTimeoutSeconds": 0}}, shutdown_from())[0] is None


def test_no_shutdown_timeout_on_a_version_without_the_flag():
    before = CATALOG_VERSIONS[CATALOG_VERSIONS.index(shutdown_from()) - 1]
    assert drain_of({}, before)[0] is None


def test_switches_turned_off_say_so_or_leave_their_flag_out(tmp_path):
    args = args_of(tmp_path, "single-gpu", {"deployment": {"enableChunkedPrefill": False, "trustRemoteCode": False,
                                                           "quantization": None},
                                            "prefixCaching": {"enable": False}})
    assert "--no-enable-chunked-prefill" in args and "--enable-chunked-prefill" not in args
    assert "--no-enable-prefix-caching" in args and "--enable-prefix-caching" not in args
    assert "--trust-remote-code" not in args and "--quantization" not in args


def test_vision_flags_stay_out_of_a_model_that_is_not_vision(tmp_path):
    args = args_of(tmp_path, "single-gpu", {})
    assert not [arg for arg in args if "mm" in arg], args


def test_extra_args_come_last_unchanged(tmp_path):
    extra = ["--max-num-batched-tokens=16384", "--seed", "0"]
    args = args_of(tmp_path, "single-gpu", {"deployment": {"extraArgs": extra}})
    assert args[-3:] == extra


@pytest.mark.parametrize("extra, given, key", [
    (["--max-model-len", "8192"], "--max-model-len", "deployment.maxModelLen"),
    (["--max-model-len=8192"], "--max-model-len", "deployment.maxModelLen"),
    (["--tensor-parallel-size", "8"], "--tensor-parallel-size", "deployment.tensorParallel"),
    (["--tensor-parallel-size=8"], "--tensor-parallel-size", "deployment.tensorParallel"),
    (["-tp", "8"], "-tp", "deployment.tensorParallel"),
    (["--tensor_parallel_size=8"], "--tensor_parallel_size", "deployment.tensorParallel"),
    (["--no-enable-prefix-caching"], "--no-enable-prefix-caching", "prefixCaching.enable"),
    (["--no-trust-remote-code"], "--no-trust-remote-code", "deployment.trustRemoteCode"),
    (["--disable-prefix-caching"], "--disable-prefix-caching", "prefixCaching.enable"),
    (["--shutdown-timeout", "30"], "--shutdown-timeout", "deployment.shutdownTimeoutSeconds"),
    (["--reasoning-parser=qwen3"], "--reasoning-parser", "deployment.reasoningParser"),
    (["--data-parallel-size", "2"], "--data-parallel-size", "replicaCount"),
    (["--hf-token=hf_abc"], "--hf-token", "huggingface.tokenSecret"),
], ids=lambda value: value if isinstance(value, str) else " ".join(value))
def test_extra_args_may_not_set_a_flag_the_chart_manages_in_any_spelling(extra, given, key, tmp_path):
    with pytest.raises(harness.RenderError) as refused:
        args_of(tmp_path, "single-gpu", {"deployment": {"extraArgs": extra}})
    first = refused.value.stderr.splitlines()[0]
    assert first.endswith(f"): vllm-models: deployment.extraArgs sets {given}, which the chart manages from {key}; "
                          "set that key instead of passing the flag"), first


def test_tensor_parallelism_given_through_extra_args_cannot_leave_dev_shm_sized_for_one_gpu(tmp_path):
    with pytest.raises(harness.RenderError) as refused:
        args_of(tmp_path, "single-gpu", {"deployment": {"extraArgs": ["-tp", "4"]}})
    assert "which the chart manages from deployment.tensorParallel" in refused.value.stderr
    rendered = render_chart(example="single-gpu", values={"deployment": {"tensorParallel": 4, "numGPUs": 4},
                       "resources": {"limits": {"nvidia.com/gpu": 4}, "requests": {"nvidia.com/gpu": 4}}})
    dshm = next(v for v in rendered.one("Deployment")["spec"]["template"]["spec"]["volumes"] if v["name"] == "dshm")
    assert dshm["emptyDir"]["sizeLimit"] == "32Gi"


def attention_backends() -> list[str]:
    schema = json.loads((toolchain.CHART_DIR / "values.schema.json").read_text())
    return [b for b in schema["properties"]["deployment"]["properties"]["attentionBackend"]["enum"] if b]


@pytest.mark.parametrize("tag", CATALOG_VERSIONS)
def test_every_attention_backend_the_schema_offers_renders_as_the_version_takes_it_or_is_refused_naming_it(tag):
    """The flag where the version has it, else the variable; a backend the version's catalog lacks is reported by
    the vLLM-argument check, naming the version."""
    facts = vllm_versions.facts(tag)
    known = vllm_args.load_catalog(tag)["attention_backends"]
    for backend in attention_backends():
        rendered = render_chart(example="vision", values={"deployment": {"attentionBackend": backend}, "image": {"tag": tag}})
        container = rendered.container()
        if facts["flags"]["--attention-backend"]:
            assert "VLLM_ATTENTION_BACKEND" not in {e["name"] for e in container["env"]}
            value = container["args"][container["args"].index("--attention-backend") + 1]
            problems = [p.message for p in vllm_args.check_args(container["args"], tag)]
        else:
            value = next(e["value"] for e in container["env"] if e["name"] == "VLLM_ATTENTION_BACKEND")
            problems = [p.message for p in vllm_args.check_attention_backend(value, tag)]
        assert value == facts["attentionBackendNames"].get(backend, backend)
        if value in known:
            assert problems == [], f"attentionBackend {backend} on vLLM {tag}: {problems}"
        else:
            assert len(problems) == 1 and f"vLLM {vllm_args.catalog_version(tag)}" in problems[0], (backend, tag, problems)


def test_the_tool_call_parsers_the_seeds_name_exist_in_each_version():
    for tag in CATALOG_VERSIONS:
        parsers = vllm_args.load_catalog(tag)["tool_call_parsers"]
        assert {"qwen3_coder", "deepseek_v3", "hermes"} <= set(parsers), f"vLLM {tag} parsers: {parsers}"
        assert "deepseek" not in parsers, "the seed's `deepseek` parser appeared: revisit the MoE example's correction"


@pytest.mark.parametrize("tag", CATALOG_VERSIONS)
def test_each_quantization_method_the_schema_offers_is_one_the_version_has_or_is_refused_naming_it(tag):
    """The schema offers what some version knows (bitsandbytes and gguf are gone from 0.33.0); a method the release's
    version lacks is refused by the vLLM-argument check, naming the version."""
    schema = json.loads((toolchain.CHART_DIR / "values.schema.json").read_text())
    methods = [m for m in schema["properties"]["deployment"]["properties"]["quantization"]["enum"] if m]
    known = vllm_args.load_catalog(tag)["quantization_methods"]
    for method in methods:
        problems = [p.message for p in vllm_args.check_args(["--quantization", method], tag)]
        if method in known:
            assert problems == [], f"vLLM {tag}: {problems}"
        else:
            assert len(problems) == 1 and problems[0].startswith(
                f"--quantization {method} is not a valid quantization method for vLLM {vllm_args.catalog_version(tag)}"), problems
    assert set(methods) & set(known), f"vLLM {tag} knows none of the schema's methods"


def test_the_managed_flag_table_is_read_whole():
    flags = managed_flags()
    assert flags["--tensor-parallel-size"] == "deployment.tensorParallel"
    assert all(re.fullmatch(r"-{1,2}[a-zA-Z][-a-z]*", flag) for flag in flags), flags
