"""GPU fit and node placement (vllm_models.fit): the estimate against real vLLM logs, each comparison at its
boundary, the messages users see, and every environment's releases fitting their declared hardware.

Cases build their own inputs (model facts, GPU, node pools) or read them from the data files; none
depends on what the environments run today.
"""
from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from charts import render_chart
from conftest import rendered_release
from vllm_models import capacity, fit, toolchain
from vllm_models import render as harness

CALIBRATION = yaml.safe_load((Path(__file__).parent / "fixtures" / "fit_calibration.yaml").read_text())
GiB = 2**30
H100 = "NVIDIA-H100-80GB-HBM3"
CASES = CALIBRATION["cases"]
V1_CASES = [case for case in CASES if case.get("engine", "V1") == "V1"]
TOKEN_CASES = [case for case in CASES if "tokens" in case["logged"]]


def deviation(case: dict) -> str:
    """How far the estimate lands from the logged figures, component by component."""
    e, logged = fit.estimate(fit.calibration_inputs(case)), case["logged"]
    parts = [f"KV {e.kv_gib:.2f} GiB vs logged {logged['kvGiB']:.2f} ({e.kv_gib - logged['kvGiB']:+.2f})"]
    for name, estimated in (("weightsGiB", e.weights_gib), ("activationGiB", e.activation_gib),
                            ("nonTorchGiB", e.non_torch_gib)):
        if name in logged:
            parts.append(f"{name} {estimated:.2f} vs {logged[name]:.2f}")
    return f"{case['id']} (vLLM {case['vllmVersion']}, {case['source']}): " + "; ".join(parts)


# --- Accuracy against real start-up logs -----------------------------------------------------------

def test_the_calibration_table_holds_public_logs_of_tensor_and_pipeline_parallel_runs_with_their_sources():
    assert len(V1_CASES) >= 20, f"tests/fixtures/fit_calibration.yaml has {len(V1_CASES)} V1 cases"
    missing = [case["id"] for case in CASES
               if not (case.get("source") and case.get("vllmVersion") and "kvGiB" in case["logged"])]
    assert missing == [], f"cases without a source, a vLLM version or the logged KV GiB: {missing}"
    shapes = {(case.get("tensorParallel", 1), case.get("pipelineParallel", 1)) for case in V1_CASES}
    assert {(1, 1), (2, 1), (4, 1), (8, 1), (1, 2), (2, 2)} <= shapes, sorted(shapes)


@pytest.mark.parametrize("case", V1_CASES, ids=[c["id"] for c in V1_CASES])
def test_the_kv_memory_estimate_is_never_more_than_the_margin_above_what_vllm_logged(case):
    margin = fit.runtime()["fitMarginGiB"]
    estimate = fit.estimate(fit.calibration_inputs(case))
    assert estimate.kv_gib <= case["logged"]["kvGiB"] + margin, f"{deviation(case)}; margin {margin} GiB"


@pytest.mark.parametrize("case", TOKEN_CASES, ids=[c["id"] for c in TOKEN_CASES])
def test_the_kv_token_estimate_stays_within_tolerance_of_the_logged_figure(case):
    estimate = fit.estimate(fit.calibration_inputs(case))
    error = estimate.tokens / case["logged"]["tokens"] - 1
    assert abs(error) <= CALIBRATION["tolerance"], (
        f"{case['id']} ({case['source']}): estimated {estimate.tokens} KV tokens, vLLM logged "
        f"{case['logged']['tokens']} ({error:+.1%}, tolerance {CALIBRATION['tolerance']:.0%}); {deviation(case)}")


def test_the_stated_margin_is_the_worst_case_rounded_up_to_a_quarter_gib():
    """The margin is what the cases need, not a comfortable figure: the worst case lands within one
    quarter GiB of it (a tighter constant would be caught by the test above, a looser one here)."""
    worst = max(fit.estimate(fit.calibration_inputs(case)).kv_gib - case["logged"]["kvGiB"] for case in V1_CASES)
    margin = fit.runtime()["fitMarginGiB"]
    assert margin - 0.25 < worst <= margin, f"worst case lands {worst:+.2f} GiB above vLLM; margin {margin} GiB"


def test_the_calibration_report_names_every_case_and_how_far_off_it_is():
    """What docs/fit.md tabulates: the report's rows come from the fixture, one per case."""
    report = fit.calibration_report()
    assert [row["id"] for row in report["cases"]] == [case["id"] for case in CASES]
    for row, case in zip(report["cases"], CASES):
        estimate = fit.estimate(fit.calibration_inputs(case))
        assert row["kvGiB"] == pytest.approx(estimate.kv_gib) and row["loggedKvGiB"] == case["logged"]["kvGiB"], row
    assert report["marginGiB"] == fit.runtime()["fitMarginGiB"] and report["publicLogs"] == len(V1_CASES)


def test_docs_fit_md_tabulates_every_case_as_the_estimate_computes_it_and_states_the_margin():
    doc = (Path(__file__).parents[1] / "docs" / "fit.md").read_text()
    report = fit.calibration_report()
    missing = []
    for row, case in zip(report["cases"], CASES):
        line = (f"| {row['id']} | {row['engine']} {row['vllmVersion']} | {row['gpu'].removeprefix('NVIDIA-')} | "
                f"{row['tensorParallel']}x{row['pipelineParallel']} | {case['utilization']:g} | {row['loggedKvGiB']:.2f} | "
                f"{row['kvGiB']:.2f} | {row['offGiB']:+.2f} |")
        if line not in doc:
            missing.append(line)
    assert missing == [], "docs/fit.md calibration table rows to update:\n" + "\n".join(missing)
    stated = (f"at most {report['marginGiB']:g} GiB per GPU above vLLM's own figure in {report['publicLogs']} "
              f"public start-up logs")
    assert stated in " ".join(doc.split()), f"docs/fit.md should say, as `vllm-models plan` does: {stated}"


# --- The arithmetic ----------------------------------------------------------------------------------

DENSE = {"weightsGiB": 60, "layers": 10, "attentionHeads": 16, "kvHeads": 8, "headDim": 128, "hiddenSize": 4096,
         "intermediateSize": 8192, "vocabSize": 32000, "attention": "full", "maxPositionEmbeddings": 8192,
         "dtype": "bfloat16"}


def inputs(**changes) -> fit.Inputs:
    model = {**DENSE, **changes.pop("model", {})}
    return fit.Inputs(**{"model": model, "usable_gib": 80.0, "utilization": 1.0, "batched_tokens": 2048,
                         "max_num_seqs": 256, **changes})


def kv_left(i: fit.Inputs) -> float:
    e = fit.estimate(i)
    return e.budget_gib - e.weights_gib - e.activation_gib - e.non_torch_gib


def test_kv_bytes_per_token_are_two_tensors_of_every_kv_head_in_every_layer_at_the_kv_dtype():
    assert fit.estimate(inputs()).kv_bytes_per_token == 2 * 8 * 128 * 2 * 10
    assert fit.estimate(inputs(kv_cache_dtype="fp8")).kv_bytes_per_token == 2 * 8 * 128 * 1 * 10


@pytest.mark.parametrize("tensor_parallel, heads_per_gpu", [(1, 8), (4, 2), (8, 1), (16, 1)])
def test_tensor_parallel_splits_kv_heads_but_every_gpu_keeps_at_least_one(tensor_parallel, heads_per_gpu):
    e = fit.estimate(inputs(tensor_parallel=tensor_parallel))
    assert e.kv_bytes_per_token == 2 * heads_per_gpu * 128 * 2 * 10
    assert e.weights_gib == pytest.approx(60 / tensor_parallel)


def test_pipeline_parallel_keeps_the_layers_of_the_largest_stage():
    e = fit.estimate(inputs(pipeline_parallel=3))  # 10 layers over 3 stages: 4 on the first
    assert e.kv_bytes_per_token == 2 * 8 * 128 * 2 * 4 and e.weights_gib == pytest.approx(20)


def test_mla_caches_one_latent_per_layer_on_every_tensor_parallel_rank():
    mla = {"attention": "mla", "kvLoraRank": 512, "qkRopeHeadDim": 64}
    assert fit.estimate(inputs(model=mla, tensor_parallel=8)).kv_bytes_per_token == 576 * 2 * 10


def test_sliding_window_layers_need_only_the_window_while_the_hybrid_allocator_is_on():
    sliding = {"attention": "sliding", "slidingWindow": 1024, "globalLayers": 2, "maxPositionEmbeddings": 131072}
    hybrid, flat = fit.estimate(inputs(model=sliding)), fit.estimate(inputs(model=sliding, hybrid_kv_cache=False))
    assert hybrid.needed_gib < flat.needed_gib / 3, (hybrid.needed_gib, flat.needed_gib)
    assert flat.needed_gib == pytest.approx(131072 * 2 * 8 * 128 * 2 * 10 / GiB)


def test_one_sequence_exactly_filling_the_kv_memory_fits_and_one_block_more_does_not():
    base = inputs(max_model_len=1024)
    per_token = fit.estimate(base).kv_bytes_per_token
    left = kv_left(base)
    blocks = int(left * GiB // (16 * per_token))
    exact = fit.estimate(dataclasses.replace(base, max_model_len=blocks * 16))
    assert exact.fits and exact.needed_gib <= exact.kv_gib
    over = fit.estimate(dataclasses.replace(base, max_model_len=blocks * 16 + 1))
    assert not over.fits, f"{blocks * 16 + 1} tokens need one block more than {blocks} blocks"


def test_the_longest_fitting_context_is_the_largest_that_still_fits():
    base = inputs(max_model_len=8192, model={"weightsGiB": 78.7})  # ~0.2 GiB left: about 5000 tokens
    longest = fit.longest_fitting(base)
    assert fit.estimate(dataclasses.replace(base, max_model_len=longest)).fits
    assert 0 < longest < 8192
    assert not fit.estimate(dataclasses.replace(base, max_model_len=longest + 16)).fits


@pytest.mark.parametrize("chunked, profiled", [(True, 2048), (False, 8192)])
def test_the_activation_peak_comes_from_the_batched_token_budget_or_without_chunked_prefill_the_whole_context(
        chunked, profiled):
    e = fit.estimate(inputs(chunked_prefill=chunked, model={"intermediateSize": 65536}))
    assert e.activation_gib * GiB == pytest.approx(
        fit.activation_bytes(e.inputs.model, profiled, 256, 1, e.inputs.legacy_sampler))


def test_the_activation_peak_never_falls_below_the_floor():
    tiny = {"hiddenSize": 64, "intermediateSize": 64, "vocabSize": 100}
    assert fit.estimate(inputs(model=tiny)).activation_gib == fit.runtime()["activationFloorGiB"]


WIDE = {**DENSE, "intermediateSize": 65536}  # a forward pass well above the activation floor


@pytest.mark.parametrize("legacy", [False, True])
def test_the_activation_peak_is_the_forward_pass_until_the_samplers_logits_outgrow_it(legacy):
    constants = fit.runtime()
    copies = constants["legacySampler"]["samplerLogitCopies"] if legacy else constants["samplerLogitCopies"]
    forward = 8192 * (4 * 4096 + 3 * 65536) * 2
    assert forward > constants["activationFloorGiB"] * GiB
    vocab = forward // (1024 * 4 * copies)  # the largest vocabulary whose logits do not outgrow the forward pass
    assert fit.activation_bytes({**WIDE, "vocabSize": vocab}, 8192, 1024, 1, legacy) == forward
    one_more = fit.activation_bytes({**WIDE, "vocabSize": vocab + 1}, 8192, 1024, 1, legacy)
    assert one_more == 1024 * (vocab + 1) * 4 * copies > forward


def test_a_moe_models_forward_workspace_and_sampler_add_up():
    moe = {**DENSE, "experts": 8, "expertsPerToken": 2, "moeIntermediateSize": 4096}
    forward, sampler = 8192 * (4 * 4096 + 3 * 4096 * 2) * 2, 1024 * 32000 * 4 * fit.runtime()["samplerLogitCopies"]
    assert forward + sampler > fit.runtime()["activationFloorGiB"] * GiB > max(forward, sampler)
    assert fit.activation_bytes(moe, 8192, 1024, 1, False) == forward + sampler


@pytest.mark.parametrize("version, legacy", [((0, 16, 9), True), ((0, 17, 0), False), (None, True)])
def test_vllm_before_0_17_profiles_the_sampler_with_more_logit_copies(version, legacy):
    assert fit.runtime()["legacySampler"]["before"] == "0.17.0"
    assert fit.version_inputs(version)["legacy_sampler"] is legacy


@pytest.mark.parametrize("tensor_parallel, pipeline_parallel, nvlink, key", [
    (1, 1, True, "single"), (2, 1, False, "parallel"), (1, 2, True, "parallel"), (1, 2, False, "parallel"),
    (2, 1, True, "tensorParallelNVLink")])
def test_non_torch_memory_grows_once_gpus_talk_and_most_with_tensor_parallel_over_nvlink(
        tensor_parallel, pipeline_parallel, nvlink, key):
    e = fit.estimate(inputs(tensor_parallel=tensor_parallel, pipeline_parallel=pipeline_parallel, nvlink=nvlink,
                            communicators_in_budget=False))
    assert e.non_torch_gib == fit.runtime()["nonTorchGiB"][key]


@pytest.mark.parametrize("parallel, nvlink, held", [((1, 1), True, False), ((2, 1), False, False),
                                                     ((1, 2), True, True), ((2, 1), True, True)])
def test_nccl_communicators_are_held_by_every_parallel_run_on_nvlink(parallel, nvlink, held):
    e = fit.estimate(inputs(tensor_parallel=parallel[0], pipeline_parallel=parallel[1], nvlink=nvlink))
    assert e.communicator_gib == (fit.runtime()["communicatorGiB"] if held else 0)


@pytest.mark.parametrize("in_budget, beside", [(True, False), (False, True), (True, True)])
def test_the_communicators_come_out_of_the_budget_beside_it_or_both_as_the_version_leaves_it_open(in_budget, beside):
    constants = fit.runtime()
    base = inputs(tensor_parallel=2, nvlink=True, communicators_in_budget=False, communicators_beside_budget=False)
    e = fit.estimate(dataclasses.replace(base, communicators_in_budget=in_budget, communicators_beside_budget=beside))
    plain = fit.estimate(base)
    assert e.non_torch_gib == pytest.approx(plain.non_torch_gib + (constants["communicatorGiB"] if in_budget else 0))
    assert e.outside_budget_gib == pytest.approx(plain.outside_budget_gib + (constants["communicatorGiB"] if beside else 0))


@pytest.mark.parametrize("version, in_budget, beside", [
    ((0, 10, 99), True, False), ((0, 11, 0), True, True), ((0, 11, 99), True, True), ((0, 12, 0), False, True),
    (None, True, True)])
def test_the_vllm_version_decides_where_the_communicators_count(version, in_budget, beside):
    constants = fit.runtime()
    assert (constants["communicatorsBesideBudgetFrom"], constants["communicatorsInBudgetBefore"]) == ("0.11.0", "0.12.0")
    flags = fit.version_inputs(version)
    assert (flags["communicators_in_budget"], flags["communicators_beside_budget"]) == (in_budget, beside)


@pytest.mark.parametrize("in_budget", [False, True])
def test_cuda_graphs_come_out_of_the_budget_from_vllm_0_21_and_sit_beside_it_before(in_budget):
    outside, inside = fit.estimate(inputs()), fit.estimate(inputs(graphs_in_budget=True))
    graphs = fit.runtime()["cudaGraphsGiBPerLayer"]["dense"] * DENSE["layers"]
    assert inside.kv_gib == pytest.approx(outside.kv_gib - graphs)
    assert outside.outside_budget_gib == pytest.approx(fit.runtime()["cudaContextGiB"] + graphs)
    assert inside.outside_budget_gib == pytest.approx(fit.runtime()["cudaContextGiB"])


def test_graphs_beside_the_budget_need_exactly_their_room_and_one_hundredth_less_utilization_fails():
    need = fit.runtime()["cudaContextGiB"] + fit.runtime()["cudaGraphsGiBPerLayer"]["dense"] * DENSE["layers"]
    utilization = 1 - need / 80
    assert fit.estimate(inputs(utilization=utilization)).headroom_ok
    assert not fit.estimate(inputs(utilization=utilization + 0.01)).headroom_ok


@pytest.mark.parametrize("version, in_budget", [("v0.20.9", False), ("v0.21.0", True), ("v0.33.0", True)])
def test_a_releases_vllm_version_decides_where_cuda_graphs_go(version, in_budget):
    rendered = render_chart({"image": {"tag": version}}, example="single-gpu")
    workload = fit.serving(rendered)
    model = fit.models()["Qwen/Qwen3-32B-FP8"]
    assert fit.release_inputs(rendered, workload, model, fit.product(H100)).graphs_in_budget is in_budget


@pytest.mark.parametrize("version, peaks", [((0, 18, 99), True), ((0, 19, 0), False), (None, True)])
def test_online_fp8_quantization_holds_the_16_bit_weights_while_loading_before_vllm_0_19(version, peaks):
    bf16 = {**DENSE, "parametersB": 10, "weightDtype": "bf16", "weightsGiB": 18.6}
    assert fit.runtime()["onlineFp8FullPrecisionLoadBefore"] == "0.19.0"
    loaded = fit.loaded_model(bf16, "fp8", version)
    assert loaded.get("loadWeightsGiB") == (18.6 if peaks else None)
    e = fit.estimate(inputs(model=loaded))
    assert e.load_peak_gib == pytest.approx((18.6 if peaks else loaded["weightsGiB"]) + fit.runtime()["cudaContextGiB"])


def test_the_16_bit_weights_that_exactly_fill_the_gpu_load_and_a_hundredth_gib_more_does_not():
    context = fit.runtime()["cudaContextGiB"]
    exact = fit.estimate(inputs(model={"weightsGiB": 10, "loadWeightsGiB": 80 - context}))
    assert exact.load_peak_gib == pytest.approx(80) and exact.load_ok
    over = fit.estimate(inputs(model={"weightsGiB": 10, "loadWeightsGiB": 80 - context + 0.01}))
    assert not over.load_ok


def test_a_16_bit_load_that_does_not_fit_is_refused_with_the_sizes_and_the_fixes():
    rendered = render_chart(example="single-gpu")
    e = fit.estimate(inputs(model={"weightsGiB": 40, "loadWeightsGiB": 80, "weightDtype": "bf16"}, utilization=0.9))
    [problem] = fit.fit_problems(rendered.release, "acme/big-bf16", fit.product(H100), e, POOLS)
    assert problem.startswith(f"release {rendered.release.name} (")
    assert (f": on {H100} (80 GiB usable) online FP8 quantization (--quantization fp8 on the bf16 checkpoint "
            f"acme/big-bf16) loads all 80 GiB of 16-bit weights before quantizing them, 80.0 GiB per GPU over "
            f"tensorParallel 1 x pipelineParallel 1, {80 + fit.runtime()['cudaContextGiB']:.1f} GiB with the CUDA "
            f"context and communicators beside them: loading runs out of memory before vLLM 0.19.0. Fix: a "
            f"pre-quantized FP8 checkpoint, more GPUs, or vLLM 0.19.0 or later") in problem, problem


def test_online_fp8_quantization_of_a_16_bit_checkpoint_loads_its_linear_layers_in_one_byte():
    bf16 = {**DENSE, "parametersB": 10, "weightDtype": "bf16", "weightsGiB": 18.6, "vocabSize": 32000, "hiddenSize": 4096}
    embeddings = 32000 * 4096 * 2
    loaded = fit.loaded_model(bf16, "fp8")
    assert loaded["weightsGiB"] == round((10e9 - embeddings + embeddings * 2) / GiB, 1)
    assert fit.loaded_model(bf16, None) is bf16 and fit.loaded_model(bf16, "awq") is bf16
    assert fit.loaded_model({**bf16, "weightDtype": "fp8"}, "fp8")["weightsGiB"] == 18.6


# --- Releases: the messages -----------------------------------------------------------------------

POOLS = [fit.Pool(0, "h100", H100, 8, 2, capacity.quantity("220"), capacity.quantity("1900Gi"))]


def release_problems(**values) -> list[str]:
    rendered = render_chart(values or None, example="multi-gpu")
    return [p for f in fit.release_fit(rendered, POOLS) for p in f.problems]


def test_a_70b_model_on_one_80gb_gpu_is_refused_with_the_numbers_and_the_fixes():
    problems = release_problems(deployment={"tensorParallel": 1, "numGPUs": 1},
                                resources={"limits": {"nvidia.com/gpu": 1}, "requests": {"nvidia.com/gpu": 1}},
                                shmSize="16Gi")
    [problem] = [p for p in problems if "does not fit" in p]
    model = fit.models()["meta-llama/Llama-3.3-70B-Instruct-FP8"]
    assert f"model meta-llama/Llama-3.3-70B-Instruct-FP8 does not fit {H100} (79.1 GiB usable" in problem
    assert f"weights take {float(model['weightsGiB']):.1f} GiB per GPU" in problem
    assert f"one sequence of {model['maxPositionEmbeddings']} tokens (deployment.maxModelLen" in problem
    assert "Fix: more GPUs (tensorParallel 2 = numGPUs 2" in problem
    assert "a larger product (" in problem and "a shorter deployment.maxModelLen (at most " in problem


def test_a_release_that_fits_reports_its_kv_tokens_and_concurrency():
    [result] = fit.release_fit(render_chart(example="multi-gpu"), POOLS)
    e = result.estimate
    assert result.problems == () and e.tokens > 0
    blocks = e.tokens // fit.runtime()["blockSize"]
    assert result.as_dict()["maxConcurrency"] == round(blocks / -(-e.max_model_len // fit.runtime()["blockSize"]), 2)


def test_a_checkpoint_without_model_facts_is_reported_with_the_command_that_adds_them():
    problems = release_problems(deployment={"model": "/models/acme/unknown-7b"})
    [problem] = problems
    assert problem.startswith("release llms-v2-llama-3-3-70b-instruct (/")
    assert problem.endswith(
        "): no model facts for checkpoint acme/unknown-7b (deployment.model below storage.mountPath, or "
        "modelInfo.checkpoint) in environments/models.yaml, so nothing proves it fits its GPUs; add them with "
        "`vllm-models model-facts acme/unknown-7b --hf-config <its config.json>`"), problem


def test_model_info_checkpoint_names_the_facts_when_the_path_does_not():
    rendered = render_chart({"deployment": {"model": "/models/weights/current"},
                             "modelInfo": {"checkpoint": "meta-llama/Llama-3.3-70B-Instruct-FP8"}}, example="multi-gpu")
    assert fit.checkpoint(rendered, fit.serving(rendered).container) == "meta-llama/Llama-3.3-70B-Instruct-FP8"


def test_a_pinned_product_missing_from_the_catalog_is_reported_by_name():
    rendered = render_chart({"gpuProducts": ["NVIDIA-Z100"]}, example="multi-gpu")
    [result] = fit.release_fit(rendered, POOLS)
    assert "GPU product NVIDIA-Z100 is not in environments/gpus.yaml" in result.problems[0]


# --- Placement -----------------------------------------------------------------------------------

def pod_release(name: str, example: str = "single-gpu", **values) -> harness.Rendered:
    rendered = render_chart(values or None, example=example)
    rel = dataclasses.replace(rendered.release, environment="test", name=f"llms-v2-{name}")
    return dataclasses.replace(rendered, release=rel)


def pool(nodes: int, gpus: int = 8, cpu: str = "220", memory: str = "1900Gi", product: str = H100) -> list[fit.Pool]:
    return [fit.Pool(0, "gpus", product, gpus, nodes, capacity.quantity(cpu), capacity.quantity(memory))]


RECREATE = {"deployment": {"updateStrategy": {"type": "Recreate"}}}


def test_a_tensor_parallel_8_pod_on_a_pool_of_4_gpu_nodes_is_refused_naming_the_pool():
    big = pod_release("big", example="multi-gpu", deployment={"tensorParallel": 8, "numGPUs": 8,
                                                               "updateStrategy": {"type": "Recreate"}},
                      resources={"limits": {"nvidia.com/gpu": 8}, "requests": {"nvidia.com/gpu": 8}}, shmSize="64Gi")
    [problem] = fit.place("test", [big], pool(4, gpus=4)).problems
    assert problem.startswith("environment test: release llms-v2-big (")
    assert ("a pod (8 GPU(s), 32 CPU, 400Gi memory) needs 8 GPUs on one node, but pool gpus (4 node(s) x 4 "
            f"{H100}, 220 CPU, 1900Gi memory each) has 4 per node") in problem


def test_pods_that_exactly_fill_the_nodes_are_placed_and_one_more_is_refused():
    per_node = [pod_release(f"m{i}", **RECREATE) for i in range(8)]
    assert fit.place("test", per_node, pool(1)).problems == []
    [problem] = fit.place("test", [*per_node, pod_release("m8", **RECREATE)], pool(1)).problems
    assert "release llms-v2-m" in problem and "finds no node in pool gpus" in problem
    assert "free per node: gpus-0 0 GPU(s)" in problem


def test_a_surge_pod_with_no_node_left_is_refused_as_the_rollouts_surge():
    rolling = pod_release("rolling")  # one replica and, while it rolls out, one surge pod
    assert fit.place("test", [rolling, *[pod_release(f"m{i}", **RECREATE) for i in range(6)]], pool(1)).problems == []
    [problem] = fit.place("test", [rolling, *[pod_release(f"m{i}", **RECREATE) for i in range(7)]], pool(1)).problems
    assert problem.startswith("environment test: release llms-v2-rolling (")
    assert "its rollout's surge pod (1 GPU(s)" in problem, problem


@pytest.mark.parametrize("resource, values, node", [
    ("cpu", {"resources": {"limits": {"cpu": "110"}, "requests": {"cpu": "110"}}}, {"cpu": "220"}),
    ("memory", {"resources": {"limits": {"memory": "950Gi"}, "requests": {"memory": "950Gi"}}}, {"memory": "1900Gi"}),
])
def test_cpu_and_memory_limit_a_node_like_gpus(resource, values, node):
    fits = [pod_release("a", **values, **RECREATE), pod_release("b", **values, **RECREATE)]
    assert fit.place("test", fits, pool(1, **node)).problems == []
    tighter = {resource: capacity.show(resource, capacity.quantity(node[resource]) - (2**30 if resource == "memory" else 1))}
    assert len(fit.place("test", fits, pool(1, **tighter)).problems) == 1


def test_largest_pods_go_first_so_small_ones_fill_the_gaps():
    big = pod_release("big", example="multi-gpu", **RECREATE)  # 4 GPUs
    smalls = [pod_release(f"s{i}", **RECREATE) for i in range(4)]
    placement = fit.place("test", [*smalls, big], pool(1, gpus=8))
    assert placement.problems == [] and placement.nodes[0].holds[0] == "llms-v2-big"


def test_a_pod_pinned_to_a_product_no_pool_has_is_refused_naming_the_declared_products():
    pinned = pod_release("pinned", gpuProducts=["NVIDIA-H200"], **RECREATE)
    [problem] = fit.place("test", [pinned], pool(1)).problems
    assert f"may run only on NVIDIA-H200, but environments/test/values.yaml nodePools declares no such node (its " \
           f"products: {H100})" in problem


def test_a_node_pool_naming_an_unknown_product_is_refused_by_file_and_key():
    values = {"nodePools": [{"name": "x", "gpuProduct": "NVIDIA-Z100", "gpusPerNode": 8, "nodes": 1, "cpu": "8",
                             "memory": "8Gi"}]}
    with pytest.raises(fit.FactsError, match=r"environments/test/values.yaml nodePools\[0\].gpuProduct: GPU product "
                                             r"NVIDIA-Z100 is not in environments/gpus.yaml"):
        fit.node_pools("test", values)


def test_a_node_pool_missing_a_key_is_refused_naming_it():
    with pytest.raises(fit.FactsError, match=r"nodePools\[0\] lacks cpu, memory"):
        fit.node_pools("test", {"nodePools": [{"name": "x", "gpuProduct": H100, "gpusPerNode": 8, "nodes": 1}]})


# --- The fleet ----------------------------------------------------------------------------------

@pytest.mark.parametrize("env", harness.environments())
def test_every_environment_declares_node_pools_of_catalogued_products(env):
    pools = fit.node_pools(env)
    assert pools, f"environments/{env}/values.yaml declares no nodePools"


def test_every_release_of_every_environment_fits_its_gpus(rendered):
    pools = fit.node_pools(rendered.release.environment)
    fits = fit.release_fit(rendered, pools)
    assert fits and all(f.estimate is not None for f in fits), [f.problems for f in fits]
    assert [p for f in fits for p in f.problems] == []


@pytest.mark.parametrize("env", harness.environments())
def test_every_pod_of_every_environment_finds_a_node_with_every_rollout_at_once(env):
    renders = [rendered_release(env, rel.name) for rel in harness.model_releases(env)]
    placement = fit.place(env, renders, fit.node_pools(env))
    assert placement.problems == []
    placed = sum(len(node.holds) for node in placement.nodes)
    assert placed == sum(len(fit.pods_of(r, fit.node_pools(env))) for r in renders)


def test_every_model_the_fleet_serves_has_facts_with_a_source():
    for key, facts in fit.models().items():
        missing = [k for k in ("architecture", "parametersB", "weightDtype", "weightsGiB", "layers", "kvHeads",
                               "attention", "maxPositionEmbeddings", "source") if k not in facts]
        assert not missing, f"environments/models.yaml {key}: missing {missing}"


def test_every_catalogued_gpu_product_states_its_memory_and_vllm_defaults():
    for label, entry in fit.gpus().items():
        assert {"memoryMiB", "usableGiB", "batchedTokens", "maxNumSeqs"} <= set(entry), label
        assert entry["usableGiB"] < entry["memoryMiB"] / 1024, f"{label}: CUDA reports less than nvidia-smi"


def test_the_issues_gpu_products_are_catalogued():
    required = ["NVIDIA-A100-SXM4-40GB", "NVIDIA-A100-SXM4-80GB", "NVIDIA-H100-80GB-HBM3", "NVIDIA-H100-PCIe",
                "NVIDIA-H100-NVL", "NVIDIA-H200", "NVIDIA-L40S", "NVIDIA-L4", "NVIDIA-B200"]
    assert [label for label in required if label not in fit.gpus()] == []


def test_quantities_in_pools_are_exact():
    assert fit.node_pools("test", {"nodePools": [{"name": "x", "gpuProduct": H100, "gpusPerNode": 8, "nodes": 1,
                                                  "cpu": "220", "memory": "1900Gi"}]})[0].memory == Fraction(1900 * GiB)


# --- LoRA adapters: their slots come out of the KV cache ---------------------------------------------

def lora_matrices(model: dict, tensor_parallel: int) -> float:
    """Elements of one rank-1 slot on one GPU, module by module (A in x 1, B 1 x out; tensor parallelism splits B
    of q, k, v, gate and up, A of o and down)."""
    hidden, q = model["hiddenSize"], model["attentionHeads"] * model["headDim"]
    kv, mlp = model["kvHeads"] * model["headDim"], model["intermediateSize"]
    column = (hidden + q / tensor_parallel) + 2 * (hidden + kv / tensor_parallel) + 2 * (hidden + mlp / tensor_parallel)
    row = (q / tensor_parallel + hidden) + (mlp / tensor_parallel + hidden)
    return (column + row) * model["layers"]


@pytest.mark.parametrize("tensor_parallel", [1, 2])
def test_lora_takes_slots_x_rank_of_every_target_module_in_every_layer_at_the_models_dtype(tensor_parallel):
    e = inputs(tensor_parallel=tensor_parallel, lora_slots=4, lora_rank=16)
    assert fit.lora_bytes(e) == pytest.approx(4 * 16 * lora_matrices(DENSE, tensor_parallel) * 2)


def test_lora_memory_is_taken_from_the_kv_cache_and_nothing_without_lora():
    plain, lora = fit.estimate(inputs()), fit.estimate(inputs(lora_slots=2, lora_rank=64))
    assert fit.lora_bytes(inputs()) == 0
    assert plain.kv_gib - lora.kv_gib == pytest.approx(fit.lora_bytes(inputs(lora_slots=2, lora_rank=64)) / GiB)
    assert lora.tokens < plain.tokens


def test_lora_slots_that_exactly_leave_one_sequence_fit_and_one_more_slot_does_not():
    base = inputs(max_model_len=8192, model={"weightsGiB": 70})
    per_slot = fit.lora_bytes(dataclasses.replace(base, lora_slots=1, lora_rank=512)) / GiB
    spare = fit.estimate(base).kv_gib - fit.estimate(base).needed_gib
    slots = int(spare // per_slot)
    assert slots > 0, f"{spare:.2f} GiB spare holds no slot of {per_slot:.2f} GiB: the fixture tests nothing"
    assert fit.estimate(dataclasses.replace(base, lora_slots=slots, lora_rank=512)).fits
    assert not fit.estimate(dataclasses.replace(base, lora_slots=slots + 1, lora_rank=512)).fits


def test_a_release_serving_adapters_counts_its_max_loras_and_rank_from_the_command_line():
    rendered = render_chart({"lora": {"enabled": True, "maxLoras": 4, "maxLoraRank": 64}}, example="multi-gpu")
    [result] = fit.release_fit(rendered, POOLS)
    assert (result.estimate.inputs.lora_slots, result.estimate.inputs.lora_rank) == (4, 64)
    [plain] = fit.release_fit(render_chart(example="multi-gpu"), POOLS)
    assert plain.estimate.inputs.lora_slots == 0 and result.estimate.tokens < plain.estimate.tokens


def test_lora_on_without_limits_counts_vllms_default_slot_and_rank():
    [result] = fit.release_fit(render_chart({"lora": {"enabled": True}}, example="multi-gpu"), POOLS)
    defaults = yaml.safe_load((toolchain.CHART_DIR / "values.yaml").read_text())["lora"]
    assert (result.estimate.inputs.lora_slots, result.estimate.inputs.lora_rank) == (
        defaults["maxLoras"], defaults["maxLoraRank"])


def test_a_release_whose_adapters_leave_no_room_is_refused_naming_the_lora_memory():
    problems = release_problems(lora={"enabled": True, "maxLoras": 256, "maxLoraRank": 512})
    [problem] = [p for p in problems if "does not fit" in p]
    assert ", LoRA ~" in problem and "(lora.maxLoras 256 x lora.maxLoraRank 512)" in problem, problem
