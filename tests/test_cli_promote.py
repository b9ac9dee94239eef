"""`vllm-models promote`: carries a model to the next environment and prints the rendered difference.

Includes the issue's "done when": a newcomer adds a 70B multi-GPU model to staging with one command,
every check passes with no edit, and promote carries it to production-vn with a readable diff.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml
from cli_repo import copy_repository, described, fleet_problems, run, run_json

CONFIGS = Path(__file__).parent / "fixtures" / "hf_configs"


def global_values(root, env: str) -> dict:
    return yaml.safe_load((root / f"environments/{env}/values.yaml").read_text())["global"]


TEST_DIGEST = "sha256:" + "0123456789abcdef" * 4  # test data: real digests come from the registry


def test_a_newcomer_adds_a_70b_multi_gpu_model_to_staging_and_promotes_it_to_production_vn(tmp_path):
    root = copy_repository(tmp_path)
    added = run(root, "new-model", "llama-3-1-70b-instruct", "--env", "staging", "--shape", "multi-gpu",
                "--model-path", "/models/meta-llama/Llama-3.1-70B-Instruct",
                "--hf-config", str(CONFIGS / "llama-3.1-70b-instruct.json"), "--served-name", "Llama-3.1-70B-Instruct")
    assert added.returncode == 0, described(added)
    assert "vllm-models promote llama-3-1-70b-instruct --from staging --to production-vn" in added.stdout
    code, report = run_json(root, "verify", "--env", "staging")
    assert code == 0, f"staging fails verify after new-model, with no edit: {report['findings']}"
    assert fleet_problems(root, "staging") == []

    # Production runs images pinned by digest (policy image_digest): whoever promotes reads the digests from the
    # registry and sets them beside the tags (vLLM's and the helm test's), so staging runs, and proves, that content.
    staging_file = root / "environments/staging/language/llama-3-1-70b-instruct.yaml"
    text, found = re.subn(r'(\nimage:\n  tag: "[^"]+"\n)', rf'\1  digest: "{TEST_DIGEST}"\n', staging_file.read_text())
    assert found == 1, f"{staging_file}: no image.tag line to set the digest beside"
    staging_file.write_text(text + f"\nhelmTest:\n  image: curlimages/curl:8.11.1@{TEST_DIGEST}\n")
    code, report = run_json(root, "verify", "--env", "staging")
    assert code == 0, f"staging fails verify with the image digest set: {report['findings']}"

    promoted = run(root, "promote", "llama-3-1-70b-instruct", "--from", "staging", "--to", "production-vn")
    assert promoted.returncode == 0, described(promoted)
    production_file = root / "environments/production-vn/language/llama-3-1-70b-instruct.yaml"
    assert production_file.read_text() == staging_file.read_text(), "promote copies the proven file as is"
    flags = yaml.safe_load((root / "environments/production-vn/values.yaml").read_text())
    assert flags["language"]["models"]["llama-3-1-70b-instruct"] == {"enabled": True}

    lines = promoted.stdout.splitlines()
    assert "~ llms-v2-llama-3-1-70b-instruct: staging → production-vn" in lines, described(promoted)
    staging, production = global_values(root, "staging"), global_values(root, "production-vn")
    if staging["priorityClassName"] != production["priorityClassName"]:
        assert (f"      ~ spec.template.spec.priorityClassName: {staging['priorityClassName']} → "
                f"{production['priorityClassName']}") in lines, described(promoted)
    if production["networkPolicy"]["enabled"] and not staging["networkPolicy"]["enabled"]:
        assert "  + NetworkPolicy/llms-v2-llama-3-1-70b-instruct (only in production-vn)" in lines
    assert not [line for line in lines if "args[" in line], "the model's vLLM arguments are the same in both"

    code, report = run_json(root, "verify", "--env", "production-vn")
    assert code == 0, f"production-vn fails verify after promote: {report['findings']}"
    assert fleet_problems(root, "production-vn") == []


def test_promote_json_lists_the_changed_fields_with_old_and_new_values(tmp_path):
    root = copy_repository(tmp_path)
    port = yaml.safe_load((root / "environments/production-vn/language/qwen3-32b.yaml").read_text())["service"]["nodePort"]
    code, out = run_json(root, "promote", "qwen3-32b", "--from", "staging", "--to", "production-vn")
    assert code == 0, out
    assert out["replaced"] is True and out["nodePort"] == port, out
    assert f"kept {port}, the port llms-v2-qwen3-32b already has in production-vn" == out["portNote"]
    (release,) = out["diff"]
    assert release["release"] == "llms-v2-qwen3-32b" and release["status"] == "changed"
    for obj in release["objects"]:
        for change in obj["changes"]:
            assert change["change"] in ("added", "removed", "changed") and change["path"], change


def test_promote_moves_a_taken_port_and_declares_the_change(tmp_path):
    root = copy_repository(tmp_path)
    _, added = run_json(root, "new-model", "mistral-7b", "--env", "staging", "--shape", "single-gpu",
                        "--model-path", "/models/mistralai/Mistral-7B-Instruct",
                        "--hf-config", str(CONFIGS / "mistral-7b-instruct.json"))
    port = added["nodePort"]
    # A model that exists only in production-vn now holds that port there.
    holder = root / "environments/production-vn/language/legacy-7b.yaml"
    holder.write_text((root / "environments/staging/language/mistral-7b.yaml").read_text()
                      .replace("mistral-7b", "legacy-7b"))
    code, out = run_json(root, "promote", "mistral-7b", "--from", "staging", "--to", "production-vn")
    assert code == 0, out
    assert out["nodePort"] != port, f"production-vn: {port} is held by {holder}"
    assert out["portChange"] == {"release": "llms-v2-mistral-7b", "environment": "production-vn",
                                 "nodePort": out["nodePort"], "reason": f"{port} is taken in production-vn by "
                                 f"llms-v2-legacy-7b (environments/production-vn/language/legacy-7b.yaml)"}
    fleet = yaml.safe_load((root / "environments/fleet.yaml").read_text())
    assert fleet["portChanges"][-1] == out["portChange"]
    promoted = yaml.safe_load((root / "environments/production-vn/language/mistral-7b.yaml").read_text())
    assert promoted["service"]["nodePort"] == out["nodePort"]
    drift = [p for p in fleet_problems(root, "production-vn") if "portChanges" in p or "differs from" in p]
    assert drift == [], drift


def test_promote_refuses_to_skip_an_environment_without_force(tmp_path):
    root = copy_repository(tmp_path)
    result = run(root, "promote", "qwen3-32b-lmcache", "--from", "staging", "--to", "production-jp")
    assert result.returncode == 2, described(result)
    assert ("promoting staging -> production-jp skips production-vn (promotion order development -> staging -> "
            "production-vn -> production-jp); promote to production-vn first, or pass --force") in result.stderr
    assert not (root / "environments/production-jp/language/qwen3-32b-lmcache.yaml").exists()


def test_promote_refuses_a_model_the_source_environment_does_not_have(tmp_path):
    root = copy_repository(tmp_path)
    result = run(root, "promote", "nope", "--from", "staging", "--to", "production-vn")
    assert result.returncode == 2, described(result)
    assert ("model nope is not in staging: none of environments/staging/language/nope.yaml, "
            "environments/staging/vision-language/nope.yaml exists") in result.stderr
