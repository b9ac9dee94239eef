"""`vllm-models new-model`: the file it writes renders and passes every check with no edit; refusals say why."""
from __future__ import annotations

import json

import pytest
import yaml

from cli_repo import (CONFIGS, SHAPES, copy_repository, described, fleet_problems, make_gpu_room, model, run, run_json,
                      said, set_gpu_quota, snapshot, unused_model_name)

from vllm_models import modelfacts, scaffold

# The size class new-model reads from Llama 3.1 70B's config.json (its parameter count, to the nearest billion).
LLAMA_70B_SIZE = modelfacts.size_class_parameters(
    modelfacts.facts(modelfacts.read_config(CONFIGS / "llama-3.1-70b-instruct.json")))


@pytest.mark.parametrize("shape, name, extra", SHAPES, ids=[s[0] for s in SHAPES])
def test_the_file_new_model_writes_renders_and_passes_every_check_unedited(tmp_path, shape, name, extra):
    root = copy_repository(tmp_path)
    name = unused_model_name(root, name)
    make_gpu_room(root, "staging")
    values_before = (root / "environments/staging/values.yaml").read_text()
    created = run(root, "new-model", name, "--env", "staging", "--shape", shape, *extra)
    assert created.returncode == 0, f"new-model {name} --shape {shape}: {described(created)}"
    category = "vision-language" if shape == "vision" else "language"
    file = f"environments/staging/{category}/{name}.yaml"
    assert f"wrote {file}" in created.stdout
    assert f"vllm-models verify --env staging {file}" in created.stdout, "new-model prints the next command"

    values = yaml.safe_load((root / file).read_text())
    assert values["fullnameOverride"] == f"llms-v2-{name}" and values["modelName"] == name
    assert values["resources"]["limits"] == values["resources"]["requests"], f"{file}: requests must equal limits"
    flags = yaml.safe_load((root / "environments/staging/values.yaml").read_text())
    assert flags[category]["models"][name] == {"enabled": True}, f"{name} is not enabled in staging/values.yaml"
    values_after = (root / "environments/staging/values.yaml").read_text()
    flag = f"    {name}:\n      enabled: true\n"
    assert flag in values_after and values_after.replace(flag, "", 1) == values_before, (
        f"environments/staging/values.yaml: the edit must be the flag alone, comments and layout kept:\n{values_after}")

    code, report = run_json(root, "verify", "--env", "staging", file)
    assert code == 0 and report["findings"] == [], f"staging/{name} ({file}) fails verify: {report['findings']}"
    assert report["checked"] == {"staging": [f"llms-v2-{name}"]}
    assert fleet_problems(root, "staging") == [], f"fleet rules fail after new-model {name}"


def test_new_model_sizes_a_70b_multi_gpu_model_from_the_seed_tables(tmp_path):
    root = copy_repository(tmp_path)
    make_gpu_room(root, "staging")
    code, out = run_json(root, "new-model", unused_model_name(root, "llama-70b"), "--env", "staging", "--shape", "multi-gpu",
                         *model("meta-llama", "llama-3.1-70b-instruct"))
    assert code == 0, out
    values = out["values"]
    assert values["modelInfo"]["parameters"] == LLAMA_70B_SIZE, "70.55B from the config's dimensions, the nearest billion"
    assert (values["deployment"]["tensorParallel"], values["deployment"]["numGPUs"]) == (4, 4), \
        "131 GiB of bf16 weights: two 80 GB GPUs leave no room for a full context, four do"
    assert values["resources"]["limits"] == {"nvidia.com/gpu": 4, "memory": "400Gi", "cpu": "32"}
    assert values["shmSize"] == "32Gi", "sizing.yaml sharedMemory: 4 GPUs -> 32Gi"
    assert values["probes"]["startup"]["failureThreshold"] == 180, "size class large (50B+): threshold 180"
    grace = scaffold.last_row(scaffold.sizing()["terminationGrace"], "minParamsB", LLAMA_70B_SIZE, architecture="dense")
    assert values["deployment"]["terminationGracePeriodSeconds"] == grace["seconds"], f"grace table row {grace}"
    assert values["deployment"]["gpuMemoryUtilization"] == 0.9


@pytest.mark.parametrize("billions, whole", [(23.57, 24), (23.5, 24), (23.49, 23), (24.0, 24), (0.49, 1)])
def test_model_info_parameters_is_the_nearest_whole_billion_and_never_below_the_count_rounded_down(billions, whole):
    # A 24B checkpoint (23.57B by its dimensions) is a 24B model, not a 23B one; at least 1, the schema's minimum.
    assert modelfacts.size_class_parameters({"parametersB": billions}) == whole
    assert whole >= int(billions), "a size row never comes out below the one the count itself reaches"


MISTRAL = modelfacts.facts(modelfacts.read_config(CONFIGS / "mistral-7b-instruct.json"))


def summary_row(stdout: str, key: str) -> str:
    """The value of one row of new-model's summary (`  key  value`)."""
    return next(line.split(None, 1)[1] for line in stdout.splitlines() if line.split(None, 1)[:1] == [key])


def test_new_model_says_which_quantization_it_chose_for_a_16_bit_checkpoint_and_how_to_keep_its_weights(tmp_path):
    root = copy_repository(tmp_path)
    make_gpu_room(root, "staging")
    seed, stored = scaffold.SHAPES["single-gpu"], MISTRAL["weightDtype"]
    name = unused_model_name(root, "mistral-7b-instruct")
    result = run(root, "new-model", name, "--env", "staging", "--shape", "single-gpu",
                 *model("mistralai", "mistral-7b-instruct"))
    assert result.returncode == 0, described(result)
    written = yaml.safe_load((root / f"environments/staging/language/{name}.yaml").read_text())
    assert written["deployment"]["quantization"] == seed.quantization, f"seed {seed.seed} quantizes at load"
    assert summary_row(result.stdout, "quantization") == (
        f"{seed.quantization}, seed {seed.seed}'s: vLLM converts the checkpoint's {stored} weights to "
        f"{seed.quantization} as it loads them (half the memory, some accuracy); --quantization none keeps them "
        f"{stored}"), described(result)


def test_new_model_quantization_none_keeps_the_checkpoints_weights_and_the_fit_check_sizes_them(tmp_path):
    root = copy_repository(tmp_path)
    make_gpu_room(root, "staging")
    name = unused_model_name(root, "mistral-7b-instruct")
    code, out = run_json(root, "new-model", name, "--env", "staging", "--shape", "single-gpu",
                         *model("mistralai", "mistral-7b-instruct"), "--quantization", "none")
    assert code == 0, out
    assert out["quantization"] == {"method": "none", "reason": (
        f"none (--quantization none): vLLM loads the checkpoint's {MISTRAL['weightDtype']} weights as stored, and "
        f"the fit check sizes them as such")}, out["quantization"]
    assert "quantization" not in out["values"]["deployment"], "deployment.quantization stays the chart's null"
    _code, plan = run_json(root, "plan", "--env", "staging")
    rows = [row for row in plan["fit"] if row["release"] == f"llms-v2-{name}"]
    gpus = out["values"]["deployment"]["tensorParallel"]
    assert rows and all(row["weightsPerGpuGiB"] == round(MISTRAL["weightsGiB"] / gpus, 2) for row in rows), (
        f"staging, llms-v2-{name}: the fit check must size the {MISTRAL['weightDtype']} weights "
        f"({MISTRAL['weightsGiB']} GiB over {gpus} GPU(s)): {rows}")


@pytest.mark.parametrize("given", ["", "bf16"])
def test_new_model_refuses_a_quantization_the_chart_does_not_know_and_names_none(tmp_path, given):
    root = copy_repository(tmp_path)
    before = snapshot(root)
    result = run(root, "new-model", "any-model", "--env", "staging", "--shape", "single-gpu",
                 "--model-path", "/models/mistralai/mistral-7b-instruct", "--quantization", given)
    assert result.returncode == 2, described(result)
    assert f"argument --quantization: invalid choice: {given!r} (choose from " in result.stderr, described(result)
    assert all(repr(method) in result.stderr for method in ("none", *scaffold.quantization_methods())), \
        "the choices are the chart schema's deployment.quantization methods, and none"
    assert snapshot(root) == before


def test_new_model_caps_gpu_memory_utilization_in_development(tmp_path):
    root = copy_repository(tmp_path)
    make_gpu_room(root, "development")
    code, out = run_json(root, "new-model", unused_model_name(root, "gemma-3-4b-it"), "--env", "development", "--shape", "vision",
                         *model("google", "gemma-3-4b-it"))
    assert code == 0, out
    assert out["values"]["deployment"]["gpuMemoryUtilization"] == 0.8, "sizing.yaml developmentMax is 0.80"
    assert any("developmentMax" in note for note in out["notes"]), out["notes"]


def test_new_model_takes_a_port_that_later_environments_also_have_free(tmp_path):
    root = copy_repository(tmp_path)
    make_gpu_room(root, "staging")
    first = run_json(root, "new-model", unused_model_name(root, "model-a"), "--env", "staging", "--shape", "single-gpu",
                     *model("mistralai", "mistral-7b-instruct"))[1]
    # production-vn gets a (disabled) model on the next port: staging must skip it, or promotion would move ports.
    planted = root / "environments/production-vn/language/holder.yaml"
    text = (root / "environments/production-vn/language/qwen3-32b.yaml").read_text()
    port = yaml.safe_load(text)["service"]["nodePort"]
    planted.write_text(text.replace("qwen3-32b", "holder").replace("Qwen3-32B", "Holder")
                       .replace(f"nodePort: {port}", f"nodePort: {first['nodePort'] + 1}"))
    code, second = run_json(root, "new-model", unused_model_name(root, "model-b"), "--env", "staging", "--shape",
                            "single-gpu", "--model-path", "/models/mistralai/mistral-7b-instruct")
    assert code == 0, second
    assert second["nodePort"] == first["nodePort"] + 2, (
        f"staging model-b got {second['nodePort']}; {first['nodePort'] + 1} is held by {planted} in production-vn")


def test_new_model_refuses_a_name_that_exists(tmp_path):
    root = copy_repository(tmp_path)
    result = run(root, "new-model", "qwen3-32b", "--env", "staging", "--shape", "single-gpu",
                 "--model-path", "/models/Qwen/Qwen3-32B-FP8")
    assert result.returncode == 2, described(result)
    assert "environments/staging/language/qwen3-32b.yaml already exists (release llms-v2-qwen3-32b); pick another " \
           "NAME, or edit that file" in result.stderr


def test_new_model_refuses_a_model_of_another_environment_and_points_to_promote(tmp_path):
    root = copy_repository(tmp_path)
    result = run(root, "new-model", "qwen3-32b-lmcache", "--env", "production-jp", "--shape", "lmcache",
                 "--model-path", "/models/Qwen/Qwen3-32B-FP8")
    assert result.returncode == 2, described(result)
    assert "use `vllm-models promote qwen3-32b-lmcache --from production-vn --to production-jp` so it keeps its port" \
        in result.stderr
    assert not (root / "environments/production-jp/language/qwen3-32b-lmcache.yaml").exists()


def test_new_model_refuses_when_the_categorys_port_ranges_are_full(tmp_path):
    root = copy_repository(tmp_path)
    fleet_file = root / "environments/fleet.yaml"
    fleet = yaml.safe_load(fleet_file.read_text())
    used = sorted(yaml.safe_load(p.read_text())["service"]["nodePort"]
                  for p in (root / "environments/staging/language").glob("*.yaml"))
    # The language ranges become exactly the ports staging's models hold, one range per port.
    fleet["portRanges"] = [r for r in fleet["portRanges"] if r["category"] != "language"] + [
        {"name": f"language-{index}", "category": "language", "from": port, "to": port}
        for index, port in enumerate(used)]
    fleet_file.write_text(yaml.safe_dump(fleet, sort_keys=False))
    result = run(root, "new-model", "one-more", "--env", "staging", "--shape", "single-gpu",
                 *model("mistralai", "mistral-7b-instruct"))
    assert result.returncode == 2, described(result)
    ranges = ", ".join(f"language-{index} {port}-{port}" for index, port in enumerate(used))
    assert (f"no free NodePort for category language in staging: its ranges ({ranges}) in "
            f"environments/fleet.yaml portRanges are full") in result.stderr, described(result)
    assert not (root / "environments/staging/language/one-more.yaml").exists()


def test_new_model_refuses_a_shape_that_needs_more_gpus_than_the_quota_leaves(tmp_path):
    root = copy_repository(tmp_path)
    _, plan = run_json(root, "plan", "--env", "staging")
    peak = int(plan["peak"]["requests.nvidia.com/gpu"])
    set_gpu_quota(root, "staging", peak + 1)  # one GPU left, whatever staging runs today
    values_file = root / "environments/staging/values.yaml"
    values_before = values_file.read_bytes()
    result = run(root, "new-model", "qwen3-30b-a3b", "--env", "staging", "--shape", "moe",
                 *model("Qwen", "qwen3-30b-a3b"), "--tp", "2")
    assert result.returncode == 2, described(result)
    assert ("vllm-models: llms-v2-qwen3-30b-a3b adds 4 GPU(s) at peak (2 per pod x 1 replica(s) + 2 GPU(s) for its "
            "rollout)") in result.stderr, described(result)
    assert "but the quota of staging leaves 1 GPU(s)" in result.stderr, described(result)
    assert "(nothing was written)" in result.stderr
    assert not (root / "environments/staging/language/qwen3-30b-a3b.yaml").exists()
    assert values_file.read_bytes() == values_before, "refusal must undo the flag"


@pytest.mark.parametrize("args, message", [
    (["--shape", "single-gpu", *model("meta-llama", "llama-3.1-70b-instruct")],
     f"--shape single-gpu runs on one GPU, and a {LLAMA_70B_SIZE}B model does not fit one GPU of staging's node pools (seed: "
     "Template 1 for 7B-32B); use --shape multi-gpu (--tp 4)"),
    (["--shape", "single-gpu", "--params-b", "70", "--model-path", "/models/acme/some-70b"],
     "--shape single-gpu runs on one GPU, and a 70B model does not fit one GPU of staging's node pools (seed: "
     "Template 1 for 7B-32B); use --shape multi-gpu (--tp 4 or more)"),
    (["--shape", "single-gpu", "--params-b", "7"],
     "the following arguments are required: --model-path"),
    (["--shape", "single-gpu", "--model-path", "/weights/mistral"],
     "--model-path /weights/mistral is not a directory below /models/ (storage.mountPath)"),
    (["--shape", "single-gpu", "--model-path", "/models/acme/unknown"],
     "pass --params-b (the parameter count in whole billions) or --hf-config (the model's config.json, from which "
     "it is derived)"),
    (["--shape", "single-gpu", *model("mistralai", "mistral-7b-instruct"), "--quantization", "fp9"],
     "argument --quantization: invalid choice: 'fp9'"),
    (["--shape", "multi-gpu", "--params-b", "70", "--tp", "3", "--model-path", "/models/acme/some-70b"],
     "--tp 3: tensor parallel size must be one of 1, 2, 4, 8"),
    (["--shape", "vision", "--params-b", "7", "--category", "language", "--model-path", "/models/acme/vl"],
     "--shape vision does not fit --category language"),
    (["--shape", "moe", "--params-b", "30", "--architecture", "dense", "--model-path", "/models/acme/moe"],
     "--shape moe is for mixture-of-experts models"),
])
def test_new_model_refuses_inconsistent_options_before_writing(tmp_path, args, message):
    root = copy_repository(tmp_path)
    result = run(root, "new-model", "some-model", "--env", "staging", *args)
    assert result.returncode == 2, described(result)
    assert message in result.stderr
    assert not list((root / "environments/staging").rglob("some-model.yaml"))


def test_new_model_adds_the_checkpoints_facts_from_its_config_json_and_refuses_a_model_that_does_not_fit(tmp_path):
    root = copy_repository(tmp_path)
    make_gpu_room(root, "staging")
    before = (root / "environments/models.yaml").read_text()
    result = run(root, "new-model", unused_model_name(root, "llama-tp1"), "--env", "staging", "--shape", "multi-gpu", "--tp", "2",
                 *model("meta-llama", "llama-3.1-70b-instruct"), "--quantization", "fp8")
    assert result.returncode == 0, described(result)
    facts = yaml.safe_load((root / "environments/models.yaml").read_text())["models"]["meta-llama/llama-3.1-70b-instruct"]
    assert (facts["layers"], facts["kvHeads"], facts["weightDtype"]) == (80, 8, "bf16"), facts
    assert (root / "environments/models.yaml").read_text().startswith(before), "existing entries and comments kept"
    two_gpus = unused_model_name(root, "llama-two-gpus")
    refused = run(root, "new-model", two_gpus, "--env", "staging", "--shape", "function-calling", "--tp", "2",
                  "--model-path", "/models/meta-llama/llama-3.1-70b-instruct")
    assert refused.returncode == 2, described(refused)
    assert "model meta-llama/llama-3.1-70b-instruct does not fit NVIDIA-H100-80GB-HBM3" in refused.stderr, described(refused)
    assert "(nothing was written)" in refused.stderr
    assert not (root / f"environments/staging/language/{two_gpus}.yaml").exists()


def test_new_model_writes_the_golden_render_of_the_new_release(tmp_path):
    root = copy_repository(tmp_path)
    make_gpu_room(root, "staging")
    name = unused_model_name(root, "mistral-7b-instruct")
    created = run(root, "new-model", name, "--env", "staging", "--shape", "single-gpu",
                  *model("mistralai", "mistral-7b-instruct"))
    assert created.returncode == 0, described(created)
    golden = root / f"tests/golden/staging/llms-v2-{name}.yaml"
    assert golden.is_file() and "kind: Deployment" in golden.read_text(), f"{golden} was not written"


def test_new_model_refuses_a_release_that_would_fail_a_policy_naming_the_environment_file_and_rule(tmp_path):
    root = copy_repository(tmp_path)
    make_gpu_room(root, "production-jp")
    name = unused_model_name(root, "mistral-7b-instruct")
    before = snapshot(root)
    result = run(root, "new-model", name, "--env", "production-jp", "--shape", "single-gpu",
                 *model("mistralai", "mistral-7b-instruct"))
    assert result.returncode == 2, described(result)
    # production-jp runs only images pinned by digest, and a new model file names none.
    assert said(result).startswith(
        f"vllm-models: environment production-jp, release llms-v2-{name} (environments/production-jp/language/{name}.yaml) "
        "would fail 2 policies (nothing was written):\n  [image_digest] Deployment"), described(result)
    assert snapshot(root) == before, "a refused new-model writes nothing"


def test_a_second_model_from_a_checkpoint_already_described_uses_its_facts_when_the_config_agrees(tmp_path):
    root = copy_repository(tmp_path)
    make_gpu_room(root, "staging")
    first = run(root, "new-model", unused_model_name(root, "mistral-a"), "--env", "staging", "--shape", "single-gpu",
                *model("mistralai", "mistral-7b-instruct"))
    assert first.returncode == 0, described(first)
    facts = (root / "environments/models.yaml").read_text()
    second = run(root, "new-model", unused_model_name(root, "mistral-b"), "--env", "staging", "--shape", "single-gpu",
                 *model("mistralai", "mistral-7b-instruct"))
    assert second.returncode == 0, described(second)
    assert (root / "environments/models.yaml").read_text() == facts, "the checkpoint's entry is used, not added again"


def test_a_config_that_contradicts_the_checkpoints_facts_is_refused_naming_each_fact_and_both_values(tmp_path):
    root = copy_repository(tmp_path)
    make_gpu_room(root, "staging")
    first = run(root, "new-model", unused_model_name(root, "mistral-a"), "--env", "staging", "--shape", "single-gpu",
                *model("mistralai", "mistral-7b-instruct"))
    assert first.returncode == 0, described(first)
    config = json.loads((CONFIGS / "mistral-7b-instruct.json").read_text())
    layers = config["num_hidden_layers"]
    config["num_hidden_layers"] = layers + 1
    contradicting = tmp_path / "config.json"
    contradicting.write_text(json.dumps(config))
    facts = (root / "environments/models.yaml").read_text()
    name = unused_model_name(root, "mistral-b")
    result = run(root, "new-model", name, "--env", "staging", "--shape", "single-gpu",
                 "--model-path", "/models/mistralai/mistral-7b-instruct", "--hf-config", str(contradicting))
    assert result.returncode == 2, described(result)
    assert said(result).startswith(
        f"vllm-models: environments/models.yaml already has facts for mistralai/mistral-7b-instruct that --hf-config "
        f"{contradicting} contradicts (layers {layers} there, {layers + 1} in the config"), described(result)
    assert "drop --hf-config to use it as it is" in result.stderr
    assert (root / "environments/models.yaml").read_text() == facts
    assert not (root / f"environments/staging/language/{name}.yaml").exists()
