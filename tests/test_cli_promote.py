"""`vllm-models promote`: carries a model to the next environment and prints the rendered difference.

Includes the issue's "done when": a newcomer adds a 70B multi-GPU model to staging with one command,
every check passes with no edit, and promote carries it to production-vn with a readable diff.
"""
from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from cli_repo import (copy_repository, described, fleet_problems, make_gpu_room, run, run_json, said, snapshot,
                      unused_model_name)

from vllm_models import promote, scaffold, yamledit
from vllm_models import render as harness

CONFIGS = Path(__file__).parent / "fixtures" / "hf_configs"


def global_values(root, env: str) -> dict:
    return yaml.safe_load((root / f"environments/{env}/values.yaml").read_text())["global"]


TEST_DIGEST = "sha256:" + "0123456789abcdef" * 4  # test data: real digests come from the registry
TEST_IMAGE_DIGEST = "sha256:" + "fedcba9876543210" * 4
DIGESTS = ("--image-digest", TEST_DIGEST, "--test-image-digest", TEST_IMAGE_DIGEST)


def chart_test_image(root) -> str:
    """The chart's default helm test image (helmTest.image), a tag without a digest."""
    return yaml.safe_load((root / "charts/vllm-models/values.yaml").read_text())["helmTest"]["image"]


def test_a_newcomer_adds_a_70b_multi_gpu_model_to_staging_and_promotes_it_to_production_vn(tmp_path):
    root = copy_repository(tmp_path)
    for env in ("staging", "production-vn"):
        make_gpu_room(root, env)
    name = unused_model_name(root, "llama-3-1-70b-instruct")
    added = run(root, "new-model", name, "--env", "staging", "--shape", "multi-gpu",
                "--model-path", "/models/meta-llama/Llama-3.1-70B-Instruct",
                "--hf-config", str(CONFIGS / "llama-3.1-70b-instruct.json"), "--served-name", "Llama-3.1-70B-Instruct")
    assert added.returncode == 0, described(added)
    assert f"  {promote.command(name, 'staging', 'production-vn')}\n" in added.stdout, described(added)
    code, report = run_json(root, "verify", "--env", "staging")
    assert code == 0, f"staging fails verify after new-model, with no edit: {report['findings']}"
    assert fleet_problems(root, "staging") == []

    # Production runs images pinned by digest (policy image_digest): whoever promotes reads the digests from the
    # registry and sets them beside the tags (vLLM's and the helm test's), so staging runs, and proves, that content.
    staging_file = root / f"environments/staging/language/{name}.yaml"
    text, found = re.subn(r'(\nimage:\n  tag: "[^"]+"\n)', rf'\1  digest: "{TEST_DIGEST}"\n', staging_file.read_text())
    assert found == 1, f"{staging_file}: no image.tag line to set the digest beside"
    staging_file.write_text(text + f"\nhelmTest:\n  image: {chart_test_image(root)}@{TEST_DIGEST}\n")
    code, report = run_json(root, "verify", "--env", "staging")
    assert code == 0, f"staging fails verify with the image digest set: {report['findings']}"

    promoted = run(root, "promote", name, "--from", "staging", "--to", "production-vn")
    assert promoted.returncode == 0, described(promoted)
    production_file = root / f"environments/production-vn/language/{name}.yaml"
    assert production_file.read_text() == staging_file.read_text(), "promote copies the proven file as is"
    flags = yaml.safe_load((root / "environments/production-vn/values.yaml").read_text())
    assert flags["language"]["models"][name] == {"enabled": True}

    lines = promoted.stdout.splitlines()
    assert f"~ llms-v2-{name}: staging → production-vn" in lines, described(promoted)
    staging, production = global_values(root, "staging"), global_values(root, "production-vn")
    if staging["priorityClassName"] != production["priorityClassName"]:
        assert (f"      ~ spec.template.spec.priorityClassName: {staging['priorityClassName']} → "
                f"{production['priorityClassName']}") in lines, described(promoted)
    if production["networkPolicy"]["enabled"] and not staging["networkPolicy"]["enabled"]:
        assert f"  + NetworkPolicy/llms-v2-{name} (only in production-vn)" in lines
    assert not [line for line in lines if "args[" in line], "the model's vLLM arguments are the same in both"

    code, report = run_json(root, "verify", "--env", "production-vn")
    assert code == 0, f"production-vn fails verify after promote: {report['findings']}"
    assert fleet_problems(root, "production-vn") == []


@pytest.mark.parametrize("pattern, env, pins", [
    ("^production", "production-vn", True),
    ("^production", "pre-production", False),
    ("production", "pre-production", True),
    ("^production", "staging", False),
])
def test_the_suggested_promote_command_carries_the_digest_flags_where_rules_yaml_pins_digests(
        monkeypatch, pattern, env, pins):
    monkeypatch.setattr(promote.rules, "data", lambda: {"images": {"digestEnvironments": pattern}})
    assert promote.command("m", "staging", env).endswith("--image-digest sha256:... --test-image-digest sha256:...") \
        is pins, (pattern, env)


def test_promote_json_lists_the_changed_fields_with_old_and_new_values(tmp_path):
    root = copy_repository(tmp_path)
    port = yaml.safe_load((root / "environments/production-vn/language/qwen3-32b.yaml").read_text())["service"]["nodePort"]
    code, out = run_json(root, "promote", "qwen3-32b", "--from", "staging", "--to", "production-vn", *DIGESTS)
    assert code == 0, out
    assert out["replaced"] is True and out["nodePort"] == port, out
    assert f"kept {port}, the port llms-v2-qwen3-32b already has in production-vn" == out["portNote"]
    (release,) = out["diff"]
    assert release["release"] == "llms-v2-qwen3-32b" and release["status"] == "changed"
    for obj in release["objects"]:
        for change in obj["changes"]:
            assert change["change"] in ("added", "removed", "changed") and change["path"], change


def added_to_staging(root, name: str = "mistral-7b") -> tuple[str, dict]:
    """A 7B model new-model adds to staging (room made in staging's and production-vn's quotas): its name
    and new-model's JSON."""
    for env in ("staging", "production-vn"):
        make_gpu_room(root, env)
    name = unused_model_name(root, name)
    code, added = run_json(root, "new-model", name, "--env", "staging", "--shape", "single-gpu",
                           "--model-path", "/models/mistralai/Mistral-7B-Instruct",
                           "--hf-config", str(CONFIGS / "mistral-7b-instruct.json"))
    assert code == 0, added
    return name, added


def test_promote_moves_a_taken_port_and_declares_the_change(tmp_path):
    root = copy_repository(tmp_path)
    name, added = added_to_staging(root)
    port = added["nodePort"]
    # A model that exists only in production-vn now holds that port there.
    holder = root / "environments/production-vn/language/legacy-7b.yaml"
    holder.write_text((root / f"environments/staging/language/{name}.yaml").read_text()
                      .replace(name, "legacy-7b"))
    code, out = run_json(root, "promote", name, "--from", "staging", "--to", "production-vn", *DIGESTS)
    assert code == 0, out
    assert out["nodePort"] != port, f"production-vn: {port} is held by {holder}"
    assert out["portChange"] == {"release": f"llms-v2-{name}", "environment": "production-vn",
                                 "nodePort": out["nodePort"], "reason": f"{port} is taken in production-vn by "
                                 f"llms-v2-legacy-7b (environments/production-vn/language/legacy-7b.yaml)"}
    fleet = yaml.safe_load((root / "environments/fleet.yaml").read_text())
    assert fleet["portChanges"][-1] == out["portChange"]
    promoted = yaml.safe_load((root / f"environments/production-vn/language/{name}.yaml").read_text())
    assert promoted["service"]["nodePort"] == out["nodePort"]
    drift = [p for p in fleet_problems(root, "production-vn") if "portChanges" in p or "differs from" in p]
    assert drift == [], drift


def test_promote_to_production_without_digests_refuses_naming_the_images_and_the_flags_and_writes_nothing(tmp_path):
    root = copy_repository(tmp_path)
    name, added = added_to_staging(root)
    before = snapshot(root)
    result = run(root, "promote", name, "--from", "staging", "--to", "production-vn")
    assert result.returncode == 2, described(result)
    staging_file = f"environments/staging/language/{name}.yaml"
    vllm_image = f"vllm/vllm-openai:{added['values']['image']['tag']}"
    assert said(result).startswith(
        "vllm-models: environment production-vn runs only images pinned by digest (charts/vllm-models/rules.yaml "
        f"images.digestEnvironments) and {staging_file} pins none for {vllm_image}, {chart_test_image(root)}: "
        f"read the digests of the tags staging ran from the registry (crane digest {vllm_image}; crane digest "
        f"{chart_test_image(root)}) and promote again with --image-digest sha256:... (the vLLM image) and "
        "--test-image-digest sha256:... (the helm test image)"), described(result)
    assert (f"environment production-vn, release llms-v2-{name} (environments/production-vn/language/{name}.yaml) "
            "would fail 2 policies (nothing was written):") in result.stderr, described(result)
    assert result.stderr.count("[image_digest]") == 2, described(result)
    assert snapshot(root) == before, "a refused promote writes nothing"


def test_promote_with_digests_pins_both_images_beside_their_tags_and_production_verifies(tmp_path):
    root = copy_repository(tmp_path)
    name, added = added_to_staging(root)
    code, out = run_json(root, "promote", name, "--from", "staging", "--to", "production-vn", *DIGESTS)
    assert code == 0, out
    promoted = yaml.safe_load((root / f"environments/production-vn/language/{name}.yaml").read_text())
    assert promoted["image"] == {"tag": added["values"]["image"]["tag"], "digest": TEST_DIGEST}, promoted["image"]
    assert promoted["helmTest"]["image"] == f"{chart_test_image(root)}@{TEST_IMAGE_DIGEST}"
    code, report = run_json(root, "verify", "--env", "production-vn")
    assert code == 0, f"production-vn fails verify after promote with digests: {report['findings']}"


def test_a_digest_for_a_file_that_takes_its_tag_from_the_environment_writes_that_tag_beside_it(tmp_path):
    root = copy_repository(tmp_path)
    name, _added = added_to_staging(root)
    staging_file = root / f"environments/staging/language/{name}.yaml"
    text, found = re.subn(r'\nimage:\n  tag: "[^"]+"\n', "\n", staging_file.read_text())
    assert found == 1, f"{staging_file}: no image.tag block to remove"
    staging_file.write_text(text)
    code, out = run_json(root, "promote", name, "--from", "staging", "--to", "production-vn", *DIGESTS)
    assert code == 0, out
    promoted = yaml.safe_load((root / f"environments/production-vn/language/{name}.yaml").read_text())
    tag = global_values(root, "production-vn")["image"]["tag"]
    assert promoted["image"] == {"tag": tag, "digest": TEST_DIGEST}, (
        f"production-vn {name}: the digest pins the tag production-vn renders ({tag}), so that tag is written "
        f"beside it: {promoted['image']}")


def test_promoting_a_release_again_with_digests_removes_its_image_digest_exception_and_production_verifies(tmp_path):
    root = copy_repository(tmp_path)
    exceptions_file = root / "policies/exceptions.yaml"
    staged = sorted(path.stem for path in (root / "environments/staging").glob("*/*.yaml"))
    entries = yaml.safe_load(exceptions_file.read_text())["exceptions"] or []
    entry = next((e for e in entries if e["environment"] == "production-vn" and e["rule"] == "image_digest"
                  and e["release"].removeprefix("llms-v2-") in staged), None)
    if entry is None:  # every digest was filled in: the copy gets back the state the project shipped
        entry = {"environment": "production-vn", "release": f"llms-v2-{staged[0]}", "rule": "image_digest",
                 "reason": "the digest is not known yet"}
        exceptions_file.write_text(yamledit.append_item(exceptions_file.read_text(), "exceptions", entry,
                                                        label="policies/exceptions.yaml"))
        entries.append(entry)
    make_gpu_room(root, "production-vn")
    name = entry["release"].removeprefix("llms-v2-")
    code, out = run_json(root, "promote", name, "--from", "staging", "--to", "production-vn", *DIGESTS)
    assert code == 0, out
    assert out["exceptionsRemoved"] == [f"policies/exceptions.yaml: image_digest for {entry['release']} in production-vn"]
    assert yaml.safe_load(exceptions_file.read_text())["exceptions"] == [e for e in entries if e != entry], \
        "only that entry goes; the others keep their reasons (a YAML anchor it held moves to the next entry)"
    code, report = run_json(root, "verify", "--env", "production-vn")
    assert code == 0, f"production-vn fails verify after promote with digests: {report['findings']}"


@pytest.mark.parametrize("digest, accepted", [
    ("sha256:" + "a" * 64, True),
    ("sha256:" + "a" * 63, False),
    ("sha256:" + "a" * 65, False),
    ("sha256:" + "A" * 64, False),
    ("a" * 64, False),
])
def test_a_digest_is_sha256_and_exactly_64_lowercase_hex_digits_as_the_charts_schema_says(digest, accepted):
    assert bool(promote.digest_pattern().match(digest)) is accepted, digest


@pytest.mark.parametrize("flag", ["--image-digest", "--test-image-digest"])
def test_a_malformed_digest_is_refused_naming_the_flag_before_anything_is_written(tmp_path, flag):
    root = copy_repository(tmp_path)
    name = sorted((root / "environments/staging/language").glob("*.yaml"))[0].stem
    before = snapshot(root)
    digests = dict(zip(DIGESTS[::2], DIGESTS[1::2])) | {flag: "sha256:" + "a" * 63}
    result = run(root, "promote", name, "--from", "staging", "--to", "production-vn",
                 *[word for pair in digests.items() for word in pair])
    assert result.returncode == 2, described(result)
    assert said(result).startswith(
        f"vllm-models: {flag} 'sha256:{'a' * 63}' is not a digest: `sha256:` and 64 lowercase hex digits, as `crane "
        "digest IMAGE` prints it (nothing was written)"), described(result)
    assert snapshot(root) == before, "a refused promote writes nothing"


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


def pod_spec(containers: dict[str, str], init: dict[str, str] | None = None) -> dict:
    spec = {"containers": [{"name": name, "image": image} for name, image in containers.items()]}
    if init:
        spec["initContainers"] = [{"name": name, "image": image} for name, image in init.items()]
    return spec


@pytest.mark.parametrize("init, advice", [
    ({}, ""),
    ({"download": "amazon/aws-cli:2.36.7"},
     "; amazon/aws-cli:2.36.7 takes its digest in the model file (storage.download.<source>.image.digest, the init "
     "container that fetches the weights)"),
])
def test_a_refusal_names_where_an_image_the_digest_flags_do_not_reach_takes_its_digest(init, advice):
    deployment = {"kind": "Deployment", "metadata": {"name": "llms-v2-m"},
                  "spec": {"template": {"metadata": {}, "spec": pod_spec({"vllm": "vllm/vllm-openai:v1.0.0"}, init)}}}
    test_pod = {"kind": "Pod", "metadata": {"name": "llms-v2-m-test"}, "spec": pod_spec({"list-models": "curl:1"})}
    rendered = harness.Rendered(None, [deployment, test_pod], "")
    images = promote.unpinned_images(rendered)
    assert images == [*init.values(), "vllm/vllm-openai:v1.0.0", "curl:1"]
    assert promote.other_images(rendered, images) == advice


def capped_pair(root) -> tuple[str, str]:
    """The first environment that caps gpuMemoryUtilization and the next one in promotion order (uncapped)."""
    order = harness.environments()
    for source, target in zip(order, order[1:]):
        if scaffold.utilization_cap(source) is not None and scaffold.utilization_cap(target) is None:
            return source, target
    pytest.skip("no environment caps gpuMemoryUtilization before one that does not")


def utilization(root, relative: str) -> Decimal:
    return Decimal(str(yaml.safe_load((root / relative).read_text())["deployment"]["gpuMemoryUtilization"]))


def test_promote_out_of_development_keeps_the_targets_gpu_memory_utilization_and_says_so(tmp_path):
    root = copy_repository(tmp_path)
    source, target = capped_pair(root)
    # A model both run, with development's capped value beside the target's own.
    found = [(f"environments/{source}/{category}/{path.name}", f"environments/{target}/{category}/{path.name}")
             for category in harness.fleet_data()["categories"]
             for path in sorted((root / f"environments/{source}/{category}").glob("*.yaml"))
             if (root / f"environments/{target}/{category}/{path.name}").is_file()]
    found = [(a, b) for a, b in found if utilization(root, a) != utilization(root, b)]
    if not found:
        pytest.skip(f"no model runs in both {source} and {target} with a different gpuMemoryUtilization")
    source_file, target_file = found[0]
    capped, kept = utilization(root, source_file), utilization(root, target_file)
    promoted = run(root, "promote", Path(source_file).stem, "--from", source, "--to", target)
    assert promoted.returncode == 0, described(promoted)
    assert utilization(root, target_file) == kept, f"{target_file}: {source}'s cap {capped} must not come along"
    assert (f"promote: gpuMemoryUtilization {capped} -> {kept}: {capped} is {source}'s cap (sizing.yaml "
            f"gpuMemoryUtilization.developmentMax); {target} takes the value {target_file} has") in promoted.stdout, \
        described(promoted)


def test_promote_gives_a_new_model_out_of_development_the_seeds_gpu_memory_utilization_and_the_diff_shows_it(tmp_path):
    root = copy_repository(tmp_path)
    source, target = capped_pair(root)
    for env in (source, target):
        make_gpu_room(root, env)
    name = unused_model_name(root, "mistral-7b")
    code, added = run_json(root, "new-model", name, "--env", source, "--shape", "single-gpu",
                           "--model-path", "/models/mistralai/Mistral-7B-Instruct",
                           "--hf-config", str(CONFIGS / "mistral-7b-instruct.json"))
    assert code == 0, added
    capped = Decimal(str(added["values"]["deployment"]["gpuMemoryUtilization"]))
    seed = Decimal(scaffold.SHAPES["single-gpu"].gpu_memory_utilization)
    assert capped == min(seed, scaffold.utilization_cap(source)), added
    promoted = run(root, "promote", name, "--from", source, "--to", target)
    assert promoted.returncode == 0, described(promoted)
    assert utilization(root, f"environments/{target}/language/{name}.yaml") == seed
    assert (f"promote: gpuMemoryUtilization {capped} -> {seed}: {capped} is {source}'s cap (sizing.yaml "
            f"gpuMemoryUtilization.developmentMax); {target} takes the seed's for a single-gpu model (the value "
            f"new-model writes there)") in promoted.stdout, described(promoted)
    assert any(line.strip().startswith("~ ") and line.endswith(f": {capped} → {seed}")
               for line in promoted.stdout.splitlines()), f"the rendered diff shows the new value:\n{promoted.stdout}"
