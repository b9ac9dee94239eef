"""Golden renders: every release of every environment and every chart example matches its file in tests/golden/.

A change to the chart or to an environment shows up in review as a diff of these files; when a
render drifts, the failure shows a unified diff excerpt and `make update-golden` rewrites them.
"""
from __future__ import annotations

import pytest

from vllm_models import golden

TARGETS = golden.targets()


@pytest.mark.parametrize("target", TARGETS, ids=[t.id for t in TARGETS])
def test_each_render_matches_its_committed_golden_file(target):
    path = golden.golden_path_label(target)
    assert target.golden_path.exists(), f"{path} is missing for {target.id}: run `make update-golden` and commit it"
    expected, actual = target.golden_path.read_text(), target.render().manifest
    assert actual == expected, golden.drift_message(target, expected, actual)


def test_every_golden_file_belongs_to_a_release_or_an_example():
    stale = sorted(str(p.relative_to(golden.GOLDEN_DIR)) for p in golden.GOLDEN_DIR.rglob("*.yaml")
                   if p not in {t.golden_path for t in TARGETS})
    assert not stale, (f"tests/golden/ has files for releases or examples that no longer render: {', '.join(stale)}; "
                       f"run `make update-golden` to remove them")


def test_a_drifted_render_is_reported_with_a_diff_excerpt_and_the_command_that_updates_the_goldens():
    target = TARGETS[0]
    expected = "kind: Service\nspec:\n  type: NodePort\n"
    actual = "kind: Service\nspec:\n  type: ClusterIP\n"
    assert golden.drift_message(target, expected, actual) == (
        f"the render of {target.id} drifted from tests/golden/{target.id}.yaml; if the change is intended, "
        f"run `make update-golden` and commit the files:\n"
        f"--- tests/golden/{target.id}.yaml\n"
        f"+++ render of {target.id}\n"
        "@@ -1,3 +1,3 @@\n"
        " kind: Service\n"
        " spec:\n"
        "-  type: NodePort\n"
        "+  type: ClusterIP")


def test_a_long_diff_is_cut_to_an_excerpt_that_says_how_much_was_left_out():
    expected = "".join(f"line {n}\n" for n in range(100))
    excerpt = golden.diff_excerpt(expected, "", expected_label="a", actual_label="b", lines=10)
    assert excerpt.splitlines()[-1] == "... (93 more diff lines)"
    assert len(excerpt.splitlines()) == 11


def test_update_golden_writes_every_render_and_removes_files_of_releases_that_are_gone(tmp_path):
    stale = tmp_path / "staging" / "llms-v2-retired-model.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text("kind: Deployment\n")
    written, removed, total = golden.write(tmp_path)
    assert removed == ["staging/llms-v2-retired-model.yaml"]
    assert total == len(TARGETS) == len(written)
    for target in TARGETS:
        assert (tmp_path / f"{target.id}.yaml").read_text() == target.render().manifest
    assert golden.write(tmp_path) == ([], [], total)
