"""The chart's parameter table and its schema's descriptions, generated from the `# --` comments in values.yaml.

A `# --` comment directly above a key documents it. A documented mapping whose own keys carry
no `# --` comment is a block, shown as one row with its whole default (securityContext,
resources); one whose keys are documented is a section, and its keys get the rows. A leaf (a
key whose value is not a mapping with keys) is documented by its own comment or by the block
it sits in; anything else is undocumented, which the tests refuse.

`make generate-docs` rewrites the table between the markers in charts/vllm-models/README.md (the
prose around it is written by hand) and every `description` of values.schema.json (its types, enums
and ranges are written by hand); the tests fail when either drifts from values.yaml.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import yaml

from . import toolchain

VALUES = toolchain.CHART_DIR / "values.yaml"
SCHEMA = toolchain.CHART_DIR / "values.schema.json"
README = toolchain.CHART_DIR / "README.md"
BEGIN = "<!-- BEGIN PARAMETERS: generated from values.yaml by `make generate-docs`; edit values.yaml, not this table -->"
END = "<!-- END PARAMETERS -->"
MARKER = "# --"


@dataclasses.dataclass(frozen=True)
class Key:
    path: tuple[str, ...]
    description: str | None  # text of its `# --` comment; None when it has none
    default: object
    children: tuple["Key", ...]

    @property
    def name(self) -> str:
        return ".".join(self.path)

    @property
    def documented_below(self) -> bool:
        return any(child.description is not None or child.documented_below for child in self.children)

    @property
    def is_block(self) -> bool:
        return self.description is not None and not self.documented_below


def _comment_above(lines: list[str], line: int) -> str | None:
    """The `# --` comment (with its continuation lines) right above a 0-based line, if any."""
    block: list[str] = []
    index = line - 1
    while index >= 0 and lines[index].strip().startswith("#"):
        block.insert(0, lines[index].strip())
        index -= 1
    starts = [i for i, text in enumerate(block) if text.startswith(MARKER)]
    if not starts:
        return None
    first = block[starts[-1]][len(MARKER):].strip()
    rest = [text.lstrip("#").strip() for text in block[starts[-1] + 1:]]
    return " ".join([first, *rest]).strip()


def _keys(node: yaml.MappingNode, lines: list[str], prefix: tuple[str, ...]) -> tuple[Key, ...]:
    keys = []
    for key_node, value_node in node.value:
        path = prefix + (str(key_node.value),)
        children: tuple[Key, ...] = ()
        if isinstance(value_node, yaml.MappingNode):
            children = _keys(value_node, lines, path)
        default = yaml.safe_load(yaml.serialize(value_node))
        keys.append(Key(path, _comment_above(lines, key_node.start_mark.line), default, children))
    return tuple(keys)


def parse(text: str | None = None) -> tuple[Key, ...]:
    """The keys of values.yaml as a tree, in file order, with their `# --` descriptions."""
    text = VALUES.read_text() if text is None else text
    root = yaml.compose(text)
    return _keys(root, text.splitlines(), ()) if isinstance(root, yaml.MappingNode) else ()


def walk(keys: tuple[Key, ...]):
    for key in keys:
        yield key
        yield from walk(key.children)


def rows(keys: tuple[Key, ...]) -> list[Key]:
    """The keys the table shows: documented leaves, blocks and sections, in file order (a block's keys are in its row)."""
    found = []
    for key in keys:
        if key.description is not None:
            found.append(key)
        if not key.is_block:
            found += rows(key.children)
    return found


def undocumented(keys: tuple[Key, ...], covered: bool = False) -> list[str]:
    """Leaves with no `# --` comment of their own and not inside a documented block."""
    missing = []
    for key in keys:
        inside = covered or key.is_block
        if key.children:
            missing += undocumented(key.children, inside)
        elif key.description is None and not inside:
            missing.append(key.name)
    return missing


def schema_node(path: tuple[str, ...], schema: dict | None = None) -> dict | None:
    """The schema entry of a values key, or None when the schema does not declare it."""
    node = json.loads(SCHEMA.read_text()) if schema is None else schema
    for part in path:
        node = node.get("properties", {}).get(part)
        if node is None:
            return None
    return node


def _type(node: dict | None) -> str:
    kind = (node or {}).get("type", "")
    return " or ".join(kind) if isinstance(kind, list) else kind


def _cell(text: str) -> str:
    """Text for a table cell: pipes escaped, and <placeholders> outside code spans kept visible (not HTML)."""
    parts = text.replace("|", "\\|").replace("\n", " ").split("`")
    for index in range(0, len(parts), 2):
        parts[index] = parts[index].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def table(keys: tuple[Key, ...] | None = None, schema: dict | None = None) -> str:
    keys = parse() if keys is None else keys
    schema = json.loads(SCHEMA.read_text()) if schema is None else schema
    lines = ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for key in rows(keys):
        default = "" if key.documented_below else f"`{json.dumps(key.default, separators=(', ', ': '))}`"
        lines.append(f"| `{key.name}` | {_type(schema_node(key.path, schema))} | {_cell(default)} | {_cell(key.description or '')} |")
    return "\n".join(lines)


def render_readme(current: str) -> str:
    """The README with the table between the markers regenerated; the hand-written prose is kept."""
    if BEGIN not in current or END not in current:
        raise ValueError(f"{README.relative_to(toolchain.ROOT)} lacks the markers {BEGIN!r} ... {END!r}")
    head, _, rest = current.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


SCALAR_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"))


def inferred(default: object) -> dict | None:
    """A schema for a new key from its default: scalars and lists by type; a null default says nothing."""
    for kind, name in SCALAR_TYPES:
        if isinstance(default, kind):
            return {"type": name}
    if isinstance(default, list):
        return {"type": "array"}
    if isinstance(default, dict):
        return {"type": "object", "additionalProperties": False, "properties": {}}
    return None


def schema_with_descriptions(schema: dict, keys: tuple[Key, ...] | None = None) -> dict:
    """The schema with each documented key's `description` set from its `# --` comment, and a key new to
    values.yaml declared with the type of its default (refine enums and limits by hand).

    A key whose default is null cannot be typed from it: the tests report it as undeclared, by name."""
    keys = parse() if keys is None else keys
    for key in walk(keys):
        node = schema_node(key.path, schema)
        parent = schema_node(key.path[:-1], schema) if len(key.path) > 1 else schema
        if node is None and parent is not None and "properties" in parent and key.description is not None:
            node = inferred(key.default)
            if node is not None:
                parent["properties"][key.path[-1]] = node
        if key.description is not None and node is not None:
            node["description"] = key.description
    return schema


def schema_text(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generated() -> dict[Path, str]:
    """Every file this module generates, with the text it should hold now."""
    return {README: render_readme(README.read_text()),
            SCHEMA: schema_text(schema_with_descriptions(json.loads(SCHEMA.read_text())))}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    for path, text in generated().items():
        label = path.relative_to(toolchain.ROOT)
        if path.read_text() == text:
            continue
        if argv == ["--check"]:
            print(f"{label} is out of date with values.yaml: run `make generate-docs`", file=sys.stderr)
            return 1
        path.write_text(text)
        print(f"wrote {label}")
    return 0
