"""Every rendered `vllm serve` command line is one the vLLM version of its image accepts."""
from __future__ import annotations

from charts import edited_release, render_chart
from vllm_models import verify


def test_every_release_runs_a_command_line_its_vllm_version_accepts(rendered):
    assert verify.vllm_arguments(rendered) == []


def test_every_image_tag_in_the_fleet_has_a_committed_catalog(rendered):
    container = rendered.container()
    assert verify.image_version(container), f"{rendered.release.name}: image {container['image']} has no tag"


def findings_for(tmp_path, edit, env="staging", name="llms-v2-qwen3-32b"):
    rendered = render_chart(release=edited_release(tmp_path, env, name, edit), use_cache=False)
    return [str(f) for f in verify.vllm_arguments(rendered)]


def test_a_misspelled_flag_in_extra_args_names_the_release_the_version_and_the_closest_flag(tmp_path):
    findings = findings_for(tmp_path, lambda v: v["deployment"].update(extraArgs=["--max-num-batched-tokenz", "8192"]))
    assert findings == [
        "[vllm-args] environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): "
        "unknown flag --max-num-batched-tokenz for vLLM 0.11.0; did you mean --max-num-batched-tokens?"]


def test_a_tool_call_parser_the_version_lacks_is_reported_with_its_choices(tmp_path):
    def edit(values):
        values["deployment"].update(functionCall=True, toolCallParser="deepseek")

    findings = findings_for(tmp_path, edit)
    assert len(findings) == 1, findings
    assert findings[0].startswith(
        "[vllm-args] environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): ")
    assert "--tool-call-parser" in findings[0] and "deepseek" in findings[0] and "vLLM 0.11.0" in findings[0]
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
        "unknown flag --max-num-batched-tokenz for vLLM 0.11.0; did you mean --max-num-batched-tokens?"]
