"""The policy suite: the Rego rules in policies/ over one rendered release at a time.

`evaluate_release(rendered)` runs `conftest test --combine` when `conftest` is on PATH, and
otherwise evaluates the same policies in-process with regopy (rego-cpp) with conftest's
semantics: namespace `main`, rules named deny_*/violation_* (fail) and warn_* (warn), one
combined input per release (a list of {path, contents}, path `<environment>/<release>.yaml`),
and conftest exceptions (`data.main.exception`) from policies/exceptions.yaml.

regopy quirks this module works around (rego-cpp 1.5.2): at most two `add_data` calls per
interpreter (so data is merged here and added once), strings in query output are not JSON
escaped (so messages come back base64-encoded), and it calls rego-cpp through ctypes, which
releases the GIL, while an interpreter is not thread-safe (verify's thread pool crashed with
SIGSEGV): every regopy call in the process holds REGO_LOCK.
"""
from __future__ import annotations

import argparse
import base64
import dataclasses
import functools
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Iterable

import yaml

from . import render as harness
from . import toolchain

POLICY_DIR = toolchain.ROOT / "policies"
README = POLICY_DIR / "README.md"
EXCEPTIONS_FILE = POLICY_DIR / "exceptions.yaml"
DATA_FILES = (toolchain.CHART_DIR / "sizing.yaml", toolchain.CHART_DIR / "rules.yaml", POLICY_DIR / "data" / "removed_apis.yaml")
NAMESPACE = "main"
EXCEPTION_KEYS = ("environment", "release", "rule", "reason")
REGO_LOCK = threading.RLock()

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


def data_document(exceptions: Path = EXCEPTIONS_FILE, kube_version: str | None = None) -> dict:
    """Everything conftest gets through --data, merged: sizing, removed APIs, exceptions, target version."""
    merged: dict = {}
    for path in DATA_FILES:
        harness.deep_merge(merged, yaml.safe_load(path.read_text()))
    merged["exceptions"] = load_exceptions(exceptions)
    merged["kubernetes"] = {"version": kube_version or toolchain.kube_version()}
    return merged


def release_path(rendered: harness.Rendered) -> str:
    """The input path policies read the environment and release from (see policies/lib.rego `target`)."""
    return f"{rendered.release.environment}/{rendered.release.name}.yaml"


def release_input(rendered: harness.Rendered) -> list[dict]:
    """conftest --combine's input for one rendered release: one {path, contents} per document."""
    path = release_path(rendered)
    return [{"path": path, "contents": document} for document in rendered.documents]


def conftest_binary() -> str | None:
    return shutil.which("conftest")


def engine() -> str:
    """Which engine evaluate_release uses in this process."""
    binary = conftest_binary()
    if binary:
        return f"conftest ({binary}, subprocess)"
    import regopy

    with REGO_LOCK:
        version = regopy.rego_version()
    return f"regopy {version} (in-process; conftest is not on PATH)"


def evaluate_release(rendered: harness.Rendered, *, exceptions: Path = EXCEPTIONS_FILE) -> list[Violation]:
    """Every deny and warn result of every policy for one rendered release, exceptions marked."""
    binary = conftest_binary()
    if binary:
        return _conftest(binary, rendered, exceptions)
    results = _interpreter(str(exceptions), toolchain.kube_version()).evaluate(release_input(rendered))
    excepted = set(results.pop("exception"))
    rel = rendered.release
    violations = []
    for name, messages in results.items():
        for message in messages:
            violations.append(Violation(rel.environment, rel.name, rule_id(name), severity(name),
                                        _strip_id(message), rule_id(name) in excepted))
    return sorted(violations, key=lambda v: (v.rule, v.message))


def _strip_id(message: str) -> str:
    match = MESSAGE.match(message)
    return match.group(2) if match else message


class Interpreter:
    """One compiled regopy interpreter: data and modules added once, the release query built once."""

    def __init__(self, data: dict, modules: Iterable[Path]):
        import regopy

        with REGO_LOCK:
            self._rego = regopy.Interpreter()
            self._rego.add_data(data)
            for path in modules:
                try:
                    self._rego.add_module(path.name, path.read_text())
                except regopy.RegoError as error:
                    raise PolicyError(f"{_label(path)} does not compile:\n{error}") from error

    def query(self, text: str) -> dict:
        """Bindings of an ad-hoc query (compiled anew each time)."""
        with REGO_LOCK:
            return self._bindings(self._rego.query(text), text)

    def _bindings(self, output, text: str) -> dict:
        if not output.results:
            raise PolicyError(f"Rego query failed: {text}\n{output}")
        return output.results[0].bindings


class ReleaseEvaluator(Interpreter):
    """The policies compiled once into a bundle that every release is run through."""

    def __init__(self, data: dict, modules: Iterable[Path]):
        super().__init__(data, modules)
        fields = [f'"{name}": [base64.encode(m) | some m in data.{NAMESPACE}.{name}]' for name in rule_names()]
        fields.append(f'"exception": [base64.encode(r) | some rules in data.{NAMESPACE}.exception; some r in rules]')
        self._query = "result := {" + ", ".join(fields) + "}"
        with REGO_LOCK:
            self._bundle = self._rego.build(self._query)
            if not self._bundle.ok():
                raise PolicyError(f"the policies in {_label(POLICY_DIR)} do not build into a bundle")

    def evaluate(self, document) -> dict[str, list[str]]:
        with REGO_LOCK:  # set_input and query_bundle are two calls on one shared interpreter
            self._rego.set_input(document)
            result = self._bindings(self._rego.query_bundle(self._bundle), "the release query")["result"]
        return {name: [base64.b64decode(m).decode() for m in messages] for name, messages in result.items()}


def _interpreter(exceptions: str, kube_version: str) -> ReleaseEvaluator:
    with REGO_LOCK:  # threads asking at once get the one interpreter, compiled once
        return _compiled_interpreter(exceptions, kube_version)


@functools.lru_cache(maxsize=None)
def _compiled_interpreter(exceptions: str, kube_version: str) -> ReleaseEvaluator:
    return ReleaseEvaluator(data_document(Path(exceptions), kube_version), policy_files())


@functools.lru_cache(maxsize=None)
def unit_test_interpreter() -> Interpreter:
    """Rules and unit tests with the tables only (`conftest verify --data sizing.yaml --data removed_apis.yaml`)."""
    data: dict = {}
    for path in DATA_FILES:
        harness.deep_merge(data, yaml.safe_load(path.read_text()))
    return Interpreter(data, policy_files(tests=True))


@functools.lru_cache(maxsize=None)
def unit_test_results() -> dict[str, bool]:
    """Every Rego unit test's outcome, from one query: each regopy query compiles every module anew
    and keeps ~300 MB until the process ends, so tests are never queried one by one."""
    names = [name for _, name in unit_tests()]
    query = "result := {" + ", ".join(f'"{n}": count([1 | data.{NAMESPACE}.{n} == true]) == 1' for n in names) + "}"
    return unit_test_interpreter().query(query)["result"]


def _conftest(binary: str, rendered: harness.Rendered, exceptions: Path) -> list[Violation]:
    """`conftest test --combine` on the release written as <environment>/<release>.yaml."""
    rel = rendered.release
    reasons = {e["rule"]: e.get("reason") for e in load_exceptions(exceptions)
               if e["environment"] == rel.environment and e["release"] == rel.name}
    with tempfile.TemporaryDirectory(prefix="vllm-models-policy-") as tmp:
        relative = Path(release_path(rendered))
        (Path(tmp) / relative).parent.mkdir(parents=True)
        (Path(tmp) / relative).write_text(rendered.manifest)
        version = Path(tmp) / "kubernetes.json"
        version.write_text(json.dumps({"kubernetes": {"version": toolchain.kube_version()}}))
        command = [binary, "test", "--combine", "--no-color", "--output", "json", "--namespace", NAMESPACE,
                   "--policy", str(POLICY_DIR)]
        for path in (*DATA_FILES, exceptions, version):
            command += ["--data", str(path)]
        command.append(str(relative))
        result = subprocess.run(command, capture_output=True, text=True, cwd=tmp)
    if result.returncode not in (0, 1):
        raise PolicyError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr or result.stdout}")
    violations = []
    for check in json.loads(result.stdout):
        for kind, level in (("failures", "deny"), ("warnings", "warn")):
            for item in check.get(kind) or []:
                match = MESSAGE.match(item["msg"])
                rule = match.group(1) if match else "unknown"
                violations.append(Violation(rel.environment, rel.name, rule, level, _strip_id(item["msg"])))
        for item in check.get("exceptions") or []:
            match = CONFTEST_EXCEPTION.search(item["msg"])
            rule = match.group(1) if match else item["msg"]
            violations.append(Violation(rel.environment, rel.name, rule, "deny",
                                        f"excepted by {_label(exceptions)}: {reasons.get(rule)}", True))
    return sorted(violations, key=lambda v: (v.rule, v.message))


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
            for rel in selected:
                violations = evaluate_release(harness.render(rel))
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
