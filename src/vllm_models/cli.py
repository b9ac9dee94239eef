"""`vllm-models`: add, place, promote and verify models without hand arithmetic.

Exit codes: 0 ok; 1 problems found (failed checks, port conflicts, over quota, a render that
fails); 2 usage error or refusal (nothing was written; the message says why and what to do).
Listings print a table, or JSON with --output json. Work that takes over a second reports
progress on stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from . import adapters, capacity, fit, modelfacts, ports, promote, scaffold, semdiff, toolchain, upgrade, verify, yamledit
from . import render as harness

OK, PROBLEMS, REFUSED = 0, 1, 2
SHAPE_NAMES = ("single-gpu", "multi-gpu", "vision", "moe", "function-calling", "lmcache")


# Progress prints from its own thread while verify forks worker processes: a fork in the middle
# of a print would leave stderr's lock held forever in the child. Forks wait for the print.
_PRINTING = threading.Lock()
os.register_at_fork(before=_PRINTING.acquire, after_in_parent=_PRINTING.release,
                    after_in_child=_PRINTING.release)


class Progress:
    """Status lines on stderr for work that runs over a second; nothing at all for quick (cached) runs."""

    def __init__(self, label: str):
        self.label = label
        self.status = ""
        self._printed = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = 0.0

    def __enter__(self) -> "Progress":
        self._started = time.monotonic()
        self._thread.start()
        return self

    def update(self, status: str) -> None:
        self.status = status

    def _run(self) -> None:
        quiet = 0
        while not self._stop.wait(1.0):
            line = f"vllm-models: {self.label}" + (f": {self.status}" if self.status else "") + " ..."
            quiet += 1
            if line != self._printed or quiet >= 10:
                with _PRINTING:
                    print(line, file=sys.stderr, flush=True)
                self._printed, quiet = line, 0

    def __exit__(self, failed, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if self._printed:
            ended = "stopped after" if failed else "done in"
            print(f"vllm-models: {self.label}: {ended} {time.monotonic() - self._started:.1f}s", file=sys.stderr)


def table(headers: list[str], rows: list[list[object]], indent: str = "  ") -> str:
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(indent + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)


def pairs(rows: list[list[str]], indent: str = "  ") -> str:
    width = max(len(key) for key, _ in rows)
    return "\n".join(f"{indent}{key.ljust(width)}  {value}" for key, value in rows)


def emit_json(data: object) -> None:
    print(json.dumps(data, indent=2, default=str))


def render_environments(envs: list[str], progress: Progress) -> dict[str, list[harness.Rendered]]:
    """Installed model releases of each env, rendered (cached by input digest)."""
    return {env: harness.installed_renders(env, lambda rel: progress.update(f"rendering {env} {rel.name}"))
            for env in envs}


# --- verify / render / lint ----------------------------------------------------------------------

def print_report(report: verify.Report) -> None:
    for finding in report.findings:
        print(str(finding), file=sys.stderr)
    checked = sum(len(names) for names in report.checked.values())
    status = "ok" if report.ok else f"{len(report.findings)} problem(s)"
    print(f"verify: {checked} release(s) in {', '.join(report.checked) or 'no environment'}: {status}", file=sys.stderr)


def repository_path(file: str) -> Path:
    """A changed file as given (pre-commit runs in the repository), else relative to the repository root."""
    path = Path(file)
    if path.is_absolute() or path.exists():
        return path
    return toolchain.ROOT / path


def command_verify(args: argparse.Namespace) -> int:
    if args.files:
        targets = verify.affected([repository_path(f) for f in args.files])
        if args.env:
            targets = {env: names for env, names in targets.items() if env == args.env}
    else:
        targets = {env: verify.ALL for env in ([args.env] if args.env else harness.environments())}
    scope = ", ".join(f"{env} ({'all' if names is verify.ALL else len(names)})" for env, names in targets.items())
    with Progress(f"verifying {scope or 'nothing'}"):
        report = verify.verify(targets) if targets else verify.Report()
    if args.output == "json":
        emit_json({"ok": report.ok, "checked": report.checked,
                   "findings": [{"check": f.check, "environment": f.environment, "release": f.release,
                                 "message": f.message} for f in report.findings]})
    else:
        print_report(report)
    return OK if report.ok else PROBLEMS


def command_render(args: argparse.Namespace) -> int:
    if args.verify:
        with Progress(f"verifying {args.env}"):
            report = verify.verify({args.env: {args.release} if args.release else verify.ALL})
        print_report(report)
        if not report.ok:
            return PROBLEMS
    selected = [r for r in harness.releases(args.env) if not args.release or r.name == args.release]
    if args.release and not selected:
        names = ", ".join(r.name for r in harness.releases(args.env)) or "none"
        print(f"vllm-models: environment {args.env} has no installed release {args.release} (installed: {names})",
              file=sys.stderr)
        return REFUSED
    hooks = []
    for rel in selected:
        manifest = harness.render(rel).manifest
        kept, hooked = without_hooks(manifest)
        sys.stdout.write(manifest if args.hooks else kept)
        hooks += [f"{rel.name}: {name}" for name in hooked]
    if hooks and args.hooks:
        print(f"vllm-models: the manifests include {len(hooks)} helm hook(s), as `helm template` prints them: "
              f"{'; '.join(hooks)}. `helm test` creates test hooks, `helmfile apply` never does; NO_HOOKS=1 "
              "(render --no-hooks) leaves them out, e.g. before `kubectl apply -f -`", file=sys.stderr)
    return OK


HOOK_ANNOTATION = "helm.sh/hook"


def without_hooks(manifest: str) -> tuple[str, list[str]]:
    """A release's manifest without its helm hook documents, and each hook as "Kind name (helm.sh/hook: type)"."""
    kept, hooks = [], []
    for document in re.split(r"(?m)^(?=---$)", manifest):
        obj = yaml.load(document, Loader=harness.ManifestLoader)
        hook = (obj.get("metadata") or {}).get("annotations", {}).get(HOOK_ANNOTATION) if isinstance(obj, dict) else None
        if hook:
            hooks.append(f"{obj['kind']} {obj['metadata']['name']} ({HOOK_ANNOTATION}: {hook})")
        else:
            kept.append(document)
    return "".join(kept), hooks


def lint_one(rel: harness.Release) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            harness.lint(toolchain.ROOT / rel.chart, harness.values_files(rel, Path(tmp)), namespace=rel.namespace,
                         environment=rel.environment, release=rel.name, sources=rel.sources)
            return {"environment": rel.environment, "release": rel.name, "ok": True, "error": ""}
        except harness.RenderError as error:
            return {"environment": rel.environment, "release": rel.name, "ok": False, "error": str(error)}


def command_lint(args: argparse.Namespace) -> int:
    results = []
    with Progress("helm lint") as progress:
        for env in [args.env] if args.env else harness.environments():
            for rel in harness.releases(env):
                progress.update(f"{env}/{rel.name}")
                results.append(lint_one(rel))
    if args.output == "json":
        emit_json(results)
    else:
        for result in results:
            if result["ok"]:
                print(f"ok    {result['environment']}/{result['release']}")
            else:
                print(f"FAIL  {result['environment']}/{result['release']}\n{result['error']}", file=sys.stderr)
    return OK if all(r["ok"] for r in results) else PROBLEMS


# --- new-model -----------------------------------------------------------------------------------

def quota_left(plan: capacity.Plan) -> str:
    gpu = "requests.nvidia.com/gpu"
    if plan.quota is None or gpu not in plan.quota:
        return plan.quota_note
    return (f"{capacity.show(gpu, plan.remaining[gpu])} of {capacity.show(gpu, plan.quota[gpu])} GPUs left in "
            f"{plan.environment} with it, every rollout surge included (`vllm-models plan --env {plan.environment}`)")


def command_new_model(args: argparse.Namespace) -> int:
    request = scaffold.Request(args.name, args.env, args.shape, args.params_b, args.category, args.model_path,
                               args.served_name, args.tp, args.architecture, args.tool_call_parser, args.hf_config,
                               args.quantization)
    with Progress(f"adding {args.name} to {args.env}"):
        plan, capacity_plan, warnings = scaffold.create(request)
    values = plan.values
    deployment = values["deployment"]
    limits = values["resources"]["limits"]
    release = f"llms-v2-{args.name}"
    verify_command = f"vllm-models verify --env {args.env} {plan.file}"
    order = harness.environments()
    following = order[order.index(args.env) + 1] if order.index(args.env) + 1 < len(order) else None
    promote_command = promote.command(args.name, args.env, following) if following else None
    if args.output == "json":
        emit_json({"file": plan.file, "release": release, "environment": args.env, "category": plan.category,
                   "shape": args.shape, "nodePort": plan.port, "gpus": plan.gpus, "values": values,
                   "quantization": {"method": plan.quantization or scaffold.NO_QUANTIZATION,
                                    "reason": plan.quantization_note},
                   "capacity": capacity_plan.as_dict(), "notes": list(plan.notes) + warnings, "next": [c for c in (verify_command, promote_command) if c]})
        return OK
    shm = values.get("shmSize", "16Gi (chart default for one GPU)")
    print(f"new-model: wrote {plan.file} (seed {scaffold.SHAPES[args.shape].seed}, {args.shape})")
    print(f"new-model: enabled {plan.category}.models.{args.name}.enabled in environments/{args.env}/values.yaml")
    print(pairs([
        ["release", f"{release} (renders)"],
        ["model", f"{deployment['model']} served as {deployment['servedModelName']}, {values['modelInfo']['parameters']}B "
                  f"{values['modelInfo']['architecture']}"],
        ["nodePort", f"{plan.port} ({plan.port_note})"],
        ["GPUs", f"{plan.gpus} (tensorParallel {deployment['tensorParallel']}), gpuMemoryUtilization "
                 f"{deployment['gpuMemoryUtilization']}"],
        ["quantization", plan.quantization_note],
        ["resources", f"memory {limits['memory']}, cpu {limits['cpu']} per pod (requests == limits)"],
        ["shmSize", shm],
        ["startup", f"failureThreshold {values['probes']['startup']['failureThreshold']} at 5s, "
                    f"grace period {deployment['terminationGracePeriodSeconds']}s"],
        ["image", values["image"]["tag"]],
        ["quota", quota_left(capacity_plan)],
    ]))
    for note in list(plan.notes) + warnings:
        print(f"note: {note}")
    print("next:")
    print(f"  {verify_command}")
    if promote_command:
        print(f"  {promote_command}")
    return OK


def command_add_adapter(args: argparse.Namespace) -> int:
    with Progress(f"adding adapter {args.adapter} to {args.name} in {args.env}"):
        added = adapters.add(args.name, args.env, args.adapter, args.rank, path=args.path, base_model=args.base_model,
                             s3_uri=args.s3_uri, hf_repo=args.hf_repo, hf_revision=args.hf_revision)
    verify_command = f"vllm-models verify --env {args.env} {added.file}"
    if args.output == "json":
        emit_json({"file": added.file, "release": added.release, "environment": args.env, "adapter": added.adapter,
                   "maxLoraRank": added.max_lora_rank, "raisedFrom": added.raised_from, "next": [verify_command]})
        return OK
    entry = added.adapter
    print(f"add-adapter: wrote lora.adapters entry {entry['name']} in {added.file}")
    rank = f"{entry['rank']} (lora.maxLoraRank {added.max_lora_rank}"
    rank += f", raised from {added.raised_from})" if added.raised_from else ")"
    where = (entry.get("s3") or {}).get("uri") or (entry.get("huggingface") or {}).get("repo")
    print(pairs([
        ["release", f"{added.release} (renders, fits its GPUs with the adapter slots, passes every policy)"],
        ["model", f"clients send \"model\": \"{entry['name']}\"; trained on {entry['baseModel']}"],
        ["rank", rank],
        ["path", entry["path"] + (f", fetched from {where} by the download init container" if where
                                  else ": copy the adapter there (adapter_config.json and its weights)")],
    ]))
    print("next:")
    print(f"  {verify_command}")
    return OK


def command_model_facts(args: argparse.Namespace) -> int:
    try:
        entry = modelfacts.facts(modelfacts.read_config(args.hf_config), label=str(args.hf_config),
                                 source=args.source or f"config.json of {args.checkpoint} ({args.hf_config.name})")
        text = modelfacts.add(args.checkpoint, entry)
    except modelfacts.FactsRefused as error:
        print(f"vllm-models: {error}", file=sys.stderr)
        return REFUSED
    (toolchain.ROOT / fit.MODELS_FILE).write_text(text)
    if args.output == "json":
        emit_json({"checkpoint": args.checkpoint, "file": fit.MODELS_FILE, "facts": entry})
        return OK
    print(f"model-facts: added {args.checkpoint} to {fit.MODELS_FILE}")
    print(pairs([[key, json.dumps(value) if isinstance(value, (dict, list)) else str(value)]
                 for key, value in entry.items()]))
    return OK


# --- ports ---------------------------------------------------------------------------------------

def command_ports(args: argparse.Namespace) -> int:
    envs = [args.env] if args.env else harness.environments()
    with Progress("reading ports") as progress:
        renders = render_environments(envs, progress)
        drift = ports.drift()
        reports = [ports.report(env, renders[env], drift) for env in envs]
    # portChanges entries that match no difference belong to no one environment.
    declarations = [p for p in drift if not p.startswith("environment ")]
    problems = sum(len(r["conflicts"]) for r in reports) + len(declarations)
    if args.output == "json":
        emit_json({"environments": reports, "portChanges": declarations})
        return PROBLEMS if problems else OK
    for report in reports:
        print(f"{report['environment']}")
        print(table(["RANGE", "CATEGORY", "PORTS", "USED", "RESERVED", "FREE", "FREE PORTS"],
                    [[r["range"], r["category"], f"{r['from']}-{r['to']}", len(r["used"]), len(r["reserved"]),
                      len(r["free"]), ports.format_ports(r["free"])] for r in report["ranges"]]))
        rows = [[u["port"], r["range"], u["release"], "enabled" if u["enabled"] else "disabled", u["file"]]
                for r in report["ranges"] for u in r["used"]]
        rows += [[u["port"], r["range"], u["release"], f"reserved: used in {u['environment']}", u["file"]]
                 for r in report["ranges"] for u in r["reserved"]]
        if rows:
            print()
            print(table(["PORT", "RANGE", "RELEASE", "STATE", "FILE"], sorted(rows, key=lambda row: row[0])))
        if report["conflicts"]:
            print(f"  conflicts ({len(report['conflicts'])}):")
            for conflict in report["conflicts"]:
                print(f"  - {conflict}")
        else:
            print("  conflicts: none")
        print()
    for declaration in declarations:
        print(f"- {declaration}")
    return PROBLEMS if problems else OK


# --- promote / diff ------------------------------------------------------------------------------

def print_diff(diffs, old_label: str, new_label: str) -> None:
    text = semdiff.format_text(diffs, old_label, new_label)
    print(text if text else "no releases to compare")


def command_promote(args: argparse.Namespace) -> int:
    with Progress(f"promoting {args.name} {args.source} -> {args.target}"):
        promotion, diffs = promote.promote(args.name, args.source, args.target, force=args.force,
                                           image_digest=args.image_digest, test_image_digest=args.test_image_digest)
    verify_command = f"vllm-models verify --env {args.target} {promotion.target_file}"
    if args.output == "json":
        emit_json({"file": promotion.target_file, "from": args.source, "to": args.target,
                   "replaced": promotion.replaced, "nodePort": promotion.port, "portNote": promotion.port_note,
                   "portChange": promotion.port_change, "exceptionsRemoved": list(promotion.exceptions_removed),
                   "gpuMemoryUtilization": promotion.utilization_note,
                   "diff": [d.as_dict() for d in diffs],
                   "next": [verify_command]})
        return OK
    action = "updated" if promotion.replaced else "wrote"
    print(f"promote: {action} {promotion.target_file} from {promotion.source_file}")
    print(f"promote: enabled {promotion.category}.models.{args.name}.enabled in environments/{args.target}/values.yaml")
    print(f"promote: nodePort {promotion.port_note}")
    if promotion.utilization_note:
        print(f"promote: gpuMemoryUtilization {promotion.utilization_note}")
    for removed in promotion.exceptions_removed:
        print(f"promote: removed the exception {removed} (both images are pinned by digest)")
    print(f"rendered difference of llms-v2-{args.name}, {args.source} -> {args.target}:")
    print_diff(diffs, args.source, args.target)
    print("next:")
    print(f"  {verify_command}")
    return OK


def command_diff(args: argparse.Namespace) -> int:
    with Progress(f"diffing {args.env_a} and {args.env_b}") as progress:
        diffs = semdiff.diff_environments(args.env_a, args.env_b, args.release,
                                          on_render=lambda rel: progress.update(f"rendering {rel.environment} {rel.name}"))
    if args.release and not diffs:
        print(f"vllm-models: release {args.release} is installed in neither {args.env_a} nor {args.env_b}; "
              f"`vllm-models ports` lists every release", file=sys.stderr)
        return REFUSED
    if args.output == "json":
        emit_json({"from": args.env_a, "to": args.env_b, "releases": [d.as_dict() for d in diffs]})
    else:
        print_diff(diffs, args.env_a, args.env_b)
    differs = any(d.status != "unchanged" for d in diffs)
    return PROBLEMS if args.exit_code and differs else OK


# --- upgrade -------------------------------------------------------------------------------------

def command_upgrade(args: argparse.Namespace) -> int:
    scope = f"{args.env} {args.release}" if args.release else args.env
    with Progress(f"upgrading {scope} to {args.to}") as progress:
        report = upgrade.upgrade(args.env, args.to, args.release, dry_run=args.dry_run, progress=progress.update)
    next_steps = [f"vllm-models verify --env {args.env}"] if report.written else []
    if args.output == "json":
        emit_json({**report.as_dict(), "next": next_steps})
    else:
        print(upgrade.format_text(report))
        old = sorted({r.old_tag for r in report.releases})
        print(f"rendered difference, {', '.join(old)} -> {args.to}:")
        print_diff(report.diff, "/".join(old), args.to)
        if next_steps:
            print("next:")
            print("\n".join(f"  {step}" for step in next_steps))
    if report.refused:
        print(f"vllm-models: upgrade of {scope} to {args.to} refused (the problems above); nothing was written",
              file=sys.stderr)
        return REFUSED
    return OK


# --- plan ----------------------------------------------------------------------------------------

def command_plan(args: argparse.Namespace) -> int:
    with Progress(f"planning {args.env}") as progress:
        renders = render_environments([args.env], progress)[args.env]
        plan = capacity.plan(args.env, renders)
        try:
            pools = fit.node_pools(args.env)
        except fit.FactsError as error:
            pools, pool_problem = [], f"environment {args.env}: {error}"
        else:
            pool_problem = "" if pools else f"environment {args.env}: {harness.environment_file(args.env)} declares no nodePools"
        fits = [result for rendered in renders for result in fit.release_fit(rendered, pools)] if pools else []
        placement = fit.place(args.env, renders, pools) if pools else None
    problems = [*plan.problems, *([pool_problem] if pool_problem else []),
                *(p for result in fits for p in result.problems), *(placement.problems if placement else [])]
    if args.output == "json":
        margin = fit.calibration_report()
        emit_json({**plan.as_dict(), "fit": [result.as_dict() for result in fits],
                   "fitMargin": {"marginGiB": margin["marginGiB"], "publicLogs": margin["publicLogs"],
                                 "worstGiB": margin["worstGiB"], "file": fit.CALIBRATION_FILE},
                   "placement": placement.as_dict() if placement else None, "problems": problems})
        return PROBLEMS if problems else OK
    gpu, memory, cpu = "requests.nvidia.com/gpu", "requests.memory", "requests.cpu"

    def amounts(values: dict) -> list[str]:
        return [capacity.show(gpu, values[gpu]), capacity.show(memory, values[memory]), capacity.show(cpu, values[cpu]),
                capacity.show("pods", values["pods"])]

    rows = []
    for f in plan.footprints:
        rows.append([f.release.name, f.replicas, f.group_size, f.surge_pods, capacity.show(gpu, f.per_pod[gpu]),
                     *amounts({r: f.steady(r) for r in capacity.RESOURCES}), capacity.show(gpu, f.surge(gpu))])
    rows.append(["total (running)", "", "", "", "", *amounts(plan.steady), ""])
    rows.append(["+ every rollout at once", "", "", "", "", *amounts(plan.surge), ""])
    rows.append(["= peak", "", "", "", "", *amounts(plan.peak), ""])
    if plan.quota is not None:
        rows.append(["quota", "", "", "", "", *[capacity.show(r, plan.quota[r]) if r in plan.quota else "-"
                                                for r in (gpu, memory, cpu, "pods")], ""])
        remaining = plan.remaining
        rows.append(["remaining", "", "", "", "", *[capacity.show(r, remaining[r]) if r in remaining else "-"
                                                    for r in (gpu, memory, cpu, "pods")], ""])
    print(f"plan: {args.env}: {len(plan.footprints)} enabled release(s); {plan.quota_note}")
    # PODS/REPLICA: 1, or the nodes of a multi-node group; SURGE counts pods (whole groups).
    print(table(["RELEASE", "REPLICAS", "PODS/REPLICA", "SURGE", "GPU/POD", "GPUS", "MEMORY", "CPU", "PODS",
                 "SURGE GPUS"], rows))
    for problem in plan.problems:
        print(f"over quota: {problem}")
    if fits:
        print(f"\nfit per GPU (vLLM's start-up arithmetic; {fit.MODELS_FILE}, {fit.GPUS_FILE}):")
        print(table(["RELEASE", "PRODUCT", "WEIGHTS/GPU", "KV CACHE", "KV TOKENS", "MAX MODEL LEN", "CONCURRENCY"],
                    [[r.release.name, r.product, *fit_cells(r.estimate)] for r in fits]))
        print(fit.margin_note())
    if placement:
        print("\npacking per node (first-fit decreasing; every rollout's surge pods included):")
        print(table(["NODE", "POOL", "GPUS FREE", "CPU FREE", "MEMORY FREE", "PODS"],
                    [[n.name, n.pool.product, n.gpus, capacity.show("cpu", n.cpu), capacity.show("memory", n.memory),
                      ", ".join(n.holds) or "-"] for n in placement.nodes]))
    for problem in problems[len(plan.problems):]:
        print(f"does not fit: {problem}")
    return PROBLEMS if problems else OK


def fit_cells(estimate: "fit.Estimate | None") -> list[str]:
    if estimate is None:
        return ["-"] * 5
    return [f"{estimate.weights_gib:.1f} GiB", f"{max(estimate.kv_gib, 0):.1f} GiB", str(estimate.tokens),
            str(estimate.max_model_len), f"{estimate.concurrency:.2f}x"]


# --- entry point ---------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    envs = harness.environments()
    parser = argparse.ArgumentParser(prog="vllm-models", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def listing(p: argparse.ArgumentParser) -> None:
        p.add_argument("--output", choices=("table", "json"), default="table", help="table (default) or json")

    p = sub.add_parser("new-model", help="write a model file from its seed template, sized, with a free port, enabled")
    p.add_argument("name", help="model name: the file environments/ENV/CATEGORY/NAME.yaml, release llms-v2-NAME")
    p.add_argument("--env", required=True, choices=envs)
    p.add_argument("--category", choices=tuple(harness.fleet_data().get("categories") or ()),
                   help="default: vision-language for --shape vision, else language")
    p.add_argument("--shape", required=True, choices=SHAPE_NAMES, help="the seed template to start from")
    p.add_argument("--params-b", type=int, help="parameters in whole billions (e.g. 70); default: from --hf-config "
                                                 "or the checkpoint's environments/models.yaml facts")
    p.add_argument("--model-path", required=True,
                   help="model directory inside the container, e.g. /models/Qwen/Qwen3-32B-FP8 (below /models: the "
                        "checkpoint's id in environments/models.yaml)")
    p.add_argument("--hf-config", type=Path, help="the model's config.json: adds its facts to environments/models.yaml "
                                                 "and sizes GPUs from them")
    p.add_argument("--quantization", choices=(scaffold.NO_QUANTIZATION, *scaffold.quantization_methods()),
                   help="vLLM --quantization method, or none to serve the checkpoint's weights as stored (default: "
                        "none for a quantized checkpoint; for a 16-bit one the seed template's: fp8 at load for the "
                        "single/multi-gpu shapes, none for the others)")
    p.add_argument("--served-name", help="name clients request (default: NAME)")
    p.add_argument("--tp", type=int, help="tensor parallel size = GPUs per pod (default from the size)")
    p.add_argument("--architecture", choices=("dense", "moe"), help="default: moe for --shape moe, else dense")
    p.add_argument("--tool-call-parser", help="enable tool calling with this parser (function-calling: hermes)")
    listing(p)
    p.set_defaults(func=command_new_model)

    p = sub.add_parser("add-adapter", help="serve one more LoRA adapter from a model of an environment")
    p.add_argument("name", help="the model serving it: environments/ENV/CATEGORY/NAME.yaml")
    p.add_argument("--env", required=True, choices=envs)
    p.add_argument("--adapter", required=True, help="the adapter's name: what clients send as the model")
    p.add_argument("--rank", required=True, type=int, help="the adapter's rank r (adapter_config.json)")
    p.add_argument("--path", help="its directory below storage.mountPath (default: <mountPath>/adapters/ADAPTER)")
    p.add_argument("--base-model", help="the model it was trained on (adapter_config.json base_model_name_or_path; "
                                        "default: the release's checkpoint)")
    p.add_argument("--s3-uri", help="fetch it from s3://bucket/prefix with the release's storage.download")
    p.add_argument("--hf-repo", help="fetch it from this Hugging Face repository with the release's storage.download")
    p.add_argument("--hf-revision", help="the commit to fetch (production refuses a branch)")
    listing(p)
    p.set_defaults(func=command_add_adapter)

    p = sub.add_parser("model-facts", help="add a checkpoint's facts to environments/models.yaml from its config.json")
    p.add_argument("checkpoint", help="the id releases find it by: deployment.model below /models, e.g. Qwen/Qwen3-32B-FP8")
    p.add_argument("--hf-config", type=Path, required=True, help="the model's config.json")
    p.add_argument("--source", help="where the config.json came from (default: the file name)")
    listing(p)
    p.set_defaults(func=command_model_facts)

    p = sub.add_parser("ports", help="per port range: used and free NodePorts, and conflicts")
    p.add_argument("--env", choices=envs)
    listing(p)
    p.set_defaults(func=command_ports)

    p = sub.add_parser("promote", help="copy a model to the next environment, enable it, diff the renders")
    p.add_argument("name")
    p.add_argument("--from", dest="source", required=True, choices=envs)
    p.add_argument("--to", dest="target", required=True, choices=envs)
    p.add_argument("--force", action="store_true", help="allow skipping environments and going over the quota")
    p.add_argument("--image-digest", metavar="SHA256",
                   help="the registry's digest of the release's vLLM image tag (image.digest), for an environment "
                        "that runs images pinned by digest")
    p.add_argument("--test-image-digest", metavar="SHA256",
                   help="the registry's digest of the helm test image (helmTest.image), likewise")
    listing(p)
    p.set_defaults(func=command_promote)

    p = sub.add_parser("diff", help="semantic diff of the rendered manifests of two environments")
    p.add_argument("env_a", choices=envs)
    p.add_argument("env_b", choices=envs)
    p.add_argument("--release", help="one release, e.g. llms-v2-qwen3-32b")
    p.add_argument("--exit-code", action="store_true", help="exit 1 when the environments differ")
    listing(p)
    p.set_defaults(func=command_diff)

    p = sub.add_parser("upgrade", help="move an environment (or one release) to another vLLM image tag, or refuse")
    p.add_argument("--env", required=True, choices=envs)
    p.add_argument("--release", help="one release, e.g. llms-v2-qwen3-32b (default: every release of the environment, "
                                     "and its global.image.tag)")
    p.add_argument("--to", required=True, help="the vLLM image tag, e.g. v0.33.0 (its catalog must be committed)")
    p.add_argument("--dry-run", action="store_true", help="report and diff, write nothing")
    listing(p)
    p.set_defaults(func=command_upgrade)

    p = sub.add_parser("plan", help="GPUs, memory and CPU of every enabled release against the quota")
    p.add_argument("--env", required=True, choices=envs)
    listing(p)
    p.set_defaults(func=command_plan)

    p = sub.add_parser("render", help="print the manifests an environment would deploy")
    p.add_argument("--env", required=True, choices=envs)
    p.add_argument("--release")
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="print the manifests without running the checks first")
    p.add_argument("--no-hooks", dest="hooks", action="store_false",
                   help="leave out helm hooks (the helm test Pods), as `helm template --no-hooks` does; "
                        "by default they are printed and stderr names them")
    p.set_defaults(func=command_render)

    p = sub.add_parser("verify", help="lint, render, schema, policies and fleet checks (all, one env, or what FILES affect)")
    p.add_argument("--env", choices=envs)
    p.add_argument("files", nargs="*", help="changed files (pre-commit passes them); none = everything")
    listing(p)
    p.set_defaults(func=command_verify)

    p = sub.add_parser("lint", help="helm lint --strict every release with its environment's values")
    p.add_argument("--env", choices=envs)
    listing(p)
    p.set_defaults(func=command_lint)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (scaffold.Refusal, yamledit.EditError) as error:
        print(f"vllm-models: {error}", file=sys.stderr)
        return REFUSED
    except (harness.RenderError, toolchain.ToolMissing) as error:
        print(f"vllm-models: {error}", file=sys.stderr)
        return PROBLEMS


if __name__ == "__main__":
    sys.exit(main())
