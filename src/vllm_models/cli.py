"""`vllm-models`: the operator's command line (render and lint now; fleet commands build on it)."""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from . import render as harness
from . import toolchain, verify


def print_report(report: verify.Report) -> None:
    for finding in report.findings:
        print(str(finding), file=sys.stderr)
    checked = sum(len(names) for names in report.checked.values())
    status = "ok" if report.ok else f"{len(report.findings)} problem(s)"
    print(f"verify: {checked} release(s) in {', '.join(report.checked) or 'no environment'}: {status}", file=sys.stderr)


def command_verify(args: argparse.Namespace) -> int:
    if args.files:
        targets = verify.affected(args.files)
        if args.env:
            targets = {env: names for env, names in targets.items() if env == args.env}
    else:
        targets = {env: verify.ALL for env in ([args.env] if args.env else harness.environments())}
    report = verify.verify(targets)
    print_report(report)
    return 0 if report.ok else 1


def command_render(args: argparse.Namespace) -> int:
    if args.verify:
        report = verify.verify({args.env: {args.release} if args.release else verify.ALL})
        print_report(report)
        if not report.ok:
            return 1
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
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="print the manifests without running the checks first")
    p.set_defaults(func=command_render)
    p = sub.add_parser("verify", help="lint, render, schema, policies and fleet checks (all, one env, or what FILES affect)")
    p.add_argument("--env", choices=harness.environments())
    p.add_argument("files", nargs="*", help="changed files (pre-commit passes them); none = everything")
    p.set_defaults(func=command_verify)
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
