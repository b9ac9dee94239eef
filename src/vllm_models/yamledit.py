"""Textual YAML edits that keep comments and layout: the model files and values.yaml are read by people.

Each edit changes only the lines it must and re-reads the result to prove no other key moved;
`Edits` writes several files together and undoes them together when a later check refuses.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Callable

import yaml

from . import render as harness
from . import toolchain


def environment_values_text(env: str) -> str:
    return (toolchain.ENVIRONMENTS_DIR / env / "values.yaml").read_text()


class EditError(Exception):
    """An edit that cannot be made textually without moving other keys; the message says what to set by hand."""


_ENTRY = re.compile(r"^(?P<indent> *)(?P<key>[^\s#'\"-][^:#]*?|'[^']*'|\"[^\"]*\")\s*:(?P<sep>\s*)(?P<value>[^#]*?)"
                    r"(?P<comment>\s+#.*)?$")


def _content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _entries(lines: list[str], start: int, end: int, indent: int) -> list[tuple[str, int]]:
    found = []
    for index in range(start, end):
        line = lines[index].rstrip("\n")
        if _content(line) and _indent(line) == indent:
            match = _ENTRY.match(line)
            if match:
                found.append((match.group("key").strip("'\""), index))
    return found


def _last_content(lines: list[str], start: int, end: int) -> int:
    """Index just after the last content line of [start, end), or start."""
    last = start
    for index in range(start, end):
        if _content(lines[index]):
            last = index + 1
    return last


def set_key(text: str, path: list[str], value: str, *, label: str) -> str:
    """Set `path` to the scalar `value` in block-style YAML text, adding missing keys at the end of their
    parent; every other line is kept byte for byte. The result is re-read to prove nothing else moved."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    start, end, indent = 0, len(lines), 0
    for depth, key in enumerate(path):
        entries = _entries(lines, start, end, indent)
        match = [i for i, (k, _) in enumerate(entries) if k == key]
        if not match:
            at = _last_content(lines, start, end)
            new = []
            for offset, part in enumerate(path[depth:]):
                last = depth + offset == len(path) - 1
                new.append(f"{' ' * (indent + 2 * offset)}{part}:{' ' + value if last else ''}\n")
            if depth == 0 and at > 0:
                new.insert(0, "\n")
            lines[at:at] = new
            break
        position = match[0]
        line_index = entries[position][1]
        span_end = entries[position + 1][1] if position + 1 < len(entries) else end
        parsed = _ENTRY.match(lines[line_index].rstrip("\n"))
        if depth == len(path) - 1:
            if _last_content(lines, line_index + 1, span_end) > line_index + 1:
                raise EditError(f"{label}: {'.'.join(path)} holds a block, not a value")
            comment = parsed.group("comment") or ""
            lines[line_index] = f"{parsed.group('indent')}{parsed.group('key')}: {value}{comment}\n"
            break
        if parsed.group("value").strip():
            raise EditError(f"{label}: {'.'.join(path[:depth + 1])} is written in flow style "
                            f"({parsed.group('value').strip()}); write it as an indented block")
        children = [i for i in range(line_index + 1, span_end) if _content(lines[i])]
        start, end = line_index + 1, span_end
        indent = _indent(lines[children[0]]) if children else indent + 2
    result = "".join(lines)
    expected = copy.deepcopy(yaml.safe_load(text) or {})
    node = expected
    for key in path[:-1]:
        if node.get(key) is None:
            node[key] = {}
        node = node[key]
        if not isinstance(node, dict):
            raise EditError(f"{label}: {key} is not a mapping")
    node[path[-1]] = yaml.safe_load(value)
    if yaml.safe_load(result) != expected:
        raise EditError(f"{label}: setting {'.'.join(path)} textually would change other keys; "
                        f"set it by hand to {value}")
    return result


def _top_level(text: str, key: str) -> tuple[list[str], list, list[tuple[int, int]]]:
    """The text's lines (the last one ended), its top-level entries, and (position, line) of `key` among them."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    entries = _entries(lines, 0, len(lines), 0)
    found = [(i, index) for i, (k, index) in enumerate(entries) if k == key]
    return lines, entries, found


def append_item(text: str, key: str, item: dict, *, label: str) -> str:
    """Append `item` to the top-level list `key` (block style, or an empty `[]`), keeping everything else."""
    rendered = yaml.safe_dump([item], sort_keys=False, default_flow_style=False)
    lines, entries, found = _top_level(text, key)
    if not found:
        lines += ["\n", f"{key}:\n", *[f"  {line}" for line in rendered.splitlines(keepends=True)]]
    else:
        position, index = found[0]
        parsed = _ENTRY.match(lines[index].rstrip("\n"))
        span_end = entries[position + 1][1] if position + 1 < len(entries) else len(lines)
        if parsed.group("value").strip() == "[]":
            lines[index] = f"{parsed.group('indent')}{parsed.group('key')}:{parsed.group('comment') or ''}\n"
        elif parsed.group("value").strip():
            raise EditError(f"{label}: {key} is written in flow style; write it as an indented block list")
        at = _last_content(lines, index + 1, span_end)
        lines[at:at] = [f"  {line}" for line in rendered.splitlines(keepends=True)]
    result = "".join(lines)
    expected = copy.deepcopy(yaml.safe_load(text) or {})
    expected[key] = (expected.get(key) or []) + [item]
    if yaml.safe_load(result) != expected:
        raise EditError(f"{label}: appending to {key} textually would change other keys; add the entry by hand")
    return result


_ANCHOR = re.compile(r"^\s*[^\s#][^:#]*:\s*&(?P<name>[\w-]+)")  # `key: &name ...`


def remove_items(text: str, key: str, drop: Callable[[dict], bool], *, label: str) -> str:
    """Remove the items of the top-level block list `key` for which drop(item) is true, keeping everything else.
    An anchor a removed item defines moves, with its value, to the first alias of it that stays."""
    lines = text.splitlines(keepends=True)
    entries = _entries(lines, 0, len(lines), 0)
    found = [(i, index) for i, (k, index) in enumerate(entries) if k == key]
    data = yaml.safe_load(text) or {}
    if not found or not isinstance(data.get(key), list):
        return text
    position, index = found[0]
    span_end = entries[position + 1][1] if position + 1 < len(entries) else len(lines)
    starts = [i for i in range(index + 1, span_end) if re.match(r"^\s*- ", lines[i]) and _indent(lines[i]) <= 2]
    bounds = list(zip(starts, [*starts[1:], _last_content(lines, index + 1, span_end)]))
    if len(bounds) != len(data[key]):
        raise EditError(f"{label}: the items of {key} are not one block each; remove the entry by hand")
    items = [(item, [lines[i] for i in range(a, b)]) for item, (a, b) in zip(data[key], bounds)]
    kept = []
    moving: dict[str, list[str]] = {}  # anchor name -> its definition lines, waiting for an alias
    for item, block in items:
        if drop(item):
            for offset, line in enumerate(block):
                anchor = _ANCHOR.match(line.rstrip("\n"))
                if anchor:
                    value_end = next((j for j in range(offset + 1, len(block))
                                      if _content(block[j]) and _indent(block[j]) <= _indent(line)), len(block))
                    moving[anchor.group("name")] = block[offset:value_end]
            continue
        for name in list(moving):
            alias = next((j for j, line in enumerate(block) if re.search(rf":\s*\*{re.escape(name)}\s*$", line)), None)
            if alias is not None:
                definition = moving.pop(name)
                shift = _indent(block[alias]) - _indent(definition[0])
                moved = [(" " * shift + line) if shift >= 0 else line[-shift:] for line in definition]
                moved[0] = block[alias][:_indent(block[alias])] + definition[0].lstrip(" ")
                block = block[:alias] + moved + block[alias + 1:]
        kept.append(block)
    if not kept:  # an empty block list would read as null
        parsed = _ENTRY.match(lines[index].rstrip("\n"))
        lines[index] = f"{parsed.group('indent')}{parsed.group('key')}: []{parsed.group('comment') or ''}\n"
    result = "".join(lines[:bounds[0][0]] + [line for block in kept for line in block] + lines[bounds[-1][1]:])
    expected = copy.deepcopy(data)
    expected[key] = [item for item in data[key] if not drop(item)]
    try:
        same = yaml.safe_load(result) == expected
    except yaml.YAMLError:  # an alias whose anchor went with a removed entry
        same = False
    if not same:
        raise EditError(f"{label}: removing from {key} textually would change other entries; remove it by hand")
    return result


def set_block(text: str, key: str, value: dict, *, label: str) -> str:
    """Set the top-level mapping `key` to `value`, written as a block where the old one stood (or at the end);
    comments inside the old block go with it, every other line is kept byte for byte."""
    rendered = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False, width=120)
    lines, entries, found = _top_level(text, key)
    if not found:
        lines += ["\n", rendered]
    else:
        position, index = found[0]
        span_end = entries[position + 1][1] if position + 1 < len(entries) else len(lines)
        lines[index:_last_content(lines, index + 1, span_end)] = [rendered]
    result = "".join(lines)
    expected = copy.deepcopy(yaml.safe_load(text) or {})
    expected[key] = value
    if yaml.safe_load(result) != expected:
        raise EditError(f"{label}: rewriting {key} textually would change other keys; set it by hand")
    return result


def enable(env: str, category: str, name: str) -> tuple[str, list[str]]:
    """The env's values.yaml text with `<category>.models.<name>.enabled: true`, and warnings."""
    label = f"environments/{env}/values.yaml"
    text = environment_values_text(env)
    if "enabled" not in ((yaml.safe_load(text) or {}).get(category) or {}):
        # A category with no flag yet is one this environment never ran: adding a model turns it on.
        text = set_key(text, [category, "enabled"], "true", label=label)
    new = set_key(text, [category, "models", name, "enabled"], "true", label=label)
    warnings = []
    category_flag = ((yaml.safe_load(new) or {}).get(category) or {}).get("enabled")
    if category_flag is not True:
        warnings.append(f"{label}: {category}.enabled is {category_flag!r}, so no {category} model is installed in "
                        f"{env}; set {category}.enabled: true")
    return new, warnings


class Edits:
    """Files to write together, undone together if a check after writing refuses the result."""

    def __init__(self) -> None:
        self.texts: dict[Path, str] = {}
        self.originals: dict[Path, str | None] = {}

    def set(self, relative: str, text: str) -> None:
        self.texts[toolchain.ROOT / relative] = text

    def apply(self) -> None:
        for path, text in self.texts.items():
            self.originals[path] = path.read_text() if path.exists() else None
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        harness.fleet_data.cache_clear()

    def rollback(self) -> None:
        for path, original in self.originals.items():
            if original is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(original)
        self.originals.clear()
        harness.fleet_data.cache_clear()
