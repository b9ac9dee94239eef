"""The vLLM version thresholds in charts/vllm-models/rules.yaml (`rules.vllm`) against the generated catalogs.

A threshold that names `flags` says those `vllm serve` flags exist from its `from` version on; each
catalog in src/vllm_models/data/vllm/ (generated from that version's real parser) must agree: every
flag absent below the threshold, every flag present from it. The test reads whatever catalogs exist,
so a newly generated catalog is checked the moment it is committed. Thresholds no catalog can show
(what the stock image installs, where it keeps a script) must cite their evidence.
"""
from __future__ import annotations

import pytest
import yaml

from vllm_models import toolchain, vllm_args

RULES = yaml.safe_load((toolchain.CHART_DIR / "rules.yaml").read_text())["rules"]["vllm"]
VERSIONS = vllm_args.available_versions()


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def thresholds() -> list[tuple[str, dict]]:
    found = []
    for name, entry in RULES.items():
        for index, row in enumerate(entry if isinstance(entry, list) else [entry]):
            found.append((name if isinstance(entry, dict) else f"{name}[{index}]", row))
    return found


FLAG_THRESHOLDS = [(name, row) for name, row in thresholds() if row.get("flags")]


@pytest.mark.parametrize("name, row", FLAG_THRESHOLDS, ids=[name for name, _ in FLAG_THRESHOLDS])
@pytest.mark.parametrize("version", VERSIONS)
def test_each_flag_threshold_matches_the_catalog_of_each_vllm_version(name, row, version):
    flags = vllm_args.load_catalog(version)["flags"]
    expected = version_key(version) >= version_key(row["from"])
    wrong = [flag for flag in row["flags"] if (flag in flags) != expected]
    assert not wrong, (
        f"charts/vllm-models/rules.yaml rules.vllm.{name}: from {row['from']} says vLLM {version} "
        f"{'has' if expected else 'lacks'} {', '.join(row['flags'])}, but "
        f"src/vllm_models/data/vllm/v{version}.json {'lacks' if expected else 'has'} {', '.join(wrong)}; "
        f"correct the threshold")


@pytest.mark.parametrize("name, row", thresholds(), ids=[name for name, _ in thresholds()])
def test_every_threshold_is_a_version_and_cites_its_evidence(name, row):
    assert len(version_key(str(row["from"]))) == 3, f"rules.vllm.{name}: from {row['from']!r} is not X.Y.Z"
    assert str(row.get("source", "")).strip(), f"rules.vllm.{name}: no source cites where {row['from']} comes from"


def test_at_least_one_catalog_exists_to_check_the_thresholds_against():
    """At least one catalog exists to check the thresholds against (else the tests above check nothing)."""
    assert VERSIONS, "src/vllm_models/data/vllm/ holds no catalog: the thresholds are unchecked"


def test_the_ray_script_rows_are_in_version_order():
    rows = RULES["rayScript"]
    keys = [version_key(row["from"]) for row in rows]
    assert keys == sorted(keys) and keys[0] == (0, 0, 0), f"rules.vllm.rayScript from: {[r['from'] for r in rows]}"
