"""Determinism: rendering twice, without the render cache, gives the same bytes.

No random names, no map-order drift, no timestamps: a pull request's manifest diff shows only what
it changed.
"""
from __future__ import annotations

import pytest

from vllm_models import golden

TARGETS = golden.targets()


def drift_problem(target_id: str, first: str, second: str) -> str:
    if first == second:
        return ""
    return (f"{target_id} rendered two different manifests from the same inputs:\n"
            + golden.diff_excerpt(first, second, expected_label="first render", actual_label="second render"))


@pytest.mark.parametrize("target", TARGETS, ids=[t.id for t in TARGETS])
def test_each_release_renders_the_same_bytes_twice(target):
    problem = drift_problem(target.id, target.render(use_cache=False).manifest,
                            target.render(use_cache=False).manifest)
    assert not problem, problem


def test_two_different_renders_are_reported_with_the_diff():
    assert drift_problem("examples/single-gpu", "name: a-1x2\n", "name: a-9q7\n") == (
        "examples/single-gpu rendered two different manifests from the same inputs:\n"
        "--- first render\n"
        "+++ second render\n"
        "@@ -1 +1 @@\n"
        "-name: a-1x2\n"
        "+name: a-9q7")
