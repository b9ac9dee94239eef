"""helm v3 and helm v4: every release of every environment and every chart example renders byte-identically.

Users run both; the pinned helm v3.18 and helm v4.1 must produce the same manifests, so one set of
golden files and one review diff serve both.
"""
from __future__ import annotations

import pytest

from vllm_models import golden

pytestmark = pytest.mark.slow

TARGETS = golden.targets()


def parity_problem(target_id: str, helm3: str, helm4: str) -> str:
    """"" when the renders are identical, else what differs, as a diff excerpt."""
    if helm3 == helm4:
        return ""
    return (f"{target_id} renders differently with helm v3 and helm v4:\n"
            + golden.diff_excerpt(helm3, helm4, expected_label=f"helm3 template {target_id}",
                                  actual_label=f"helm4 template {target_id}"))


@pytest.mark.parametrize("target", TARGETS, ids=[t.id for t in TARGETS])
def test_helm_v3_and_v4_render_each_release_byte_identically(target):
    problem = parity_problem(target.id, target.render(helm="helm3").manifest, target.render(helm="helm4").manifest)
    assert not problem, problem


def test_a_difference_between_helm_versions_is_reported_with_the_diff():
    assert parity_problem("staging/llms-v2-qwen3-32b", "a: 1\nb: 2\n", "a: 1\nb: '2'\n") == (
        "staging/llms-v2-qwen3-32b renders differently with helm v3 and helm v4:\n"
        "--- helm3 template staging/llms-v2-qwen3-32b\n"
        "+++ helm4 template staging/llms-v2-qwen3-32b\n"
        "@@ -1,2 +1,2 @@\n"
        " a: 1\n"
        "-b: 2\n"
        "+b: '2'")
    assert parity_problem("staging/llms-v2-qwen3-32b", "a: 1\n", "a: 1\n") == ""
