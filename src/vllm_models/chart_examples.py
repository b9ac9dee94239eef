"""The chart's example values files (the seeds' six configuration templates), rendered and linted.

An example is complete on its own: `helm template <fullnameOverride> charts/vllm-models
--namespace llms -f charts/vllm-models/examples/<name>.yaml`. Tests render them as they are,
or with one more values file of overrides on top (how a user would change one key).
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

from . import render as harness
from . import toolchain

EXAMPLES_DIR = toolchain.CHART_DIR / "examples"
NAMESPACE = "llms"


def names() -> list[str]:
    return sorted(path.stem for path in EXAMPLES_DIR.glob("*.yaml"))


def path(name: str) -> Path:
    return EXAMPLES_DIR / f"{name}.yaml"


def values(name: str) -> dict:
    return yaml.safe_load(path(name).read_text())


def release_name(name: str) -> str:
    """The release name a user would give it: the example's fullnameOverride (llms-v2-<model>)."""
    return values(name)["fullnameOverride"]


def render(name: str, *, helm: str = "helm3", kube_version: str | None = None) -> harness.Rendered:
    return harness.render_values_files(release_name(name), [path(name)], namespace=NAMESPACE, helm=helm,
                                       kube_version=kube_version)


def render_with(name: str, overrides: dict, tmp: Path, *, helm: str = "helm3") -> harness.Rendered:
    """The example with `overrides` as a second values file (written to tmp; not cached, as tmp paths are one-off)."""
    extra = tmp / f"{name}-overrides.yaml"
    extra.write_text(yaml.safe_dump(overrides, sort_keys=False))
    return harness.render_values_files(release_name(name), [path(name), extra], namespace=NAMESPACE, helm=helm,
                                       use_cache=False)


def render_edited(name: str, edit, tmp: Path, *, helm: str = "helm3") -> harness.Rendered:
    """The example with `edit(values)` applied to it, rendered alone: for changes an overrides file cannot
    make, such as removing a key (helm drops a null only against the chart's own defaults)."""
    data = values(name)
    edit(data)
    edited = tmp / f"{name}.yaml"
    edited.write_text(yaml.safe_dump(data, sort_keys=False))
    return harness.render_values_files(release_name(name), [edited], namespace=NAMESPACE, helm=helm, use_cache=False)


def lint_files(files: list[str | Path], **context) -> str:
    """`helm lint --strict` the chart with these values files (see render.lint)."""
    return harness.lint(toolchain.CHART_DIR, files, namespace=NAMESPACE, **context)


def lint(name: str) -> str:
    """`helm lint --strict` with the example alone."""
    return lint_files([path(name)], release=release_name(name))


def main() -> int:
    """`make lint-examples`: lint every example, print ok/FAIL per file."""
    failures = 0
    for name in names():
        label = path(name).relative_to(toolchain.ROOT)
        try:
            lint(name)
            print(f"ok    {label}")
        except harness.RenderError as error:
            failures += 1
            print(f"FAIL  {label}\n{error}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
