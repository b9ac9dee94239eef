"""The fast vLLM argument check, against the committed catalogs (no helm, no vLLM)."""
from __future__ import annotations

import time

import pytest

from vllm_models.vllm_args import (
    ArgProblem,
    CatalogMissing,
    available_versions,
    check_args,
    check_attention_backend,
    load_catalog,
)

VERSIONS = ["0.10.2", "0.11.0"]  # the seeds' versions: SEED_STYLE uses flags later versions removed
CATALOGUED = available_versions()
NEWEST = CATALOGUED[-1]


def having(flag: str) -> list[str]:
    """The catalogued versions whose parser has `flag`."""
    return [version for version in CATALOGUED if flag in load_catalog(version)["flags"]]

SEED_STYLE = [
    "vllm", "serve", "/models/Qwen/Qwen3-Coder-30B-A3B-Instruct-FP8",
    "--served-model-name", "qwen3-coder",
    "--host", "0.0.0.0",
    "--port", "8000",
    "--tensor-parallel-size", "4",
    "--pipeline-parallel-size", "1",
    "--gpu-memory-utilization", "0.92",
    "--max-model-len", "131072",
    "--max-num-seqs", "64",
    "--enable-chunked-prefill",
    "--enable-prefix-caching",
    "--quantization", "fp8",
    "--trust-remote-code",
    "--limit-mm-per-prompt", '{"image": 12}',
    "--disable-mm-preprocessor-cache",
    "--enable-expert-parallel",
    "--async-scheduling",
    "--enable-auto-tool-choice",
    "--tool-call-parser", "qwen3_coder",
    "--kv-transfer-config", '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_both"}',
    "--compilation-config", '{"cudagraph_mode": "FULL_AND_PIECEWISE"}',
    "--mm-processor-cache-gb", "4",
]


def only(problems: list[ArgProblem]) -> ArgProblem:
    assert len(problems) == 1, problems
    return problems[0]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_seed_style_command_line_passes(version):
    assert check_args(SEED_STYLE, version) == []


def test_args_without_the_vllm_serve_command_are_checked_the_same():
    assert check_args(SEED_STYLE[2:], "0.11.0") == []


def test_an_image_tag_with_a_suffix_uses_the_catalog_of_its_release():
    assert load_catalog("v0.11.0-cu128") is load_catalog("0.11.0")
    assert check_args(SEED_STYLE, "v0.11.0-cu128") == []


def test_a_misspelled_flag_is_rejected_with_the_closest_valid_flag():
    problem = only(check_args(["--enable-chunk-prefill"], "0.11.0"))
    assert problem == ArgProblem(
        "--enable-chunk-prefill", "unknown-flag",
        "unknown flag --enable-chunk-prefill for vLLM 0.11.0; did you mean --enable-chunked-prefill?")


def test_an_abbreviated_flag_is_rejected_although_argparse_would_guess_it():
    problem = only(check_args(["--enable-chunked-prefil"], "0.11.0"))
    assert problem.message == (
        "unknown flag --enable-chunked-prefil for vLLM 0.11.0; did you mean --enable-chunked-prefill?")


@pytest.mark.parametrize("flag, value", [("--mm-processor-cache-type", "lru"), ("--swap-space", "4"), ("--task", "generate"),
                                         ("--shutdown-timeout", "30"), ("--kv-offloading-size", "4")])
@pytest.mark.parametrize("version", CATALOGUED)
def test_a_flag_only_other_catalogued_versions_have_names_those_versions(version, flag, value):
    """Expectations from the catalogs: where the flag exists it parses; elsewhere the message names the version
    and every catalogued version that has it (a removed flag in extraArgs after an image bump)."""
    others = having(flag)
    assert others, f"no catalog has {flag}"
    problems = check_args([flag, value], version)
    if version in others:
        assert problems == [], f"vLLM {version} has {flag}: {problems}"
        return
    assert only(problems).message == (
        f"unknown flag {flag} for vLLM {version}; it exists in vLLM {', '.join(others)}; "
        f"remove it or use an image of such a version")


def test_the_newest_catalog_lacks_the_flags_the_issue_names_as_removed():
    """--swap-space (0.18) and --task (0.13) are gone from the newest catalogued vLLM; --model still parses."""
    flags = load_catalog(NEWEST)["flags"]
    assert "--swap-space" not in flags and "--task" not in flags and "--model" in flags


@pytest.mark.parametrize("version", CATALOGUED)
def test_turning_a_boolean_off_with_its_negative_spelling_reads_as_off(version):
    """0.33.0 spells off as --disable-x (the catalog's `negative`): --disable-auto-tool-choice is not a request for
    auto tool choice, so it needs no --tool-call-parser."""
    flags = load_catalog(version)["flags"]
    off = [flag for flag, spec in flags.items() if spec["dest"] == "enable_auto_tool_choice" and spec.get("negative")]
    for flag in off:
        assert check_args([flag], version) == [], f"vLLM {version}: {flag}"
        assert only(check_args(["--enable-auto-tool-choice", flag], version)).problem == "duplicate"
    assert only(check_args(["--enable-auto-tool-choice"], version)).problem == "missing-flag"


def test_the_newest_catalog_has_disable_pairs_and_a_value_for_one_names_both_spellings():
    assert load_catalog(NEWEST)["flags"]["--disable-auto-tool-choice"]["negative"] is True
    problem = only(check_args(["--disable-chunked-prefill=true"], NEWEST))
    assert problem.message == (
        f"--disable-chunked-prefill takes no value in vLLM {NEWEST} but got 'true'; "
        "use --enable-chunked-prefill to turn it on or --disable-chunked-prefill to turn it off")


@pytest.mark.parametrize("version", CATALOGUED)
def test_a_reasoning_parser_is_checked_against_the_versions_registry(version):
    catalog = load_catalog(version)
    known = catalog["reasoning_parsers"]
    assert {"deepseek_r1", "qwen3"} <= set(known), f"vLLM {version}: {known}"
    for name in known:
        assert check_args(["--reasoning-parser", name], version) == [], f"vLLM {version}: {name}"
    problem = only(check_args(["--reasoning-parser", "deepseek"], version))
    assert problem.problem == "bad-choice"
    assert problem.message.startswith(f"--reasoning-parser deepseek is not a valid "), problem.message
    assert f"for vLLM {version}; did you mean " in problem.message and "deepseek_r1" in problem.message


def test_none_turns_reasoning_off_only_where_vllm_says_so():
    for version in CATALOGUED:
        says = "`none`" in (load_catalog(version)["reasoning_parser_flag"].get("help") or "")
        assert (check_args(["--reasoning-parser", "none"], version) == []) == says, version


@pytest.mark.parametrize("version", having("--attention-backend"))
def test_the_attention_backend_flag_takes_a_backend_of_the_version(version):
    backends = load_catalog(version)["attention_backends"]
    assert check_args(["--attention-backend", backends[0]], version) == []
    problem = only(check_args(["--attention-backend", "FLASH_ATTN_VLLM_V1"], version))
    assert problem.message.startswith(f"--attention-backend FLASH_ATTN_VLLM_V1 is not a valid attention backend for "
                                      f"vLLM {version}; ")


def test_a_flag_given_twice_under_an_alias_is_a_duplicate():
    problem = only(check_args(["-tp", "2", "--tensor-parallel-size", "4"], "0.11.0"))
    assert problem == ArgProblem(
        "--tensor-parallel-size", "duplicate",
        "--tensor-parallel-size sets tensor_parallel_size again in vLLM 0.11.0 "
        "(given as -tp and --tensor-parallel-size); only the last one counts, so give it once")


def test_turning_a_boolean_flag_on_and_off_is_a_duplicate():
    problem = only(check_args(["--enable-prefix-caching", "--no-enable-prefix-caching"], "0.10.2"))
    assert problem.message == (
        "--no-enable-prefix-caching sets enable_prefix_caching again in vLLM 0.10.2 "
        "(given as --enable-prefix-caching and --no-enable-prefix-caching); "
        "only the last one counts, so give it once")


def test_dotted_keys_of_one_json_flag_merge_rather_than_duplicate():
    args = ["--compilation-config.level", "3", "--compilation-config.cudagraph_mode=FULL"]
    assert check_args(args, "0.11.0") == []
    assert check_args(["-O3"], "0.11.0") == []


def test_a_tool_call_parser_the_version_lacks_is_rejected_with_the_real_name():
    problem = only(check_args(["--enable-auto-tool-choice", "--tool-call-parser", "deepseek"], "0.11.0"))
    assert problem == ArgProblem(
        "--tool-call-parser", "bad-choice",
        "--tool-call-parser deepseek is not a valid tool call parser for vLLM 0.11.0; "
        "did you mean deepseek_v3? choose one of: deepseek_v3, deepseek_v31, glm45, granite, "
        "granite-20b-fc, hermes, hunyuan_a13b, internlm, jamba, kimi_k2, llama3_json, llama4_json, "
        "llama4_pythonic, longcat, minimax, mistral, openai, phi4_mini_json, pythonic, qwen3_coder, "
        "qwen3_xml, seed_oss, step3, xlam")


def test_a_value_outside_the_flags_choices_is_rejected():
    problem = only(check_args(["--mm-processor-cache-type", "disk"], "0.11.0"))
    assert problem.message == (
        "--mm-processor-cache-type disk is not a valid choice for vLLM 0.11.0; choose one of: lru, shm")


def test_bad_json_for_limit_mm_per_prompt_is_rejected():
    problem = only(check_args(["--limit-mm-per-prompt", "image=12"], "0.10.2"))
    assert problem == ArgProblem(
        "--limit-mm-per-prompt", "bad-json",
        "--limit-mm-per-prompt takes JSON in vLLM 0.10.2 but got 'image=12' "
        "(Expecting value: line 1 column 1 (char 0)); pass valid JSON (double-quoted keys and strings)")


def test_a_config_flag_needs_a_json_object_not_a_bare_number():
    problem = only(check_args(["--compilation-config", "3"], "0.11.0"))
    assert problem.message == (
        "--compilation-config takes a JSON object in vLLM 0.11.0 but got '3'; "
        "pass one, e.g. --compilation-config '{\"key\": 1}'")


@pytest.mark.parametrize("args", [["--trust-remote-code=true"], ["--trust-remote-code", "true"]])
def test_a_value_for_a_boolean_flag_is_rejected(args):
    problem = only(check_args(["my/model", *args], "0.11.0"))
    assert problem == ArgProblem(
        "--trust-remote-code", "unexpected-value",
        "--trust-remote-code takes no value in vLLM 0.11.0 but got 'true'; "
        "use --trust-remote-code to turn it on or --no-trust-remote-code to turn it off")


@pytest.mark.parametrize("args", [["--port"], ["--port", "--host", "0.0.0.0"]])
def test_a_flag_missing_its_value_is_rejected(args):
    problem = only(check_args(args, "0.11.0"))
    assert problem == ArgProblem(
        "--port", "missing-value", "--port needs a value in vLLM 0.11.0; write --port VALUE")


def test_a_non_numeric_value_for_an_integer_flag_is_rejected():
    problem = only(check_args(["--tensor-parallel-size", "two"], "0.11.0"))
    assert problem.message == (
        "--tensor-parallel-size takes an integer in vLLM 0.11.0 but got 'two'; "
        "write it in digits, e.g. --tensor-parallel-size 2")


def test_the_model_given_as_a_flag_to_vllm_serve_is_rejected():
    problem = only(check_args(["vllm", "serve", "--model", "my/model"], "0.10.2"))
    assert problem.message == (
        "--model is rejected by `vllm serve` in vLLM 0.10.2 (\"you should provide the model as a "
        "positional argument\"); pass the model as the first argument after `serve` instead")


def test_a_second_positional_argument_is_rejected():
    problem = only(check_args(["my/model", "--port", "8000", "other/model"], "0.11.0"))
    assert problem.problem == "unexpected-argument"


def test_auto_tool_choice_without_a_parser_is_rejected():
    problem = only(check_args(["--enable-auto-tool-choice"], "0.11.0"))
    assert problem.problem == "missing-flag"
    assert problem.message.startswith(
        "--enable-auto-tool-choice needs --tool-call-parser in vLLM 0.11.0; add --tool-call-parser NAME")


def test_an_unknown_image_tag_names_the_make_target_that_generates_its_catalog():
    with pytest.raises(CatalogMissing) as caught:
        check_args(["--port", "8000"], "v0.9.9-cu128")
    assert str(caught.value) == (
        "no vLLM catalog for image tag v0.9.9-cu128; generate one with "
        "`make generate-vllm-catalog VLLM=0.9.9` and commit src/vllm_models/data/vllm/v0.9.9.json")


def test_an_image_tag_without_a_release_version_is_refused():
    with pytest.raises(CatalogMissing, match="no vLLM catalog for image tag latest: the tag names no vX.Y.Z"):
        load_catalog("latest")


def test_the_attention_backend_is_an_env_var_checked_against_the_version_before_the_flag_exists():
    flagged = having("--attention-backend")
    for version in CATALOGUED:
        if version in flagged:
            continue
        assert "VLLM_ATTENTION_BACKEND" in load_catalog(version)["env_vars"], version
        assert check_attention_backend("FLASHINFER", version) == []
    assert only(check_attention_backend("FLASH_ATTN_VLLM_V1", "0.11.0")).problem == "bad-choice"


@pytest.mark.parametrize("version", VERSIONS)
def test_each_catalog_records_its_provenance_and_the_v1_metrics(version):
    catalog = load_catalog(version)
    assert catalog["provenance"]["vllm_version"] == version
    assert catalog["provenance"]["generated_by"] == f"make generate-vllm-catalog VLLM={version}"
    assert catalog["metrics"]["vllm:kv_cache_usage_perc"]["type"] == "gauge"
    assert catalog["metrics"]["vllm:prompt_tokens"]["series"] == ["vllm:prompt_tokens_total"]
    assert catalog["metrics"]["vllm:gpu_cache_usage_perc"]["deprecated"] is True


def test_the_renamed_gpu_cache_metric_is_hidden_from_0_11_0_on():
    assert load_catalog("0.10.2")["metrics"]["vllm:gpu_cache_usage_perc"]["hidden"] is False
    assert load_catalog("0.11.0")["metrics"]["vllm:gpu_cache_usage_perc"]["hidden"] is True


def test_checking_a_release_takes_well_under_a_millisecond_or_so():
    load_catalog("0.11.0")
    start = time.perf_counter()
    for _ in range(200):
        check_args(SEED_STYLE, "0.11.0")
    per_call = (time.perf_counter() - start) / 200
    assert per_call < 0.02, f"{per_call * 1000:.2f} ms per call"
