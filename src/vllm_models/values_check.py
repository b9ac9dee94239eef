"""Check the values files users edit, each on its own, before helm merges them.

helm validates the merged values, so its schema errors cannot say which file holds the bad key,
and YAML silently keeps the last of two duplicated keys. These checks read each file of an
environment as the user wrote it and name the environment, the file, the key and the fix.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import json
import re
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import yaml

from . import render as harness
from . import toolchain

MISPLACED = {  # the seeds put these in two places; the chart reads only the top-level one
    ("deployment", "priorityClassName"): "priorityClassName",
    ("deployment", "nccl"): "nccl",
    ("deployment", "extraEnv"): "extraEnv",
}


@dataclasses.dataclass(frozen=True)
class FileProblem:
    environment: str
    file: str  # repo-relative
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        return f"environment {self.environment}: {where}: {self.message}"


class DuplicateKey(Exception):
    def __init__(self, key: str, first_line: int, second_line: int):
        self.key, self.first_line, self.second_line = key, first_line, second_line
        super().__init__(key)


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping key given twice (PyYAML and helm keep the last silently)."""


class FastStrictLoader(harness.FastSafeLoader):
    """StrictLoader on libyaml's parser: every values file is loaded on every verify, and this is
    several times faster. Syntax errors are re-read with StrictLoader, whose messages users see."""


def _construct_mapping(loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            path = ".".join(_path_of(loader._root, node) + [str(key)])
            raise DuplicateKey(path, seen[key], line)
        seen[key] = line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


def _path_of(root: yaml.Node, target: yaml.Node) -> list[str]:
    """Dotted path of a mapping node inside the document, for messages."""
    def walk(node: yaml.Node, prefix: list[str]) -> list[str] | None:
        if node is target:
            return prefix
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                found = walk(value_node, prefix + [str(key_node.value)])
                if found is not None:
                    return found
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                found = walk(item, prefix + [str(index)])
                if found is not None:
                    return found
        return None
    return walk(root, []) or []


def _remembering_root(compose):
    def composed(self) -> yaml.Node:
        self._root = compose(self)
        return self._root
    return composed


for _loader in (StrictLoader, FastStrictLoader):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
StrictLoader.compose_document = _remembering_root(yaml.SafeLoader.compose_document)
FastStrictLoader.get_single_node = _remembering_root(FastStrictLoader.get_single_node)


def load_strict(path: Path) -> Any:
    text = path.read_text()
    try:
        return yaml.load(text, Loader=FastStrictLoader)
    except yaml.YAMLError:
        return yaml.load(text, Loader=StrictLoader)


@functools.lru_cache(maxsize=None)
def chart_schema() -> dict:
    return json.loads((toolchain.CHART_DIR / "values.schema.json").read_text())


@functools.lru_cache(maxsize=None)
def file_schema() -> dict:
    """The chart's schema for one file of several: every key optional, every other rule kept."""
    schema = copy.deepcopy(chart_schema())

    def drop_required(node: Any) -> None:
        if isinstance(node, dict):
            node.pop("required", None)
            for value in node.values():
                drop_required(value)
        elif isinstance(node, list):
            for value in node:
                drop_required(value)

    drop_required(schema)
    return schema


@functools.lru_cache(maxsize=None)
def all_keys() -> tuple[str, ...]:
    """Every dotted key the chart accepts, for suggesting where a misplaced key belongs."""
    found: list[str] = []

    def walk(node: dict, prefix: str) -> None:
        for name, child in node.get("properties", {}).items():
            key = f"{prefix}{name}"
            found.append(key)
            walk(child, key + ".")

    walk(chart_schema(), "")
    return tuple(found)


def _suggest(path: list, name: str, allowed: list[str]) -> str:
    prefix = ".".join([*map(str, path), ""])
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if close:
        return f"did you mean {prefix}{close[0]}?"
    leaves = {key.rsplit(".", 1)[-1]: key for key in all_keys()}
    close = difflib.get_close_matches(name, list(leaves), n=1, cutoff=0.8)
    if close:
        return f"did you mean {leaves[close[0]]}? (keys are placed as in the chart's values.yaml)"
    return f"the keys allowed here are: {', '.join(allowed)}"


def _schema_at(path: list) -> dict:
    node = chart_schema()
    for part in path:
        node = node.get("properties", {}).get(part, {}) if isinstance(part, str) else node.get("items", {})
    return node


def _describe(error: jsonschema.ValidationError) -> tuple[str, str]:
    """(key, message with the fix) for one schema error."""
    path = list(error.absolute_path)
    key = ".".join(str(p) for p in path)
    if error.validator == "additionalProperties":
        allowed = sorted(_schema_at(path).get("properties", {}))
        unknown = [k for k in error.instance if k not in allowed]
        messages = []
        for name in unknown:
            full = ".".join([*map(str, path), name])
            messages.append((full, f"unknown key; {_suggest(path, name, allowed)}"))
        return messages[0]
    if error.validator == "type":
        expected = error.validator_value
        hint = ""
        if isinstance(error.instance, str) and "integer" in str(expected):
            hint = f"; write {error.instance.strip()} without quotes" if error.instance.strip().isdigit() else ""
        elif isinstance(error.instance, float) and "integer" in str(expected) and error.instance.is_integer():
            hint = f"; write {int(error.instance)} (a whole number)"
        return key, f"{json.dumps(error.instance)} is not of type {expected}{hint}"
    if error.validator == "enum":
        choices = ", ".join(json.dumps(c) for c in error.validator_value)
        return key, f"{json.dumps(error.instance)} is not one of {choices}"
    if error.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bounds = _schema_at(list(error.absolute_path))
        low = (f"above {bounds['exclusiveMinimum']}" if "exclusiveMinimum" in bounds
               else f"from {bounds['minimum']}" if "minimum" in bounds else "")
        high = (f"below {bounds['exclusiveMaximum']}" if "exclusiveMaximum" in bounds
                else f"up to {bounds['maximum']}" if "maximum" in bounds else "")
        return key, f"{json.dumps(error.instance)} is out of range: allowed {' '.join(filter(None, (low, high)))}"
    if error.validator == "pattern" and key.endswith("image.tag"):
        return key, f"{json.dumps(error.instance)} is not a pinned vLLM release; use a tag such as v0.11.0 (never latest)"
    if error.validator == "pattern":
        rule = _schema_at(path).get("description", "")
        return key, f"{json.dumps(error.instance)} does not match {error.validator_value}" + (f" ({rule})" if rule else "")
    return key, f"{json.dumps(error.instance)}: {error.message}"


# JSON Schema counts 4.0 as an integer; helm's Go template then renders "4.0" where vLLM and
# Kubernetes expect 4. A whole-number field must be written as a whole number.
StrictTypes = jsonschema.validators.extend(
    jsonschema.Draft7Validator,
    type_checker=jsonschema.Draft7Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)),
)


def check_values_data(environment: str, label: str, data: Any) -> Iterator[FileProblem]:
    """Schema problems of one chart-values file (model file or an environment's global block)."""
    if data is None:
        return
    if not isinstance(data, dict):
        yield FileProblem(environment, label, "", "must be a YAML mapping of chart values")
        return
    for (parent, child), canonical in MISPLACED.items():
        if isinstance(data.get(parent), dict) and child in data[parent]:
            yield FileProblem(environment, label, f"{parent}.{child}",
                              f"is not read; move it to the top-level key {canonical} "
                              f"(where the seeds' model templates put it)")
    validator = StrictTypes(file_schema())
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        if list(error.absolute_path)[-1:] in ([c] for _, c in MISPLACED):
            continue
        key, message = _describe(error)
        yield FileProblem(environment, label, key, message)


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(toolchain.ROOT))
    except ValueError:
        return str(path)


def load_file(environment: str, path: Path) -> tuple[Any, list[FileProblem]]:
    """Parse one YAML file strictly: syntax errors and duplicated keys become problems."""
    label = _relative(path)
    try:
        return load_strict(path), []
    except DuplicateKey as duplicate:
        return None, [FileProblem(environment, label, duplicate.key,
                                  f"appears twice (lines {duplicate.first_line} and {duplicate.second_line}); "
                                  f"YAML keeps only the last one silently: delete one")]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        context, start = getattr(error, "context", None), getattr(error, "context_mark", None)
        if context and start:
            problem += f" ({context} at line {start.line + 1}, column {start.column + 1})"
        if problem == "mapping values are not allowed here":
            problem += ": a key above lacks its colon, or a value holding ': ' needs quotes"
        located = start or mark
        key = key_at_line(path.read_text(), located.line) if located else ""
        return None, [FileProblem(environment, label, key, f"is not valid YAML: {where}{problem}")]


def key_at_line(text: str, line: int) -> str:
    """Dotted key of a block-style YAML line, from the indentation of the lines above (for messages)."""
    stack: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines()[:line + 1]):
        # a bare word counts as a key: it is usually one whose colon is missing
        found = re.match(r"^([ \t]*)([A-Za-z0-9_][A-Za-z0-9_./-]*)[ \t]*(:|$)", raw)
        if not found:
            continue
        indent = len(found.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, found.group(2)))
    return ".".join(key for _, key in stack)


def check_environment_files(environment: str, only: set[Path] | None = None) -> list[FileProblem]:
    """Every values file of an environment, checked on its own (syntax, duplicates, schema)."""
    env_dir = toolchain.ENVIRONMENTS_DIR / environment
    problems: list[FileProblem] = []
    env_values = env_dir / "values.yaml"
    if env_values.exists() and (only is None or env_values in only):
        data, found = load_file(environment, env_values)
        problems += found
        if isinstance(data, dict) and "global" in data:
            # Only `global` reaches the chart; the rest are helmfile's enable flags.
            problems += list(check_values_data(environment, _relative(env_values), {"global": data["global"]}))
    for category in sorted(p for p in env_dir.iterdir() if p.is_dir()) if env_dir.exists() else []:
        for path in sorted(category.glob("*.y*ml")):
            if only is not None and path not in only:
                continue
            data, found = load_file(environment, path)
            problems += found
            if not found:
                problems += list(check_values_data(environment, _relative(path), data))
    return problems
