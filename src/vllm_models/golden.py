"""Golden renders: the committed manifests of every release of every environment and every chart example.

tests/golden/<environment>/<release>.yaml and tests/golden/examples/<example>.yaml hold exactly what
the pinned helm v3 renders for the pinned Kubernetes version. The tests fail when a render drifts
from its file and `make update-golden` rewrites them, so every pull request shows its effect on
the manifests in review. The same targets feed the helm v3/v4 parity, determinism and
Kubernetes-version tests.
"""
from __future__ import annotations

import dataclasses
import difflib
import sys
from pathlib import Path
from typing import Callable

from . import chart_examples, toolchain
from . import render as harness

GOLDEN_DIR = toolchain.ROOT / "tests" / "golden"
EXAMPLES = "examples"


@dataclasses.dataclass(frozen=True)
class Target:
    """One thing the fleet or the chart renders: a release of an environment, or a chart example."""

    id: str  # "staging/llms-v2-qwen3-32b" or "examples/single-gpu"; also its golden file's path
    chart: str  # repo-relative chart directory
    render: Callable[..., harness.Rendered]  # (helm=, kube_version=, use_cache=) -> Rendered

    @property
    def golden_path(self) -> Path:
        return GOLDEN_DIR / f"{self.id}.yaml"


def _release_target(rel: harness.Release) -> Target:
    return Target(f"{rel.environment}/{rel.name}", rel.chart.removeprefix("./"), lambda **kw: harness.render(rel, **kw))


def _example_target(name: str) -> Target:
    def render(**kw) -> harness.Rendered:
        return harness.render_values_files(chart_examples.release_name(name), [chart_examples.path(name)],
                                           namespace=chart_examples.NAMESPACE, **kw)
    return Target(f"{EXAMPLES}/{name}", str(toolchain.CHART_DIR.relative_to(toolchain.ROOT)), render)


def targets() -> list[Target]:
    """Every installed release of every environment (promotion order), then every chart example."""
    found = [_release_target(rel) for env in harness.environments() for rel in harness.releases(env)]
    return found + [_example_target(name) for name in chart_examples.names()]


def diff_excerpt(expected: str, actual: str, *, expected_label: str, actual_label: str, lines: int = 40) -> str:
    """The first `lines` lines of a unified diff, with a count of what was left out."""
    diff = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(), expected_label, actual_label,
                                     lineterm=""))
    shown = diff[:lines]
    if len(diff) > lines:
        shown.append(f"... ({len(diff) - lines} more diff lines)")
    return "\n".join(shown)


def golden_path_label(target: Target) -> str:
    return f"tests/golden/{target.id}.yaml"


def drift_message(target: Target, expected: str, actual: str) -> str:
    label = golden_path_label(target)
    return (f"the render of {target.id} drifted from {label}; if the change is intended, run `make update-golden` "
            f"and commit the files:\n"
            + diff_excerpt(expected, actual, expected_label=label, actual_label=f"render of {target.id}"))


def write(root: Path = GOLDEN_DIR, *, environments: set[str] | None = None) -> tuple[list[str], list[str], int]:
    """Render every target into `root` (only the releases of `environments` when given, as the CLI does after
    new-model, promote or upgrade), delete golden files of those scopes no target has; (written, removed, total)."""
    chosen = [t for t in targets() if environments is None or t.id.split("/")[0] in environments]
    wanted = {f"{target.id}.yaml": target.render().manifest for target in chosen}
    scopes = None if environments is None else {f"{env}/" for env in environments}
    removed = []
    for path in sorted(root.rglob("*.yaml")) if root.exists() else []:
        relative = str(path.relative_to(root))
        if relative not in wanted and (scopes is None or relative.startswith(tuple(scopes))):
            path.unlink()
            removed.append(relative)
    written = []
    for relative, manifest in wanted.items():
        path = root / relative
        if not path.exists() or path.read_text() != manifest:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(manifest)
            written.append(relative)
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return written, removed, len(wanted)


def main() -> int:
    """`make update-golden`: rewrite tests/golden/ from the current chart and environments."""
    written, removed, total = write()
    for relative in written:
        print(f"wrote    tests/golden/{relative}")
    for relative in removed:
        print(f"removed  tests/golden/{relative}")
    print(f"golden renders: {total} in tests/golden/, {len(written)} written, {len(removed)} removed",
          file=sys.stderr)
    return 0
