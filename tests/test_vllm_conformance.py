"""Every rendered `vllm serve` command line is one the vLLM version of its image accepts."""
from __future__ import annotations

import pytest

from charts import edited_release, render_chart
from vllm_models import fleet, verify, vllm_args
from vllm_models import render as harness

NEWEST = vllm_args.available_versions()[-1]


def test_every_release_runs_a_command_line_its_vllm_version_accepts(rendered):
    assert verify.vllm_arguments(rendered) == []


def test_every_image_tag_in_the_fleet_has_a_committed_catalog(rendered):
    container = rendered.container()
    assert verify.image_version(container), f"{rendered.release.name}: image {container['image']} has no tag"


def findings_for(tmp_path, edit, env="staging", name="llms-v2-qwen3-32b"):
    rendered = render_chart(release=edited_release(tmp_path, env, name, edit), use_cache=False)
    return [str(f) for f in verify.vllm_arguments(rendered)]


def staging_version() -> str:
    """The vLLM version staging's qwen3-32b runs (its image tag's catalog)."""
    return vllm_args.catalog_version(fleet.image_tag(harness.release("staging", "llms-v2-qwen3-32b")))


def test_a_misspelled_flag_in_extra_args_names_the_release_the_version_and_the_closest_flag(tmp_path):
    findings = findings_for(tmp_path, lambda v: v["deployment"].update(extraArgs=["--max-num-batched-tokenz", "8192"]))
    assert findings == [
        "[vllm-args] environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): "
        f"unknown flag --max-num-batched-tokenz for vLLM {staging_version()}; did you mean --max-num-batched-tokens?"]


def test_a_tool_call_parser_the_version_lacks_is_reported_with_its_choices(tmp_path):
    def edit(values):
        values["deployment"].update(functionCall=True, toolCallParser="deepseek")

    findings = findings_for(tmp_path, edit)
    assert len(findings) == 1, findings
    assert findings[0].startswith(
        "[vllm-args] environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): ")
    assert "--tool-call-parser" in findings[0] and "deepseek" in findings[0] and f"vLLM {staging_version()}" in findings[0]
    assert "deepseek_v3" in findings[0]


def test_an_image_tag_without_a_catalog_says_how_to_generate_one(tmp_path):
    findings = findings_for(tmp_path, lambda v: v["image"].update(tag="v0.9.9"))
    assert len(findings) == 1, findings
    assert "make generate-vllm-catalog VLLM=0.9.9" in findings[0]
    assert findings[0].startswith("[vllm-args] environment staging, release llms-v2-qwen3-32b")


def test_the_page_cache_wrapper_is_looked_through_to_the_vllm_command_line_it_runs(tmp_path):
    (tmp_path / "wrapped").mkdir()
    (tmp_path / "planted").mkdir()
    assert findings_for(tmp_path / "wrapped", lambda v: v.update(dropPageCache={"enabled": True})) == []

    def planted(values):
        values.update(dropPageCache={"enabled": True})
        values["deployment"].update(extraArgs=["--max-num-batched-tokenz", "8192"])

    assert findings_for(tmp_path / "planted", planted) == [
        "[vllm-args] environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): "
        f"unknown flag --max-num-batched-tokenz for vLLM {staging_version()}; did you mean --max-num-batched-tokens?"]


@pytest.mark.parametrize("flag, value", [("--swap-space", "4"), ("--task", "generate")])
def test_a_flag_the_newest_vllm_removed_in_extra_args_is_refused_naming_the_version(tmp_path, flag, value):
    """The issue's crash loop after an image bump: extraArgs keep a flag the new version no longer has."""
    def edit(values):
        values["image"] = {"tag": f"v{NEWEST}"}
        values["deployment"]["extraArgs"] = [flag, value]
    having = [v for v in vllm_args.available_versions() if flag in vllm_args.load_catalog(v)["flags"]]
    assert findings_for(tmp_path, edit) == [
        "[vllm-args] environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): "
        f"unknown flag {flag} for vLLM {NEWEST}; it exists in vLLM {', '.join(having)}; "
        "remove it or use an image of such a version"]
