"""`vllm-models`: the operator's command line (render and lint now; fleet commands build on it)."""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from . import render as harness
from . import toolchain


def command_render(args: argparse.Namespace) -> int:
    selected = [r for r in harness.releases(args.env) if not args.release or r.name == args.release]
    if args.release and not selected:
        names = ", ".join(r.name for r in harness.releases(args.env)) or "none"
        print(f"vllm-models: environment {args.env} has no installed release {args.release} (installed: {names})",
              file=sys.stderr)
        return 2
    for rel in selected:
        sys.stdout.write(harness.render(rel).manifest)
    return 0


def command_lint(args: argparse.Namespace) -> int:
    failures = 0
    for env in [args.env] if args.env else harness.environments():
        for rel in harness.releases(env):
            with tempfile.TemporaryDirectory() as tmp:
                command = [toolchain.tool("helm3"), "lint", "--strict", str(toolchain.CHART_DIR),
                           "--namespace", rel.namespace, "--kube-version", toolchain.kube_version()]
                for path in harness.values_files(rel, Path(tmp)):
                    command += ["--values", path]
                try:
                    harness.run(command, environment=env, release=rel.name, sources=rel.sources)
                    print(f"ok    {env}/{rel.name}")
                except harness.RenderError as error:
                    failures += 1
                    print(f"FAIL  {env}/{rel.name}\n{error}", file=sys.stderr)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vllm-models", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("render", help="print the manifests an environment would deploy")
    p.add_argument("--env", required=True, choices=harness.environments())
    p.add_argument("--release")
    p.set_defaults(func=command_render)
    p = sub.add_parser("lint", help="helm lint --strict every release with its environment's values")
    p.add_argument("--env", choices=harness.environments())
    p.set_defaults(func=command_lint)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (harness.RenderError, toolchain.ToolMissing) as error:
        print(f"vllm-models: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
