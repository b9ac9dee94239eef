"""Semantic diff of rendered manifests: per object, the fields that differ, with old -> new values.

Objects are matched by kind and name, never by position in the manifest. Lists of named items
(containers, env, ports, volumes) are matched by name, and a command line (`args`) by flag, so an
inserted flag shows as one added flag rather than every later argument shifting. Strings holding
JSON (dashboards, vLLM's --kv-transfer-config) are compared as JSON.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import re
from typing import Any, Iterable

import yaml

from . import render as harness


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


ABSENT = _Absent()


@dataclasses.dataclass(frozen=True)
class Change:
    path: str
    old: Any = ABSENT
    new: Any = ABSENT

    @property
    def kind(self) -> str:
        return "added" if self.old is ABSENT else "removed" if self.new is ABSENT else "changed"

    def as_dict(self) -> dict:
        out: dict = {"path": self.path, "change": self.kind}
        if self.old is not ABSENT:
            out["old"] = self.old
        if self.new is not ABSENT:
            out["new"] = self.new
        return out

    def __str__(self) -> str:
        if self.kind == "added":
            return f"+ {self.path}: {show(self.new)}"
        if self.kind == "removed":
            return f"- {self.path}: {show(self.old)}"
        return f"~ {self.path}: {show(self.old)} → {show(self.new)}"


@dataclasses.dataclass(frozen=True)
class ObjectDiff:
    kind: str
    name: str
    status: str  # added, removed, changed
    changes: tuple[Change, ...] = ()

    def as_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "status": self.status,
                "changes": [c.as_dict() for c in self.changes]}


@dataclasses.dataclass(frozen=True)
class ReleaseDiff:
    release: str
    status: str  # added, removed, changed, unchanged
    objects: tuple[ObjectDiff, ...] = ()

    def as_dict(self) -> dict:
        return {"release": self.release, "status": self.status, "objects": [o.as_dict() for o in self.objects]}


class Argument(str):
    """A command-line word: every one is a string, so it prints bare."""


def show(value: Any) -> str:
    if isinstance(value, Argument):
        return str(value)
    if isinstance(value, str):
        return value if _reads_as_string(value) else json.dumps(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return json.dumps(value)


def _reads_as_string(value: str) -> bool:
    """True when printing the string bare cannot be mistaken for a number, bool, null or blank."""
    if not value or value != value.strip() or "\n" in value:
        return False
    try:
        return isinstance(yaml.safe_load(value), str)
    except yaml.YAMLError:
        return False


def _named(items: list) -> bool:
    names = [item.get("name") for item in items if isinstance(item, dict)]
    return bool(items) and len(names) == len(items) and None not in names and len(set(names)) == len(names)


def _command_line(items: list) -> dict | None:
    """['serve-path', '--tp', '4', '--flag'] -> {'[0]': 'serve-path', '--tp': '4', '--flag': True}.

    None when the list is not a command line or repeats a flag (then positions are compared)."""
    if not items or not all(isinstance(item, str) for item in items) or not any(i.startswith("--") for i in items):
        return None
    out: dict = {}
    index = 0
    position = 0
    while index < len(items):
        item = items[index]
        if item.startswith("--"):
            flag, has_value, inline = item.partition("=")
            if flag in out:
                return None
            if has_value:
                out[flag] = Argument(inline)
            elif index + 1 < len(items) and not items[index + 1].startswith("--"):
                out[flag] = Argument(items[index + 1])
                index += 1
            else:
                out[flag] = True
        else:
            out[f"[{position}]"] = Argument(item)
            position += 1
        index += 1
    return out


def _as_json(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return ABSENT
    return ABSENT


def join(path: str, key: object) -> str:
    """`spec` + `replicas` -> `spec.replicas`; keys holding dots or slashes (labels, resources) in brackets."""
    key = str(key)
    if re.fullmatch(r"[A-Za-z0-9_-]+", key):
        return f"{path}.{key}" if path else key
    return f'{path}[{json.dumps(key)}]'


def diff_values(old: Any, new: Any, path: str = "") -> list[Change]:
    """Leaf-level changes between two parsed YAML values."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        changes = []
        for key in list(old) + [k for k in new if k not in old]:
            changes += diff_values(old.get(key, ABSENT), new.get(key, ABSENT), join(path, key))
        return changes
    if isinstance(old, list) and isinstance(new, list):
        if _named(old) and _named(new):
            return _diff_keyed({i["name"]: i for i in old}, {i["name"]: i for i in new}, path)
        old_cli, new_cli = _command_line(old), _command_line(new)
        if old_cli is not None and new_cli is not None:
            return _diff_keyed(old_cli, new_cli, path)
        if len(old) == len(new):
            changes = []
            for index, (a, b) in enumerate(zip(old, new)):
                changes += diff_values(a, b, f"{path}[{index}]")
            return changes
        return [Change(path, old, new)]
    old_json, new_json = _as_json(old), _as_json(new)
    if old_json is not ABSENT and new_json is not ABSENT:
        return diff_values(old_json, new_json, path + "{json}")
    if old is ABSENT and isinstance(new, dict) and new:
        return [c for key, value in new.items() for c in diff_values(ABSENT, value, join(path, key))]
    if new is ABSENT and isinstance(old, dict) and old:
        return [c for key, value in old.items() for c in diff_values(value, ABSENT, join(path, key))]
    return [Change(path, old, new)]


def _diff_keyed(old: dict, new: dict, path: str) -> list[Change]:
    changes = []
    for key in list(old) + [k for k in new if k not in old]:
        a, b = old.get(key, ABSENT), new.get(key, ABSENT)
        # An item that exists on one side only reads best whole, on one line.
        changes += [Change(f"{path}[{key}]", a, b)] if a is ABSENT or b is ABSENT else diff_values(a, b, f"{path}[{key}]")
    return changes


def object_key(document: dict) -> tuple[str, str]:
    return document.get("kind", "?"), (document.get("metadata") or {}).get("name", "?")


def diff_objects(old_documents: Iterable[dict], new_documents: Iterable[dict]) -> list[ObjectDiff]:
    old = {object_key(d): d for d in old_documents}
    new = {object_key(d): d for d in new_documents}
    diffs = []
    for key in list(old) + [k for k in new if k not in old]:
        kind, name = key
        if key not in new:
            diffs.append(ObjectDiff(kind, name, "removed"))
        elif key not in old:
            diffs.append(ObjectDiff(kind, name, "added"))
        else:
            changes = diff_values(old[key], new[key])
            if changes:
                diffs.append(ObjectDiff(kind, name, "changed", tuple(changes)))
    return diffs


def diff_releases(old: dict[str, list[dict]], new: dict[str, list[dict]]) -> list[ReleaseDiff]:
    """Release name -> documents, on each side; releases in neither order are compared in old's order."""
    diffs = []
    for name in list(old) + [n for n in new if n not in old]:
        if name not in new:
            diffs.append(ReleaseDiff(name, "removed", tuple(ObjectDiff(*object_key(d), "removed") for d in old[name])))
        elif name not in old:
            diffs.append(ReleaseDiff(name, "added", tuple(ObjectDiff(*object_key(d), "added") for d in new[name])))
        else:
            objects = diff_objects(old[name], new[name])
            diffs.append(ReleaseDiff(name, "changed" if objects else "unchanged", tuple(objects)))
    return diffs


def format_text(diffs: list[ReleaseDiff], old_label: str, new_label: str) -> str:
    """The readable form: one block per release, one line per changed field. A change repeated in
    several objects (a label on every object) is printed once, with the objects it applies to."""
    lines = []
    for release in diffs:
        if release.status == "unchanged":
            lines.append(f"= {release.release}: no difference")
            continue
        if release.status in ("added", "removed"):
            where = new_label if release.status == "added" else old_label
            kinds = ", ".join(sorted({o.kind for o in release.objects}))
            lines.append(f"{'+' if release.status == 'added' else '-'} {release.release}: only in {where} "
                         f"({len(release.objects)} objects: {kinds})")
            continue
        lines.append(f"~ {release.release}: {old_label} → {new_label}")
        changed = [o for o in release.objects if o.status == "changed"]
        seen = collections.Counter(str(c) for o in changed for c in o.changes)
        shared = [line for line, count in seen.items() if count > 1]
        for line in shared:
            holders = [o.kind for o in changed if any(str(c) == line for c in o.changes)]
            both = [o for o in release.objects if o.status != "added" and o.status != "removed"]
            lines.append(f"    every object ({len(holders)})" if len(holders) == len(both) and len(both) == len(changed)
                         else f"    {len(holders)} objects ({', '.join(holders)})")
            lines.append(f"      {line}")
        for obj in release.objects:
            if obj.status == "changed":
                own = [str(c) for c in obj.changes if str(c) not in shared]
                if own:
                    lines.append(f"    {obj.kind}/{obj.name}")
                    lines += [f"      {line}" for line in own]
            else:
                where = new_label if obj.status == "added" else old_label
                lines.append(f"  {'+' if obj.status == 'added' else '-'} {obj.kind}/{obj.name} (only in {where})")
    return "\n".join(lines)


def diff_environments(env_a: str, env_b: str, release: str | None = None, on_render=None) -> list[ReleaseDiff]:
    """Semantic diff of every installed release (or one) between two environments' renders."""
    sides = []
    for env in (env_a, env_b):
        rels = [r for r in harness.releases(env) if release is None or r.name == release]
        sides.append({r.release.name: r.documents for r in harness.render_all(rels, on_render)})
    return diff_releases(*sides)
