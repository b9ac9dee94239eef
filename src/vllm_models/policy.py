"""The policy suite: the Rego rules in policies/, run by conftest over rendered releases.

`evaluate(renders)` writes each release as one `List` document (its objects as items, annotated
with its environment and release) in `<environment>/<release>.yaml` and runs every release through
ONE `conftest test` process with conftest's own conventions: namespace `main`, rules named
deny_*/violation_* (fail) and warn_* (warn), data files through `--data` (the seeds' tables, the rule
data, removed APIs, the exceptions and the target Kubernetes version) and conftest exceptions
(`data.main.exception`) from policies/exceptions.yaml. conftest reports per file, so each result
maps back to its environment and release.

The Rego unit tests (policies/*_test.rego) run with `opa test` (one process: each test's outcome
and the coverage figure). conftest and opa are built by `make setup` (toolchain.toml).
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import yaml

from . import render as harness
from . import toolchain

POLICY_DIR = toolchain.ROOT / "policies"
README = POLICY_DIR / "README.md"
EXCEPTIONS_FILE = POLICY_DIR / "exceptions.yaml"
DATA_FILES = (toolchain.CHART_DIR / "sizing.yaml", toolchain.CHART_DIR / "rules.yaml",
              POLICY_DIR / "data" / "removed_apis.yaml")
NAMESPACE = "main"
EXCEPTION_KEYS = ("environment", "release", "rule", "reason")
ENVIRONMENT_ANNOTATION, RELEASE_ANNOTATION = "vllm-models.io/environment", "vllm-models.io/release"

# conftest's own rule-name patterns (policy/engine.go), applied to rule heads.
RULE_HEAD = re.compile(r"^((deny|violation|warn)(?:_[a-zA-Z0-9]+)+)\s+contains\b", re.M)
TEST_HEAD = re.compile(r"^(test_\w+)\s+if\b", re.M)
MESSAGE = re.compile(r"^\[(\w+)\] (.*)$", re.S)
CONFTEST_EXCEPTION = re.compile(r'exception\[_\]\[_\] == "(\w+)"')


class PolicyError(Exception):
    """The policies could not be evaluated (a Rego error, a broken exceptions file, conftest failing)."""


@dataclasses.dataclass(frozen=True)
class Violation:
    environment: str
    release: str
    rule: str  # the rule id: the Rego rule name without deny_/warn_ (what exceptions.yaml names)
    severity: str  # "deny" or "warn"
    message: str
    excepted: bool = False

    def __str__(self) -> str:
        return f"environment {self.environment}, release {self.release}: [{self.rule}] {self.message}"


def policy_files(*, tests: bool = False) -> list[Path]:
    """The Rego modules: the rules, and with tests=True also the *_test.rego unit tests."""
    return sorted(p for p in POLICY_DIR.glob("*.rego") if tests or not p.name.endswith("_test.rego"))


@functools.lru_cache(maxsize=None)
def rule_names() -> tuple[str, ...]:
    """Every deny_/violation_/warn_ rule of package main, as conftest would query them."""
    names = {m.group(1) for path in policy_files() for m in RULE_HEAD.finditer(path.read_text())}
    return tuple(sorted(names))


def rule_id(name: str) -> str:
    return name.split("_", 1)[1]


def severity(name: str) -> str:
    return "warn" if name.startswith("warn_") else "deny"


def rule_ids() -> tuple[str, ...]:
    return tuple(rule_id(name) for name in rule_names())


def unit_tests() -> list[tuple[str, str]]:
    """(file, test rule) for every `test_*` rule in policies/*_test.rego, in file order."""
    found = []
    for path in policy_files(tests=True):
        if path.name.endswith("_test.rego"):
            found += [(path.name, m.group(1)) for m in TEST_HEAD.finditer(path.read_text())]
    return found


def load_exceptions(path: Path = EXCEPTIONS_FILE) -> list[dict]:
    """The declared exceptions; a malformed file is refused naming the entry and key.

    A missing or empty reason is left to the Rego rule exception_reason, which reports it.
    """
    label = _label(path)
    document = yaml.safe_load(path.read_text()) or {}
    entries = document.get("exceptions") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise PolicyError(f"{label}: expected a top-level `exceptions:` list (use `exceptions: []` for none)")
    for index, entry in enumerate(entries):
        where = f"{label}: exceptions[{index}]"
        if not isinstance(entry, dict):
            raise PolicyError(f"{where} is {entry!r}; each exception is a mapping with {', '.join(EXCEPTION_KEYS)}")
        unknown = sorted(set(entry) - set(EXCEPTION_KEYS))
        if unknown:
            raise PolicyError(f"{where} has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(EXCEPTION_KEYS)}")
        for key in ("environment", "release", "rule"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise PolicyError(f"{where} has no {key}; name the {key} the deviation applies to")
    return entries


def _label(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(toolchain.ROOT))
    except ValueError:
        return str(path)


def release_path(rendered: harness.Rendered) -> str:
    """Where the release's List is written for conftest: `<environment>/<release>.yaml`."""
    return f"{rendered.release.environment or 'chart'}/{rendered.release.name}.yaml"


def release_document(rendered: harness.Rendered) -> dict:
    """The release as one Kubernetes List, annotated with what the policies read as `target`."""
    rel = rendered.release
    return {"apiVersion": "v1", "kind": "List",
            "metadata": {"annotations": {ENVIRONMENT_ANNOTATION: rel.environment, RELEASE_ANNOTATION: rel.name}},
            "items": rendered.documents}


def inputs_digest(*, exceptions: Path = EXCEPTIONS_FILE, kube_version: str | None = None) -> str:
    """What every release's results depend on besides its own objects: the policies, their data, the
    exceptions, the Kubernetes version and the conftest binary."""
    return harness.digest(harness.tree_bytes(POLICY_DIR), *(path.read_bytes() for path in DATA_FILES),
                          exceptions.read_bytes() if exceptions.exists() else b"", kube_version or toolchain.kube_version(),
                          harness.binary_identity(toolchain.tool("conftest")))


def result_key(rendered: harness.Rendered, inputs: str) -> str:
    """The cache key of one release's results (`inputs` from inputs_digest)."""
    return "conftest-" + harness.digest(inputs, json.dumps(release_document(rendered)))


def engine() -> str:
    return f"conftest ({toolchain.tool('conftest')}, one process per batch of releases)"


def evaluate_release(rendered: harness.Rendered, *, exceptions: Path = EXCEPTIONS_FILE) -> list[Violation]:
    """Every deny and warn result of every policy for one rendered release, exceptions marked."""
    return evaluate([rendered], exceptions=exceptions)[0]


def evaluate(renders: Sequence[harness.Rendered], *, exceptions: Path = EXCEPTIONS_FILE,
             kube_version: str | None = None) -> list[list[Violation]]:
    """Every policy result of each release (in order), from one `conftest test` process."""
    return start(renders, exceptions=exceptions, kube_version=kube_version).results()


def start(renders: Sequence[harness.Rendered], *, exceptions: Path = EXCEPTIONS_FILE,
          kube_version: str | None = None) -> "Evaluation":
    """Start one `conftest test` process over these releases and return at once; `.results()` waits for it.

    conftest checks the files of one process one after another, on one core: verify starts a process per
    batch of releases while helm renders the next ones, so every core stays busy."""
    return Evaluation(list(renders), exceptions, kube_version)


class Evaluation:
    """One running `conftest test` process over a batch of rendered releases; a PolicyError (a broken
    exceptions file) comes out of results(), with the results it stands for."""

    def __init__(self, renders: list[harness.Rendered], exceptions: Path, kube_version: str | None) -> None:
        self.renders, self.exceptions, self._error = renders, exceptions, None
        if not renders:
            return
        try:
            self.entries = load_exceptions(exceptions)
        except PolicyError as error:
            self._error = error
            return
        self._folder = tempfile.TemporaryDirectory(prefix="vllm-models-policy-")
        folder = Path(self._folder.name)
        self.files = []
        for rendered in renders:
            relative = release_path(rendered)
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_text(json.dumps(release_document(rendered)))
            self.files.append(relative)
        version = folder / "kubernetes.json"
        version.write_text(json.dumps({"kubernetes": {"version": kube_version or toolchain.kube_version()}}))
        self.command = [toolchain.tool("conftest"), "test", "--no-color", "--output", "json", "--namespace", NAMESPACE,
                        "--policy", str(POLICY_DIR), "--parser", "json"]
        for path in (*DATA_FILES, exceptions, version):
            self.command += ["--data", str(path)]
        # Output goes to a file, not a pipe: nobody reads until the batch is done, and a full pipe would stall it.
        self._output = (folder / "conftest.out").open("w+")
        self._process = subprocess.Popen(self.command + self.files, stdout=self._output, stderr=subprocess.PIPE,
                                         text=True, cwd=folder, env=toolchain.tool_env())

    def results(self) -> list[list[Violation]]:
        """Each release's violations, in order (waits for conftest)."""
        if self._error:
            raise self._error
        if not self.renders:
            return []
        try:
            stderr = self._process.communicate()[1]
            self._output.seek(0)
            stdout = self._output.read()
        finally:
            self._output.close()
            self._folder.cleanup()
        return self._parse(self._process.returncode, stdout, stderr)

    def _parse(self, returncode: int, stdout: str, stderr: str) -> list[list[Violation]]:
        if returncode not in (0, 1):
            raise PolicyError(f"conftest failed ({returncode}) on {len(self.files)} release(s):\n"
                              f"{(stderr or stdout).strip()}\n  command: {' '.join(self.command)} ...")
        try:
            checks = {check["filename"]: check for check in json.loads(stdout)}
        except (ValueError, KeyError):
            raise PolicyError(f"conftest printed no JSON results:\n{stdout}\n{stderr}") from None
        found = []
        for rendered, relative in zip(self.renders, self.files):
            rel = rendered.release
            reasons = {e["rule"]: e.get("reason") for e in self.entries
                       if e["environment"] == rel.environment and e["release"] == rel.name}
            check = checks.get(relative) or {}
            violations = []
            for kind, level in (("failures", "deny"), ("warnings", "warn")):
                for item in check.get(kind) or []:
                    match = MESSAGE.match(item["msg"])
                    rule = match.group(1) if match else "unknown"
                    violations.append(Violation(rel.environment, rel.name, rule, level, _strip_id(item["msg"])))
            for item in check.get("exceptions") or []:
                match = CONFTEST_EXCEPTION.search(item["msg"])
                rule = match.group(1) if match else item["msg"]
                violations.append(Violation(rel.environment, rel.name, rule, "deny",
                                            f"excepted by {_label(self.exceptions)}: {reasons.get(rule)}", True))
            found.append(sorted(violations, key=lambda v: (v.rule, v.message)))
        return found


def _strip_id(message: str) -> str:
    match = MESSAGE.match(message)
    return match.group(2) if match else message


@functools.lru_cache(maxsize=None)
def unit_test_results() -> dict[str, str]:
    """Every Rego unit test's outcome from one `opa test` run: name -> "" when it passed, else why not."""
    command = [toolchain.tool("opa"), "test", "--format", "json", str(POLICY_DIR), *map(str, DATA_FILES)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=toolchain.ROOT)
    try:
        outcomes = json.loads(result.stdout)
    except ValueError:
        raise PolicyError(f"opa test printed no JSON results ({result.returncode}):\n{result.stdout}{result.stderr}") \
            from None
    return {o["name"]: "" if not (o.get("fail") or o.get("error")) else
            f"{o['location']['file']}:{o['location']['row']}: " + (json.dumps(o["error"]) if o.get("error") else "failed")
            for o in outcomes}


@functools.lru_cache(maxsize=None)
def coverage() -> float:
    """The percentage of policy lines the unit tests cover (`opa test --coverage`)."""
    command = [toolchain.tool("opa"), "test", "--coverage", "--format", "json", str(POLICY_DIR), *map(str, DATA_FILES)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=toolchain.ROOT)
    try:
        return float(json.loads(result.stdout)["coverage"])
    except (ValueError, KeyError):
        raise PolicyError(f"opa test --coverage printed no coverage ({result.returncode}):\n{result.stderr}") from None


# --- policies/README.md rule table (make generate-policy-docs) ---------------------------

METADATA_BLOCK = re.compile(r"^# METADATA\n((?:#.*\n)+?)((?:deny|violation|warn)_\w+)\s+contains", re.M)
TABLE_START, TABLE_END = "<!-- rules:start -->", "<!-- rules:end -->"


def rule_metadata() -> list[dict]:
    """The METADATA block of every rule: id, severity, title, description, source, file."""
    rules = []
    for path in policy_files():
        for match in METADATA_BLOCK.finditer(path.read_text()):
            block = yaml.safe_load("\n".join(line[2:] for line in match.group(1).splitlines()))
            custom = block.get("custom") or {}
            rules.append({"id": rule_id(match.group(2)), "name": match.group(2), "file": path.name,
                          "title": block.get("title", ""), "description": block.get("description", ""),
                          "source": custom.get("source", ""), "severity": custom.get("severity", "")})
    return sorted(rules, key=lambda r: (r["file"], r["id"]))


def rule_table() -> str:
    lines = ["| id | severity | checks | source | file |", "| --- | --- | --- | --- | --- |"]
    for rule in rule_metadata():
        cells = [f"`{rule['id']}`", rule["severity"], f"**{rule['title']}**: {rule['description']}",
                 rule["source"], f"[{rule['file']}]({rule['file']})"]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def readme_with_table(text: str) -> str:
    """The README with the generated rule table between its markers."""
    head, _, rest = text.partition(TABLE_START)
    _, _, tail = rest.partition(TABLE_END)
    return f"{head}{TABLE_START}\n{rule_table()}\n{TABLE_END}{tail}"


# --- `python -m vllm_models.policy --env ENV` (make policy) -----------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vllm_models.policy", description=__doc__.splitlines()[0])
    parser.add_argument("--env", choices=harness.environments(), help="environment to check (default: all)")
    parser.add_argument("--release", help="one release of --env")
    parser.add_argument("--write-docs", action="store_true", help="regenerate the rule table in policies/README.md")
    args = parser.parse_args(argv)
    if args.write_docs:
        README.write_text(readme_with_table(README.read_text()))
        print(f"wrote {_label(README)} ({len(rule_metadata())} rules)")
        return 0
    if args.release and not args.env:
        parser.error("--release needs --env")
    print(f"policy engine: {engine()}")
    failed = 0
    try:
        for env in [args.env] if args.env else harness.environments():
            selected = [rel for rel in harness.releases(env) if not args.release or rel.name == args.release]
            if not selected:
                names = ", ".join(rel.name for rel in harness.releases(env))
                print(f"vllm-models policy: environment {env} installs no release {args.release} (installed: {names})",
                      file=sys.stderr)
                return 2
            for rel, violations in zip(selected, evaluate([harness.render(rel) for rel in selected])):
                blocking = [v for v in violations if v.severity == "deny" and not v.excepted]
                failed += len(blocking)
                print(f"{'FAIL' if blocking else 'ok  '}  {env}/{rel.name}")
                for v in violations:
                    state = "excepted" if v.excepted else v.severity
                    print(f"      {state:8} [{v.rule}] {v.message}")
    except (PolicyError, harness.RenderError, toolchain.ToolMissing) as error:
        print(f"vllm-models policy: {error}", file=sys.stderr)
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
