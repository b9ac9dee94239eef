"""helmfile.yaml.gotmpl: releases come from the files present, installed as the enable flags say.

These run the pinned helmfile itself (lint, list, template, build), the way users run it, and
compare with what the environment's files and flags say, read here independently of helmfile.
"""
from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from cli_repo import unused_model_name

from vllm_models import render as harness
from vllm_models import toolchain

ENVIRONMENTS = harness.environments()
CATEGORIES = harness.fleet_data()["categories"]


def helmfile(env: str, *args: str, root: Path = toolchain.ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([toolchain.tool("helmfile"), "--file", str(root / "helmfile.yaml.gotmpl"), "-e", env, *args],
                          capture_output=True, text=True, cwd=root, env=toolchain.tool_env())


TEST_ENVIRONMENTS = harness.fleet_data().get("testEnvironments") or {}


def folder(env: str, root: Path = toolchain.ROOT) -> Path:
    """The environment's folder: environments/<env>, or a test tier's own (fleet.yaml testEnvironments)."""
    return root / TEST_ENVIRONMENTS.get(env, f"environments/{env}")


def expected_releases(env: str, root: Path = toolchain.ROOT) -> dict[str, bool]:
    """{release: installed} from the files present and the enable flags, without asking helmfile."""
    values = yaml.safe_load((folder(env, root) / "values.yaml").read_text())
    found = {"llms-namespace": True}
    for category in CATEGORIES:
        block = values.get(category) or {}
        for path in sorted((folder(env, root) / category).glob("*.yaml")):
            flag = ((block.get("models") or {}).get(path.stem) or {}).get("enabled", False)
            found[f"llms-v2-{path.stem}"] = bool(block.get("enabled") and flag)
    return found


def listed(env: str, root: Path = toolchain.ROOT) -> dict[str, bool]:
    result = helmfile(env, "list", "--output", "json", root=root)
    assert result.returncode == 0, f"environment {env}: helmfile list failed:\n{result.stderr}"
    return {entry["name"]: entry["installed"] for entry in json.loads(result.stdout)}


def instances(manifest: str) -> set[str]:
    return {doc["metadata"]["labels"]["app.kubernetes.io/instance"]
            for doc in yaml.safe_load_all(manifest) if doc}


@pytest.mark.parametrize("env", sorted(TEST_ENVIRONMENTS))
def test_a_test_tiers_environment_takes_its_releases_from_its_own_folder(env):
    """fleet.yaml testEnvironments: the same helmfile lists a test tier's environment from its folder (its
    values.yaml, its category folders), as it lists environments/<env>/ for the promotion chain's."""
    assert env not in ENVIRONMENTS, f"environment {env} is both in promotionOrder and in testEnvironments"
    releases = listed(env)
    assert releases == expected_releases(env) and any(name != "llms-namespace" for name in releases), (
        f"environment {env} ({TEST_ENVIRONMENTS[env]}): helmfile lists {releases}, its files say {expected_releases(env)}")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_helmfile_lint_passes_for_every_environment(env):
    result = helmfile(env, "lint")
    assert result.returncode == 0, f"environment {env}: helmfile lint failed:\n{result.stdout}\n{result.stderr}"
    for name, installed in expected_releases(env).items():
        assert (f"Linting release={name}," in result.stderr + result.stdout) is installed, \
            f"environment {env}: release {name} (installed: {installed}) linted contrary to its flags"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_helmfile_list_shows_one_release_per_model_file_installed_as_its_flags_say(env):
    assert listed(env) == expected_releases(env)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_helmfile_template_renders_exactly_the_enabled_releases(env):
    result = helmfile(env, "template")
    assert result.returncode == 0, f"environment {env}: helmfile template failed:\n{result.stderr}"
    enabled = {name for name, installed in expected_releases(env).items() if installed}
    assert instances(result.stdout) == enabled, f"environment {env}: rendered {sorted(instances(result.stdout))}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_model_release_is_installed_after_the_namespace_release(env):
    result = helmfile(env, "build")
    assert result.returncode == 0, result.stderr
    releases = [r for state in yaml.safe_load_all(result.stdout) if state for r in state.get("releases") or []]
    namespace = next(r for r in releases if r["name"] == "llms-namespace")
    assert namespace["namespace"] == "default" and namespace["chart"] == "./charts/llms-namespace"
    for rel in releases:
        if rel is not namespace:
            assert rel.get("needs") == ["default/llms-namespace"], f"environment {env}: release {rel['name']} needs {rel.get('needs')}"
            assert rel["namespace"] == "llms", f"environment {env}: release {rel['name']} in {rel['namespace']}"


def test_the_namespace_release_gets_the_environments_namespace_block_and_the_model_namespace():
    rel = harness.release("production-jp", "llms-namespace")
    values = rel.values()
    block = yaml.safe_load((toolchain.ENVIRONMENTS_DIR / "production-jp" / "values.yaml").read_text())["namespace"]
    assert values == {**block, "name": "llms"}, (
        f"environment production-jp, release llms-namespace: values {values}, environments/production-jp/values.yaml "
        f"namespace {block}")


# --- Robust to what git does to folders, and "add a file, flip a flag" -----------------------------

@pytest.fixture
def repo_copy(tmp_path) -> Path:
    """The helmfile, charts and environments in tmp_path, free to edit."""
    shutil.copy2(toolchain.HELMFILE, tmp_path / "helmfile.yaml.gotmpl")
    shutil.copytree(toolchain.ROOT / "charts", tmp_path / "charts")
    shutil.copytree(toolchain.ENVIRONMENTS_DIR, tmp_path / "environments")
    return tmp_path


def without_category(env: str, category: str, root: Path) -> dict[str, bool]:
    """expected_releases(env) with none from `category`: what removing its folder leaves (read before removing)."""
    files = {f"llms-v2-{path.stem}" for path in (root / "environments" / env / category).glob("*.yaml")}
    assert files, f"environment {env}: the case needs a model in environments/{env}/{category}/"
    return {name: installed for name, installed in expected_releases(env, root).items() if name not in files}


def test_a_missing_category_folder_yields_no_releases_for_it_and_no_error(repo_copy):
    expected = without_category("development", "vision-language", repo_copy)
    shutil.rmtree(repo_copy / "environments" / "development" / "vision-language")
    assert listed("development", repo_copy) == expected
    result = helmfile("development", "template", root=repo_copy)
    assert result.returncode == 0, result.stderr
    assert instances(result.stdout) == {name for name, installed in expected.items() if installed}


def test_an_empty_category_folder_yields_no_releases_for_it(repo_copy):
    folder = repo_copy / "environments" / "development" / "vision-language"
    expected = without_category("development", "vision-language", repo_copy)
    shutil.rmtree(folder)
    folder.mkdir()
    assert listed("development", repo_copy) == expected


def test_adding_a_model_is_adding_a_file_and_flipping_its_flag(repo_copy):
    env_dir = repo_copy / "environments" / "development"
    name = unused_model_name(repo_copy, "qwen3-8b")
    model = yaml.safe_load((env_dir / "language" / "qwen3-32b.yaml").read_text())
    model.update(fullnameOverride=f"llms-v2-{name}", modelName=name)
    model["deployment"]["servedModelName"] = name
    (env_dir / "language" / f"{name}.yaml").write_text(yaml.safe_dump(model, sort_keys=False))
    assert listed("development", repo_copy) == expected_releases("development", repo_copy) | {f"llms-v2-{name}": False}

    values = yaml.safe_load((env_dir / "values.yaml").read_text())
    values["language"]["models"][name] = {"enabled": True}
    (env_dir / "values.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
    assert listed("development", repo_copy) == expected_releases("development", repo_copy) | {f"llms-v2-{name}": True}


def test_a_disabled_category_uninstalls_its_models_whatever_their_flags(repo_copy):
    path = repo_copy / "environments" / "staging" / "values.yaml"
    values = yaml.safe_load(path.read_text())
    values["vision-language"]["enabled"] = False
    path.write_text(yaml.safe_dump(values, sort_keys=False))
    assert listed("staging", repo_copy)["llms-v2-gemma-3-27b-it"] is False


def test_the_helmfile_reads_only_the_files_its_cache_key_covers():
    """vllm_models.render caches `helmfile build` by HELMFILE_READS and the folder listing: a file the
    template read beyond them would go stale in the cache, so the template may read no other."""
    template = toolchain.HELMFILE.read_text()
    covered = [pattern.format(env="*") for pattern in harness.HELMFILE_READS]
    read = re.findall(r"\breadFile\s+(\S+)", template)
    environments = template.split("\n---", 1)[0]  # its `environments:` block: the values files helmfile reads
    read += re.findall(r"^\s*- (environments/\S+)$", environments, re.M)
    uncovered = [path for path in read if not any(fnmatch.fnmatch(path.strip('"').replace("{{ $env }}", "x"), c)
                                                  for c in covered)]
    other = re.findall(r"(?<![$.\w])(?:(?:readDir|exec|fetchSecretValue|env|requiredEnv)\s+\S+|readFile\s+(?!\")\S+)",
                       template)  # files, commands and variables the key cannot see, and files named by expression
    assert read and not uncovered and not other, (
        f"helmfile.yaml.gotmpl reads {uncovered + other}, which the helmfile-build cache key "
        f"(vllm_models.render.HELMFILE_READS: {covered}) does not cover: add the files there")
