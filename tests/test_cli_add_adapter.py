"""`vllm-models add-adapter`: one more LoRA adapter on a model, written where the checks find it, or refused."""
from __future__ import annotations

import yaml
from cli_repo import copy_repository, described, fleet_problems, make_gpu_room, run, run_json, said, snapshot

from vllm_models import vllm_versions

ENV, MODEL = "staging", "qwen3-32b"
FILE = f"environments/{ENV}/language/{MODEL}.yaml"


def model_file(root) -> dict:
    return yaml.safe_load((root / FILE).read_text())


def test_an_adapter_is_added_with_lora_on_its_default_path_and_the_checkpoint_as_base_and_every_check_passes(tmp_path):
    root = copy_repository(tmp_path)
    make_gpu_room(root, ENV)
    before = (root / FILE).read_text()
    code, out = run_json(root, "add-adapter", MODEL, "--env", ENV, "--adapter", "qwen3-sql", "--rank", "8")
    assert code == 0, out
    values = model_file(root)
    mount = values.get("storage", {}).get("mountPath", "/models")
    checkpoint = values["deployment"]["model"][len(mount) + 1:]
    assert values["lora"] == {"enabled": True, "adapters": [
        {"name": "qwen3-sql", "path": f"{mount}/adapters/qwen3-sql", "rank": 8, "baseModel": checkpoint}]}
    assert (root / FILE).read_text().startswith(before.rstrip("\n")), "the lines before lora: are kept as they were"
    assert out["next"] == [f"vllm-models verify --env {ENV} {FILE}"]
    assert fleet_problems(root, ENV) == []
    golden = (root / f"tests/golden/{ENV}/llms-v2-{MODEL}.yaml").read_text()
    assert '"name":"qwen3-sql"' in golden, "the golden render holds the adapter"


def test_a_rank_above_the_limit_raises_max_lora_rank_to_the_smallest_the_version_accepts(tmp_path):
    root = copy_repository(tmp_path)
    make_gpu_room(root, ENV)
    result = run(root, "add-adapter", MODEL, "--env", ENV, "--adapter", "qwen3-sql", "--rank", "17")
    assert result.returncode == 0, described(result)
    tag = model_file(root).get("image", {}).get("tag") or yaml.safe_load(
        (root / f"environments/{ENV}/values.yaml").read_text())["global"]["image"]["tag"]
    ranks = vllm_versions.facts(tag)["loraRanks"]
    expected = min((r for r in ranks if r >= 17), default=17)
    assert model_file(root)["lora"]["maxLoraRank"] == expected
    assert f"17 (lora.maxLoraRank {expected}, raised from 16)" in result.stdout, result.stdout


def test_an_adapter_named_as_a_served_model_of_the_environment_is_refused_and_nothing_is_written(tmp_path):
    root = copy_repository(tmp_path)
    before = snapshot(root)
    taken = yaml.safe_load((root / f"environments/{ENV}/language/qwen3-32b-lmcache.yaml").read_text())[
        "deployment"]["servedModelName"]
    result = run(root, "add-adapter", MODEL, "--env", ENV, "--adapter", taken, "--rank", "8")
    assert result.returncode == 2, described(result)
    assert said(result).startswith(f"vllm-models: environment {ENV}: model name {taken!r} is "), said(result)
    assert "rename the adapter (lora.adapters[].name)" in said(result) and "(nothing was written)" in said(result)
    assert snapshot(root) == before


def test_an_adapter_of_another_base_model_is_refused_naming_key_and_fix(tmp_path):
    root = copy_repository(tmp_path)
    before = snapshot(root)
    result = run(root, "add-adapter", MODEL, "--env", ENV, "--adapter", "llama-sql", "--rank", "8",
                 "--base-model", "meta-llama/Llama-3.1-8B-Instruct")
    assert result.returncode == 2, described(result)
    assert (f"vllm-models: environment {ENV}, release llms-v2-{MODEL} ({FILE}): lora.adapters[0].baseModel is "
            f"meta-llama/Llama-3.1-8B-Instruct, but the release serves ") in said(result), said(result)
    assert snapshot(root) == before


def test_an_adapter_from_the_hub_needs_the_releases_download_and_is_refused_by_the_chart_without_it(tmp_path):
    root = copy_repository(tmp_path)
    before = snapshot(root)
    result = run(root, "add-adapter", MODEL, "--env", ENV, "--adapter", "qwen3-sql", "--rank", "8",
                 "--hf-repo", "org/qwen3-sql", "--hf-revision", "a" * 40)
    assert result.returncode != 0, described(result)
    assert ("lora.adapters[0].source is huggingface, but storage.download is disabled: an adapter is fetched by the "
            "weights' download") in said(result), said(result)
    assert snapshot(root) == before


def test_a_refusal_rendered_in_a_worker_process_comes_back_whole():
    import pickle

    from vllm_models import render as harness
    error = harness.RenderError(["helm", "template"], "Error: execution error at (x): vllm-models: no", environment=ENV,
                                release=f"llms-v2-{MODEL}")
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.reason, copy.environment) == (str(error), "no", ENV)
