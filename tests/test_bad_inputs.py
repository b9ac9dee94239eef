"""The bad-input catalogue: every mistake in tests/bad_inputs/ gets the message a user needs.

Each case file (one per mistake) says which environment it breaks, how it edits the repository's
files, and the exact text the user must see: the environment, the file and the key, and the fix.
The test copies the environments, charts, policies and helmfile to a temporary directory, applies
the edits there, runs the real `vllm-models verify --env ENV` against the copy (VLLM_MODELS_ROOT)
and asserts it fails (exit 1) printing every expected line.

Case file keys:
  description  what the user did wrong
  environment  the environment `verify --env` checks; `all` runs `verify` over every environment
               (the promotion rules compare environments)
  edits        a list; each names a `file` (repo-relative) and one change:
                 text: the file's whole new content (creates the file when missing)
                 append: text added at the end
                 replace: {old: exact text, new: its replacement}
                 merge: a mapping deep-merged into the file's YAML (null sets null)
                 delete: dotted keys removed from the file's YAML
                 remove: true, to delete the file
  expected     substrings of verify's output, each required
  xfail        optional: why the check is not wired into verify yet (strict: it fails once it is)
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from cli_repo import copy_repository, environ
from vllm_models.render import deep_merge

CASES_DIR = Path(__file__).parent / "bad_inputs"
CASES = sorted(CASES_DIR.glob("*.yaml"))
CLI = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "vllm-models"
CASE_KEYS = {"description", "environment", "edits", "expected", "xfail"}
EDIT_KINDS = {"text", "append", "replace", "merge", "delete", "remove"}


def load_case(path: Path) -> dict:
    case = yaml.safe_load(path.read_text())
    assert set(case) <= CASE_KEYS and {"description", "environment", "edits", "expected"} <= set(case), \
        f"{path.name}: keys must be {sorted(CASE_KEYS)}, has {sorted(case)}"
    for edit in case["edits"]:
        kinds = set(edit) - {"file"}
        assert "file" in edit and len(kinds) == 1 and kinds <= EDIT_KINDS, \
            f"{path.name}: each edit names a file and one of {sorted(EDIT_KINDS)}: {edit}"
    return case


def apply(edit: dict, root: Path) -> None:
    path = root / edit["file"]
    if "text" in edit:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(edit["text"])
    elif "append" in edit:
        path.write_text(path.read_text() + edit["append"])
    elif "replace" in edit:
        text, old = path.read_text(), edit["replace"]["old"]
        assert text.count(old) == 1, f"{edit['file']}: replace needs exactly one {old!r}, found {text.count(old)}"
        path.write_text(text.replace(old, edit["replace"]["new"]))
    elif "remove" in edit:
        path.unlink()
    else:
        data = yaml.safe_load(path.read_text()) or {}
        if "merge" in edit:
            deep_merge(data, edit["merge"])
        for dotted in edit.get("delete", []):
            *parents, leaf = dotted.split(".")
            node = data
            for part in parents:
                node = node[part]
            assert leaf in node, f"{edit['file']}: delete {dotted}: no such key"
            del node[leaf]
        path.write_text(yaml.safe_dump(data, sort_keys=False))


def verify(root: Path, environment: str) -> subprocess.CompletedProcess:
    scope = [] if environment == "all" else ["--env", environment]
    return subprocess.run([str(CLI), "verify", *scope], capture_output=True, text=True, cwd=root, env=environ(root),
                          timeout=600)


def params() -> list:
    found = []
    for path in CASES:
        case = load_case(path)
        marks = [pytest.mark.xfail(strict=True, reason=case["xfail"])] if "xfail" in case else []
        found.append(pytest.param(path, id=path.stem, marks=marks))
    return found


@pytest.mark.parametrize("case_path", params())
def test_each_bad_input_is_refused_with_a_message_naming_environment_file_and_key(case_path, tmp_path):
    case = load_case(case_path)
    root = copy_repository(tmp_path)
    for edit in case["edits"]:
        apply(edit, root)
    result = verify(root, case["environment"])
    output = result.stdout + result.stderr
    missing = [text for text in case["expected"] if text not in output]
    assert result.returncode == 1 and not missing, (
        f"{case_path.name} ({case['description']}): `vllm-models verify` ({case['environment']}) exited "
        f"{result.returncode}; missing expected text: {missing}\n--- output ---\n{output}")
    buried = [text for text in case["expected"] if "/.tools/bin/" in finding_before(output, output.find(text))]
    assert not buried, (f"{case_path.name}: within its finding, the message must come before the command dump "
                        f"(a pinned tool's command line); printed after it: {buried}\n--- output ---\n{output}")


def finding_before(output: str, position: int) -> str:
    """The text of the finding that holds `position`, up to it (findings start at a line "[check] ...")."""
    start = output.rfind("\n[", 0, position)
    return output[start + 1:position]


def test_the_catalogue_holds_at_least_forty_cases_each_with_an_expected_message():
    assert len(CASES) >= 40, f"tests/bad_inputs/ has {len(CASES)} cases"
    for path in CASES:
        case = load_case(path)
        assert case["expected"] and all(isinstance(t, str) and t for t in case["expected"]), path.name
        assert path.stem[:3].isdigit() and path.stem[3] == "-", f"{path.name}: name cases NNN-short-name.yaml"


def test_the_unedited_copy_verifies_clean(tmp_path):
    """The baseline every case edits: without an edit, verify passes on the copy."""
    root = copy_repository(tmp_path)
    for environment in {load_case(path)["environment"] for path in CASES}:
        result = verify(root, environment)
        assert result.returncode == 0, f"environment {environment}:\n{result.stdout}{result.stderr}"
