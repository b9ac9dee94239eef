"""charts/vllm-models/vllm-versions.yaml: generated from the catalogs, and what the chart picks from it.

The chart branches on the release's vLLM version only through this file (templates/_vllm.tpl); these tests
keep it equal to what the catalogs say and check the chart takes the newest entry at or below the release's
image tag, every expectation read from the catalogs.
"""
from __future__ import annotations

import copy

import pytest
import yaml

from charts import render_chart
from vllm_models import toolchain, vllm_args, vllm_versions

CATALOGUED = vllm_args.available_versions()
ENTRIES = {entry["version"]: entry for entry in vllm_versions.committed()["versions"]}


def test_the_committed_file_is_generated_from_the_catalogs():
    assert vllm_versions.OUTPUT.read_text() == vllm_versions.text(), (
        "charts/vllm-models/vllm-versions.yaml is out of date with src/vllm_models/data/vllm/ (or "
        "data/vllm_images.yaml): run `make generate-vllm-versions`")


def test_every_catalog_has_an_entry_oldest_first():
    assert list(ENTRIES) == CATALOGUED


@pytest.mark.parametrize("version", CATALOGUED)
def test_each_entry_says_what_its_catalog_says(version):
    catalog = vllm_args.load_catalog(version)
    entry = ENTRIES[version]
    assert entry["flags"] == {flag: flag in catalog["flags"] for flag in vllm_versions.GATED_FLAGS}, version
    assert entry["reasoningParsers"] == sorted(catalog["reasoning_parsers"]), version
    series = {name: bool(m.get("hidden")) for m in catalog["metrics"].values() for name in m["series"]}
    for purpose, name in entry["metrics"].items():
        assert name in series and not series[name], (
            f"vllm-versions.yaml: vLLM {version} {purpose} is {name}, which its catalog "
            f"{'hides' if name in series else 'lacks'}")
        preferred = vllm_versions.METRICS[purpose]
        assert not [newer for newer in preferred[:preferred.index(name)] if newer in series and not series[newer]], (
            f"vLLM {version} {purpose}: {name} chosen over a newer name the version exports")


@pytest.mark.parametrize("version", CATALOGUED)
def test_lmcache_in_the_image_follows_the_recorded_build_files(version):
    images = yaml.safe_load(vllm_versions.IMAGES_FILE.read_text())["images"]
    key = vllm_versions.version_key
    for repository, facts in images.items():
        span = facts["lmcache"]
        expected = key(span["from"]) <= key(version) <= key(span["through"])
        assert ENTRIES[version]["lmcache"][repository] is expected, f"{repository} vLLM {version}"
        assert span["source"].strip(), f"data/vllm_images.yaml {repository} lmcache cites no source"


def test_a_metric_no_candidate_names_stops_the_generator():
    catalog = copy.deepcopy(vllm_args.load_catalog(CATALOGUED[-1]))
    for metric in ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"):
        catalog["metrics"].pop(metric, None)
    version = catalog["provenance"]["vllm_version"]
    with pytest.raises(vllm_versions.VersionsError) as refused:
        vllm_versions.metric_names(catalog)
    assert str(refused.value) == (
        f"vLLM {version} exports none of vllm:kv_cache_usage_perc, vllm:gpu_cache_usage_perc unhidden "
        f"(src/vllm_models/data/vllm/v{version}.json), which the chart reads as kvCacheUsage: add the series that "
        f"replaced them to METRICS in src/vllm_models/vllm_versions.py")


def between() -> list[tuple[str, str]]:
    """(an uncatalogued tag between two catalogued versions, the catalogued version at or below it)."""
    found = []
    for lower, upper in zip(CATALOGUED, CATALOGUED[1:]):
        major, minor, _patch = map(int, lower.split("."))
        candidate = f"{major}.{minor}.99"
        if vllm_versions.version_key(candidate) < vllm_versions.version_key(upper):
            found.append((f"v{candidate}", lower))
    return found


@pytest.mark.parametrize("tag, expected", [*((f"v{v}", v) for v in CATALOGUED), (f"v{CATALOGUED[-1]}-cu128", CATALOGUED[-1]),
                                           *between()])
def test_the_chart_uses_the_newest_catalogued_version_at_or_below_the_image_tag(tag, expected):
    facts = vllm_versions.facts(tag)
    assert facts["version"] == expected and facts["recorded"] is True
    rendered = render_chart({"image": {"tag": tag}, "deployment": {"attentionBackend": "FLASH_ATTN"}}, example="vision")
    args, env = rendered.container()["args"], {e["name"] for e in rendered.container()["env"]}
    has_flag = ENTRIES[expected]["flags"]["--attention-backend"]
    assert ("--attention-backend" in args, "VLLM_ATTENTION_BACKEND" in env) == (has_flag, not has_flag), (
        f"image {tag} (vLLM {expected}): args {args}, env {sorted(env)}")
    assert ("--shutdown-timeout" in args) == ENTRIES[expected]["flags"]["--shutdown-timeout"], f"image {tag}: {args}"


def test_a_tag_older_than_every_catalog_gets_the_oldest_entry_unrecorded():
    oldest = CATALOGUED[0]
    major, minor, patch = map(int, oldest.split("."))
    older = f"v{major}.{minor}.{patch - 1}" if patch else f"v{major}.{minor - 1}.99"
    facts = vllm_versions.facts(older)
    assert facts["recorded"] is False and facts["version"] == oldest


def test_the_chart_reads_the_file_the_generator_writes():
    assert (toolchain.CHART_DIR / "vllm-versions.yaml") == vllm_versions.OUTPUT
    template = (toolchain.CHART_DIR / "templates" / "_vllm.tpl").read_text()
    assert '.Files.Get "vllm-versions.yaml"' in template
