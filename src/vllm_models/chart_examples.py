"""The chart's example values files (the seeds' six configuration templates), rendered and linted.

An example is complete on its own: `helm template <fullnameOverride> charts/vllm-models
--namespace llms -f charts/vllm-models/examples/<name>.yaml`; `make lint-examples` lints each one
and the golden renders hold what each renders.
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
