#!/usr/bin/env python3
"""Benchmark the suite against its floor (a bare `helm template`), and its growth with fleet size.

Prints every figure as median [min..max] over repeated runs, with its ratio to the floor, and
writes the same table to docs/benchmark.md. Caches are cleared before every cold measurement:
the figures are what a fresh CI clone pays, not a warm developer machine.

  1. floor: one `helm template` of one release, as a process
  2. `make test` on the shipped fleet (pytest -n auto), total and per (environment, release), and
     (unless --no-tool-cpu) the CPU of the suite's helm, helmfile, conftest, opa and promtool processes
  3. the pre-commit path: `vllm-models verify FILE` after editing one model file
  4. scaling: `vllm-models verify` (render, Kubernetes schemas, policies, vLLM args, fleet rules)
     on generated fleets of 50, 200 and 500 releases across the four environments, in a temp dir
  5. where the time goes: CPU of one helm process, and each in-process stage per release of the
     shipped fleet (Rego both over the combined release and object by object), against the target
  6. the toolchain once per machine: setup of a new clone's .tools from the per-user cache (every group),
     and setup again in a clone that has them

The cold-machine and second-clone figures (tens of minutes each) are measured by hand and kept below
the generated table in docs/benchmark.md (everything after HAND_MEASURED is preserved).
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from vllm_models import toolchain  # noqa: E402  (after the path, for runs outside the venv's install)
BIN = ROOT / ".tools" / "bin"
VENV = ROOT / ".venv" / "bin"
ENVIRONMENTS = ["development", "staging", "production-vn", "production-jp"]


def timed(command: list[str], *, env: dict | None = None, cwd: Path = ROOT, before=None) -> float:
    if before:
        before()
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    # A run with findings stops early (a failed render skips every later check), so it measures
    # less than the full path: only clean runs count.
    if result.returncode != 0:
        sys.exit(f"bench: {' '.join(command)} exited {result.returncode}; only a clean run measures the "
                 f"whole check path\n{(result.stdout + result.stderr)[-3000:]}")
    return elapsed


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


BATCHED = "policies, the fleet in one conftest process"


def per_release_stages() -> dict[str, list[float]]:
    """Seconds each in-process stage of the check path takes, per release of the shipped fleet."""
    from vllm_models import kube_validate, policy, verify
    from vllm_models import render as harness

    stages: dict[str, list[float]] = {name: [] for name in (
        "parse the manifest (libyaml)", "Kubernetes schemas", "policies, one conftest process per release",
        "vLLM arguments", "metric names")}
    releases = [rel for env in harness.environments() for rel in harness.releases(env)]
    renders = [harness.render(rel) for rel in releases]
    for rendered in renders:
        policy.evaluate([rendered])  # loads the policies and the schemas outside the timings
        verify.kubernetes_schema(rendered)
        steps = {
            "parse the manifest (libyaml)": lambda: list(yaml.load_all(rendered.manifest, Loader=harness.ManifestLoader)),
            "Kubernetes schemas": lambda: [kube_validate.validate(d, toolchain.kube_version()) for d in rendered.documents],
            "policies, one conftest process per release": lambda: policy.evaluate_release(rendered),
            "vLLM arguments": lambda: verify.vllm_arguments(rendered),
            "metric names": lambda: verify.metric_names(rendered),
        }
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            stages[name].append(time.perf_counter() - start)
    # What verify and make test do: every release of a run in one conftest process (wall time, as conftest is
    # a child process), shared out per release.
    batched = []
    for _ in range(3):
        start = time.perf_counter()
        policy.evaluate(renders)
        batched.append((time.perf_counter() - start) / len(renders))
    stages[BATCHED] = batched
    return stages


def copy_parts(root: Path, parts: tuple[str, ...]) -> Path:
    """root holding a copy of these files and folders of the repository (compiled Python left behind)."""
    for part in parts:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, root / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, root / part)
    return root


TIMED_TOOLS = ("helm4", "helm3", "helmfile", "conftest", "opa", "promtool")
HAND_MEASURED = "<!-- measured by hand: kept by make bench -->"
GROUPS = ("test", "e2e")


def setup_from_cache(runs: int) -> tuple[list[float], list[float]]:
    """Seconds to set up a new clone's .tools from the per-user cache (all groups), and to run setup again there."""
    installer = [sys.executable, str(ROOT / "scripts" / "install_tools.py")] + [f"--group={g}" for g in GROUPS]
    fresh, again = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="vllm-models-bench-setup-") as tmp:
            command = installer + ["--tools-dir", str(Path(tmp) / ".tools")]
            fresh += series(1, lambda: timed(command))
            again += series(1, lambda: timed(command))
    return fresh, again


def suite_tool_cpu(env: dict) -> dict[str, tuple[int, float]]:
    """(processes, CPU seconds) per tool over one cold `pytest -n auto` in a copy of the repository whose
    .tools/bin runs each timed tool under /usr/bin/time (the package resolves .tools/bin next to its source)."""
    with tempfile.TemporaryDirectory(prefix="vllm-models-bench-tools-") as tmp:
        root = copy_parts(Path(tmp) / "repo", ("charts", "environments", "policies", "scripts", "src", "tests", "tools",
                                               "helmfile.yaml.gotmpl", "Makefile", "pyproject.toml", "toolchain.toml",
                                               "README.md", "CONTRIBUTING.md", ".github", ".ci", ".pre-commit-config.yaml",
                                               "docs"))
        (root / ".venv").symlink_to(ROOT / ".venv")
        tools = root / ".tools"
        tools.mkdir()
        for entry in (ROOT / ".tools").iterdir():
            if entry.name != "bin":
                (tools / entry.name).symlink_to(entry)
        (tools / "bin").mkdir()
        log = Path(tmp) / "tools.log"
        for binary in (ROOT / ".tools" / "bin").iterdir():
            target = tools / "bin" / binary.name
            if binary.name in TIMED_TOOLS:
                target.write_text(f'#!/bin/sh\nexec /usr/bin/time -a -o {log} -f "{binary.name} %U %S" '
                                  f'{binary.resolve()} "$@"\n')
                target.chmod(0o755)
            else:
                target.symlink_to(binary.resolve() if not binary.is_symlink() else binary.readlink())
        copy_env = dict(env, VLLM_MODELS_ROOT=str(root), PYTHONPATH=str(root / "src"))
        copy_env.pop("VLLM_MODELS_RENDER_CACHE", None)
        suite = subprocess.run([str(VENV / "python"), "-m", "pytest", "-n", "auto", "--dist", "loadgroup", "-q", "-p",
                                "no:cacheprovider"], cwd=root, env=copy_env, capture_output=True, text=True)
        summary = [line for line in suite.stdout.splitlines() if " passed" in line or " failed" in line]
        print(f"   (the suite in the timed copy: {summary[-1].strip('= ') if summary else 'no summary'})", flush=True)
        found: dict[str, tuple[int, float]] = {}
        for line in log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] in TIMED_TOOLS:  # /usr/bin/time adds a line for a non-zero exit
                count, cpu = found.get(parts[0], (0, 0.0))
                found[parts[0]] = (count + 1, cpu + float(parts[1]) + float(parts[2]))
    return dict(sorted(found.items(), key=lambda item: -item[1][1]))


def series(runs: int, measure) -> list[float]:
    return [measure() for _ in range(runs)]


def fmt(values: list[float], floor: float | None = None, per: int = 1) -> str:
    med = statistics.median(values) / per
    text = f"{med:8.3f}s [{min(values) / per:.3f}..{max(values) / per:.3f}]"
    if floor:
        text += f"  = {med / floor:6.2f}x floor"
    return text


def clear_cache(root: Path) -> None:
    shutil.rmtree(root / ".render" / "cache", ignore_errors=True)


def count_releases(root: Path, env: dict) -> int:
    total = 0
    for name in ENVIRONMENTS:
        out = subprocess.run([str(BIN / "helmfile"), "-e", name, "list", "--output", "json"], cwd=root,
                             env=env, capture_output=True, text=True, check=True).stdout
        total += sum(1 for r in yaml.safe_load(out) if r.get("installed") and r["chart"].endswith("vllm-models"))
    return total


def generated_fleet(size: int, workdir: Path) -> Path:
    """A copy of the repo whose environments hold `size` model releases in all, spread over the four."""
    root = copy_parts(workdir / f"fleet-{size}", ("charts", "policies", "helmfile.yaml.gotmpl", "environments"))
    fleet = yaml.safe_load((root / "environments" / "fleet.yaml").read_text())
    # Generated releases need more ports than the seed's table has; one wide range per category.
    fleet["portRanges"] = [{"name": "language", "category": "language", "from": 30000, "to": 31499},
                           {"name": "vision-language", "category": "vision-language", "from": 31500, "to": 32767}]
    fleet.pop("portChanges", None)
    (root / "environments" / "fleet.yaml").write_text(yaml.safe_dump(fleet, sort_keys=False))
    template = yaml.safe_load((ROOT / "environments" / "staging" / "language" / "qwen3-32b.yaml").read_text())
    per_env = size // len(ENVIRONMENTS)
    for env_index, env in enumerate(ENVIRONMENTS):
        env_dir = root / "environments" / env
        for category in ("language", "vision-language"):
            shutil.rmtree(env_dir / category, ignore_errors=True)
            (env_dir / category).mkdir(parents=True)
        values = yaml.safe_load((env_dir / "values.yaml").read_text())
        values["language"] = {"enabled": True, "models": {}}
        values["vision-language"] = {"enabled": True, "models": {}}
        for index in range(per_env + (1 if env_index < size % len(ENVIRONMENTS) else 0)):
            name = f"bench-model-{index:03d}"
            model = yaml.safe_load(yaml.safe_dump(template))
            model["fullnameOverride"] = f"llms-v2-{name}"
            model["modelName"] = name
            model["deployment"]["servedModelName"] = f"Bench-Model-{index:03d}"
            model["service"]["nodePort"] = 30000 + index
            if env == "development":
                model["deployment"]["gpuMemoryUtilization"] = 0.8
            if env.startswith("production"):  # production runs only images pinned by digest (policy image_digest)
                model.setdefault("image", {})["digest"] = "sha256:" + "a" * 64
                model.setdefault("helmTest", {})["image"] = "curlimages/curl:8.11.1@sha256:" + "b" * 64
            (env_dir / "language" / f"{name}.yaml").write_text(yaml.safe_dump(model, sort_keys=False))
            values["language"]["models"][name] = {"enabled": True}
        for pool in values.get("nodePools") or []:  # and its nodes: every pod and surge pod must find one
            pool["nodes"] = max(pool["nodes"], size)
        namespace = values.get("namespace", {}).get("quota")
        if isinstance(namespace, dict):  # a generated fleet must fit its quota to verify cleanly
            namespace.update({k: "100000" if "gpu" in k or "pods" in k else "1000Ti" if "memory" in k else "100000"
                              for k in namespace})
        (env_dir / "values.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each slow measurement")
    parser.add_argument("--sizes", default="50,200,500", help="generated fleet sizes")
    parser.add_argument("--skip-make-test", action="store_true")
    parser.add_argument("--no-tool-cpu", dest="tool_cpu", action="store_false",
                        help="skip the run of the suite in a copy that counts the CPU of every helm, helmfile, conftest, "
                             "opa and promtool process (the part of make test no Python change can remove)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    lines = [f"# Benchmark ({cores} cores, {time.strftime('%Y-%m-%d')}, `make bench`)", "",
             "median [min..max] of repeated runs; caches cleared before each cold run", "", "```"]

    def out(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    model = ROOT / "environments" / "staging" / "language" / "qwen3-32b.yaml"
    floor_command = [str(BIN / "helm4"), "template", "llms-v2-qwen3-32b", str(ROOT / "charts" / "vllm-models"),
                     "--namespace", "llms", "--kube-version", "1.33.0", "-f", str(model),
                     "--set", "global.hps.models.path=/var/modas-models/fp8_models/"]
    # The floor is helm as users run it: without the Go settings the project's own runs use.
    bare = {k: v for k, v in env.items() if k not in toolchain.GO_RUNTIME}
    cpu_before = children_cpu()
    floor_runs = series(max(21, args.runs), lambda: timed(floor_command, env=bare))
    floor = statistics.median(floor_runs)
    bare_cpu = (children_cpu() - cpu_before) / len(floor_runs)
    cpu_before = children_cpu()
    out(f"1. floor: bare helm template, one release          {fmt(floor_runs)}")
    tuned = series(max(21, args.runs), lambda: timed(floor_command, env=dict(bare, **toolchain.GO_RUNTIME)))
    helm_cpu = (children_cpu() - cpu_before) / len(tuned)
    out(f"   the same with GOGC=off (as the project runs it)  {fmt(tuned, floor)}")
    out(f"   core-path target per release: 1.5 x floor / {cores} cores = {1.5 * floor / cores:.3f}s")

    releases = count_releases(ROOT, env)
    if not args.skip_make_test:
        test_runs = series(args.runs, lambda: timed([str(VENV / "pytest"), "-n", "auto", "--dist", "loadgroup", "-q", "-p", "no:cacheprovider"],
                                                    env=env, before=lambda: clear_cache(ROOT)))
        out(f"2. make test (pytest -n auto), cold, {releases} releases {fmt(test_runs)}")
        out(f"   per (environment, release)                     {fmt(test_runs, floor, per=releases)}")
    if args.tool_cpu:
        out("   the suite's own tool processes (cold, in a copy whose .tools/bin times each one):")
        total = 0.0
        for name, (count, cpu) in suite_tool_cpu(env).items():
            total += cpu
            out(f"     {name:10s} {count:5d} processes {cpu:7.1f} CPU-s ({cpu / count * 1000:4.0f} ms each)")
        out(f"     together {total:.1f} CPU-s: on {cores} cores no run of these checks takes under {total / cores:.0f} s")

    original = model.read_text()
    counter = iter(range(10_000))

    def edit_model() -> None:
        model.write_text(original + f"# bench edit {next(counter)}\n")

    try:
        verify_one = series(max(5, args.runs), lambda: timed([str(VENV / "vllm-models"), "verify", str(model)],
                                                             env=env, before=edit_model))
    finally:
        model.write_text(original)
    out(f"3. pre-commit path: verify after editing one file   {fmt(verify_one, floor)}  (target < 1s)")

    with tempfile.TemporaryDirectory(prefix="vllm-models-bench-") as tmp:
        per_release = {}
        for size in [int(s) for s in args.sizes.split(",")]:
            root = generated_fleet(size, Path(tmp))
            fleet_env = dict(env, VLLM_MODELS_ROOT=str(root))
            # This machine's speed drifts by a third within minutes: the floor is measured again around
            # each run, so the ratio compares helm and verify under the same conditions.
            runs, near = [], []
            for _ in range(args.runs):
                near += series(7, lambda: timed(floor_command, env=bare))
                runs += series(1, lambda: timed([str(VENV / "vllm-models"), "verify"], env=fleet_env,
                                                cwd=root, before=lambda: clear_cache(root)))
                near += series(7, lambda: timed(floor_command, env=bare))
            local = statistics.median(near)
            per_release[size] = statistics.median(runs) / size
            out(f"4. verify, generated fleet of {size:3d} releases, cold  {fmt(runs)}")
            out(f"   per release                                     {fmt(runs, floor, per=size)}")
            out(f"   the floor measured around these runs: {local:.3f}s, so per release = "
                f"{per_release[size] / local:.2f}x that floor (target {1.5 / cores:.2f}x)")
        sizes = sorted(per_release)
        if len(sizes) > 1:
            growth = per_release[sizes[-1]] * sizes[-1] / (per_release[sizes[0]] * sizes[0])
            out(f"   growth {sizes[-1]} vs {sizes[0]} releases: {growth:.2f}x total time "
                f"(linear would be {sizes[-1] / sizes[0]:.0f}x; target <= 10x)")

    stages = per_release_stages()
    out(f"5. where the time goes, per release of the shipped fleet ({len(next(iter(stages.values())))} releases)")
    out(f"   helm template, CPU of one process (user+sys)       {bare_cpu * 1000:6.1f} ms bare, {helm_cpu * 1000:.1f} ms with GOGC=off"
        f"  (wall floor {floor * 1000:.1f} ms)")
    checks = 0.0
    for name, values in stages.items():
        median = statistics.median(values)
        if name != "policies, one conftest process per release":  # verify batches (BATCHED)
            checks += median
        out(f"   {name:48s} {median * 1000:6.1f} ms")
    budget = 1.5 * floor
    out(f"   CPU per release, helm + checks: {(helm_cpu + checks) * 1000:.1f} ms; the target allows {budget * 1000:.1f} ms "
        f"(1.5 x floor) of CPU per release over {cores} cores")
    fresh, again = setup_from_cache(args.runs)
    out(f"6. toolchain ({', '.join(GROUPS)} groups): a new clone's setup from the per-user cache {fmt(fresh)}")
    out(f"   setup again in that clone (nothing to do)                    {fmt(again)}")
    lines.append("```")
    (ROOT / "docs").mkdir(exist_ok=True)
    report = ROOT / "docs" / "benchmark.md"
    previous = report.read_text() if report.exists() else ""
    kept = previous[previous.index(HAND_MEASURED):] if HAND_MEASURED in previous else HAND_MEASURED + "\n"
    report.write_text("\n".join(lines) + "\n\n" + kept)
    print("written docs/benchmark.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
