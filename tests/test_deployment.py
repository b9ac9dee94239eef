"""The Deployment: GPU shape and QoS, for every release of every environment."""
from __future__ import annotations

import copy

import pytest

from conftest import edited_release
from vllm_models import checks
from vllm_models import render as harness


def test_every_release_runs_as_many_parallel_shards_as_it_has_gpus(rendered):
    assert checks.gpu_parallelism(rendered) == []


def test_every_container_has_requests_equal_to_limits(rendered):
    assert checks.guaranteed_qos(rendered) == []


def test_a_model_file_whose_gpus_differ_from_tensor_parallel_is_refused_naming_environment_file_and_values(tmp_path):
    rel = edited_release(tmp_path, "staging", "llms-v2-qwen3-32b",
                         lambda values: values["deployment"].update(numGPUs=2))
    with pytest.raises(harness.RenderError) as refused:
        harness.render(rel, use_cache=False)
    message = str(refused.value)
    assert "release llms-v2-qwen3-32b in environment staging" in message
    assert "deployment.numGPUs is set in environments/staging/language/qwen3-32b.yaml" in message
    assert "deployment.tensorParallel (1) must equal deployment.numGPUs (2)" in message
    assert "helm3 template llms-v2-qwen3-32b" in message


def staging_qwen():
    return harness.render(harness.release("staging", "llms-v2-qwen3-32b"))


def test_the_parallelism_check_reports_args_that_do_not_match_the_gpu_limit():
    rendered = staging_qwen()
    broken = harness.Rendered(rendered.release, copy.deepcopy(rendered.documents), rendered.manifest)
    args = broken.container()["args"]
    args[args.index("--tensor-parallel-size") + 1] = "2"
    assert checks.gpu_parallelism(broken) == [
        "environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): "
        "Deployment llms-v2-qwen3-32b runs --tensor-parallel-size 2 x --pipeline-parallel-size 1 = 2 "
        "but its nvidia.com/gpu limit is 1; set deployment.tensorParallel x pipelineParallel equal to "
        "deployment.numGPUs"]


def test_the_qos_check_reports_a_request_below_its_limit():
    rendered = staging_qwen()
    broken = harness.Rendered(rendered.release, copy.deepcopy(rendered.documents), rendered.manifest)
    broken.container()["resources"]["requests"]["memory"] = "100Gi"
    assert checks.guaranteed_qos(broken) == [
        "environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): "
        "Deployment llms-v2-qwen3-32b container vllm memory request 100Gi != limit 200Gi; "
        "set resources.requests.memory equal to resources.limits.memory (Guaranteed QoS)"]
