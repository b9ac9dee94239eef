"""Fast check of `vllm serve` container args against a committed catalog.

The catalogs in data/vllm/ are generated from vLLM's real parser (see
scripts/vllm_catalog/). Importing vLLM itself takes a 2 GB venv and ~15 s, too
slow for every release on every test run, so this module re-implements just
enough of argparse + vLLM's FlexibleArgumentParser to catch the mistakes that
make a pod crash-loop: unknown flags, bad values, bad JSON. The full check
(scripts/vllm_catalog/verify.sh) stays the authority.

It is deliberately stricter than argparse in one way: argparse accepts any
unique prefix of a flag (`--max-model` for `--max-model-len`), which breaks
silently when a later vLLM adds a flag with the same prefix. Here only exact
spellings pass.

Stdlib only.
"""
from __future__ import annotations

import difflib
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

CATALOG_DIR = Path(__file__).parent / "data" / "vllm"

_VERSION_IN_TAG = re.compile(r"^v?(\d+\.\d+\.\d+)(?:$|[-+._])")
# argparse treats these as values, not options (no vLLM flag looks like one).
_NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")
_BOOLEAN_WORD = re.compile(r"^(true|false|yes|no|on|off|1|0)$", re.IGNORECASE)
_BRACED = re.compile(r"(?s)^\s*{.*}\s*$")
_NONE_VALUES = ("", "None")


class CatalogMissing(LookupError):
    """No committed catalog for the vLLM version an image tag names."""


@dataclass(frozen=True)
class ArgProblem:
    flag: str
    problem: str  # a short kind, e.g. "unknown-flag", "bad-json"
    message: str


def catalog_version(tag: str) -> str:
    """X.Y.Z from "0.11.0", "v0.11.0" or "v0.11.0-cu128"."""
    match = _VERSION_IN_TAG.match(tag.strip())
    if not match:
        known = ", ".join(f"v{v}" for v in available_versions()) or "none"
        raise CatalogMissing(
            f"no vLLM catalog for image tag {tag}: the tag names no vX.Y.Z release; "
            f"pin the image to a release tag (catalogs exist for: {known})")
    return match.group(1)


def available_versions() -> list[str]:
    versions = [p.stem[1:] for p in CATALOG_DIR.glob("v*.json")]
    return sorted(versions, key=lambda v: tuple(int(x) for x in v.split(".")))


def load_catalog(version: str) -> dict:
    """The catalog for a version or image tag. Shared: do not mutate it."""
    resolved = catalog_version(version)
    catalog = _load(resolved)
    if catalog is None:
        raise CatalogMissing(
            f"no vLLM catalog for image tag {version}; generate one with "
            f"`make generate-vllm-catalog VLLM={resolved}` and commit "
            f"src/vllm_models/data/vllm/v{resolved}.json")
    return catalog


@functools.lru_cache(maxsize=None)
def _load(version: str) -> dict | None:
    path = CATALOG_DIR / f"v{version}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _is_option(token: str) -> bool:
    return (token.startswith("-") and token != "-" and " " not in token
            and not _NEGATIVE_NUMBER.match(token))


def _normalise(name: str) -> str:
    # vLLM rewrites underscores to dashes in `--` flags up to the first dot.
    if not name.startswith("--"):
        return name
    head, dot, tail = name[2:].partition(".")
    return "--" + head.replace("_", "-") + dot + tail


def _split(token: str) -> tuple[str, str | None]:
    """(flag, explicit value or None) for one option token."""
    # vLLM turns -O3 / -O=3 into the dotted -O.level=3.
    if token.startswith("-O") and len(token) > 2 and token[2] != ".":
        return "-O.level", token[3:] if token[2] == "=" else token[2:]
    name, eq, value = token.partition("=")
    return _normalise(name), (value if eq else None)


class _Checker:
    def __init__(self, catalog: dict):
        self.catalog = catalog
        self.flags: dict = catalog["flags"]
        self.version: str = catalog["provenance"]["vllm_version"]
        self.problems: list[ArgProblem] = []
        self.seen: dict[str, tuple[str, bool]] = {}  # dest -> (first spelling, dotted?)
        self.model: str | None = None
        self.final: dict[str, object] = {}  # dest -> last value given

    def add(self, flag: str, problem: str, message: str) -> None:
        self.problems.append(ArgProblem(flag, problem, message))

    def run(self, args: list[str]) -> list[ArgProblem]:
        args = _strip_command(args)
        plugin = any(_split(a)[0] == "--tool-parser-plugin" for a in args if _is_option(a))
        i = 0
        while i < len(args):
            token, i = args[i], i + 1
            if not _is_option(token):
                self.positional(token)
                continue
            name, value = _split(token)
            if name == "-O" and value is None and i < len(args) and args[i] in ("0", "1", "2", "3"):
                name = "-O.level"
            if "." in name:
                i = self.dotted(name, value, args, i)
                continue
            spec = self.flags.get(name)
            if spec is None:
                self.unknown(name)
                if value is None and self.model is not None and i < len(args) \
                        and not _is_option(args[i]):
                    i += 1  # most likely its value: one problem, not two
                continue
            if spec["action"] == "BooleanOptionalAction":
                self.final[spec["dest"]] = not negative(name, spec)
            self.duplicate(name, spec, dotted=False)
            if name == "--model" and value is None and self.catalog.get("serve_rejects_model_flag"):
                self.add(name, "model-flag",
                         f"--model is rejected by `vllm serve` in vLLM {self.version} "
                         f"(\"you should provide the model as a positional argument\"); "
                         f"pass the model as the first argument after `serve` instead")
            if not spec["takes_value"]:
                if value is not None:
                    self.no_value_expected(name, value)
                elif i < len(args) and not _is_option(args[i]) and _BOOLEAN_WORD.match(args[i]):
                    # Would become the model tag or a stray argument.
                    self.no_value_expected(name, args[i])
                    i += 1
                continue
            values, i = self.take_values(name, spec, value, args, i)
            self.final[spec["dest"]] = values[-1] if values else None
            for v in values:
                self.check_value(name, spec, v, plugin)
        self.cross_checks()
        return self.problems

    def cross_checks(self) -> None:
        # vLLM's validate_parsed_serve_args, run before the model loads.
        if self.final.get("enable_auto_tool_choice") and \
                self.final.get("tool_call_parser") in (None, *_NONE_VALUES):
            self.add("--enable-auto-tool-choice", "missing-flag",
                     f"--enable-auto-tool-choice needs --tool-call-parser in vLLM {self.version}; "
                     f"add --tool-call-parser NAME (one of: "
                     f"{', '.join(self.catalog.get('tool_call_parsers', []))})")

    def positional(self, token: str) -> None:
        if self.model is None:
            self.model = token
            return
        self.add(token, "unexpected-argument",
                 f"unexpected argument {token!r} for vLLM {self.version}: `vllm serve` takes "
                 f"one positional model (already {self.model!r}); drop it or put its flag before it")

    def dotted(self, name: str, value: str | None, args: list[str], i: int) -> int:
        base = name.split(".", 1)[0]
        spec = self.flags.get(base)
        if value is None:
            # vLLM takes the next token as the value, whatever it looks like.
            if i >= len(args):
                self.add(name, "missing-value",
                         f"{name} needs a value in vLLM {self.version}; write {name} VALUE")
            i += 1
        if spec is None:
            self.unknown(base)
        elif not spec["json"]:
            self.add(name, "not-json-flag",
                     f"{name}: {base} is not a JSON flag in vLLM {self.version}, so it takes "
                     f"no dotted keys; write {base} VALUE")
        else:
            self.duplicate(name, spec, dotted=True)
        return i

    def unknown(self, name: str) -> None:
        elsewhere = [v for v in available_versions()
                     if v != self.version and name in load_catalog(v)["flags"]]
        if elsewhere:
            hint = (f"it exists in vLLM {', '.join(elsewhere)}; "
                    f"remove it or use an image of such a version")
        else:
            close = difflib.get_close_matches(name, self.flags, n=1, cutoff=0.6)
            hint = (f"did you mean {close[0]}?" if close
                    else f"remove it (flags: src/vllm_models/data/vllm/v{self.version}.json)")
        self.add(name, "unknown-flag", f"unknown flag {name} for vLLM {self.version}; {hint}")

    def duplicate(self, name: str, spec: dict, dotted: bool) -> None:
        if spec["action"] == "_AppendAction":
            return  # repeating is how an append flag takes several values
        dest = spec["dest"]
        if dest not in self.seen:
            self.seen[dest] = (name, dotted)
            return
        first, first_dotted = self.seen[dest]
        if dotted and first_dotted:
            return  # dotted keys of one JSON flag merge into one value
        spelled = name if first == name else f"{first} and {name}"
        self.add(name, "duplicate",
                 f"{name} sets {dest} again in vLLM {self.version} (given as {spelled}); "
                 f"only the last one counts, so give it once")

    def no_value_expected(self, name: str, value: str) -> None:
        spec = self.flags[name]
        if spec["action"] == "BooleanOptionalAction":
            pair = [flag for flag, other in self.flags.items() if other["dest"] == spec["dest"]
                    and other["action"] == "BooleanOptionalAction" and not other.get("hidden")]
            on = next((flag for flag in pair if not negative(flag, self.flags[flag])), name)
            off = next((flag for flag in pair if negative(flag, self.flags[flag])), f"--no-{on[2:]}")
            fix = f"use {on} to turn it on or {off} to turn it off"
        else:
            fix = f"use {name} alone"
        self.add(name, "unexpected-value",
                 f"{name} takes no value in vLLM {self.version} but got {value!r}; {fix}")

    def take_values(self, name, spec, value, args, i) -> tuple[list[str], int]:
        nargs = spec["nargs"]
        if value is not None:
            return [value], i
        following = []
        while i + len(following) < len(args) and not _is_option(args[i + len(following)]):
            following.append(args[i + len(following)])
        if nargs in (None, "1", "'?'"):
            want = following[:1]
        elif nargs in ("'+'", "'*'"):
            want = following
        else:
            want = following[:int(nargs)]
        if not want and nargs not in ("'?'", "'*'"):
            self.add(name, "missing-value",
                     f"{name} needs a value in vLLM {self.version}; write {name} VALUE")
        return want, i + len(want)

    def check_value(self, name: str, spec: dict, value: str, plugin: bool) -> None:
        optional = (spec.get("type") or "").startswith("optional_")
        if optional and value in _NONE_VALUES:
            return
        named_lists = {"--tool-call-parser": ("tool_call_parsers", "tool call parser"),
                       "--reasoning-parser": ("reasoning_parsers", "reasoning parser"),
                       "--attention-backend": ("attention_backends", "attention backend"),
                       "--quantization": ("quantization_methods", "quantization method")}
        choices, what = spec["choices"], "choice"
        if name == "--reasoning-parser" and value in self.reasoning_off():
            return
        if name in named_lists and not (plugin and name == "--tool-call-parser"):
            key, what = named_lists[name]
            choices = self.catalog.get(key)
        if choices is not None and value not in choices:
            close = difflib.get_close_matches(value, choices, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]}? " if close else ""
            self.add(name, "bad-choice",
                     f"{name} {value} is not a valid {what} for vLLM {self.version}; "
                     f"{hint}choose one of: {', '.join(choices)}")
            return
        if spec["json"]:
            self.check_json(name, spec, value)
            return
        kind = (spec.get("type") or "").removeprefix("optional_")
        try:
            {"int": int, "float": float}.get(kind, str)(value)
        except ValueError:
            example = "2" if kind == "int" else "0.9"
            self.add(name, "bad-value",
                     f"{name} takes {'an integer' if kind == 'int' else 'a number'} "
                     f"in vLLM {self.version} but got {value!r}; write it in digits, e.g. {name} {example}")

    def reasoning_off(self) -> tuple[str, ...]:
        """Values of --reasoning-parser that turn reasoning parsing off, where vLLM's help says so."""
        help_text = (self.catalog.get("reasoning_parser_flag") or {}).get("help") or ""
        return ("", "none") if "`none`" in help_text else ("",)

    def check_json(self, name: str, spec: dict, value: str) -> None:
        mode = spec["json_mode"]
        if mode == "always-or-none" and value in _NONE_VALUES:
            return
        if mode == "when-braced" and not _BRACED.match(value):
            return  # vLLM keeps a non-{...} value as a plain string
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            self.add(name, "bad-json",
                     f"{name} takes JSON in vLLM {self.version} but got {value!r} ({exc}); "
                     f"pass valid JSON (double-quoted keys and strings)")
            return
        if spec.get("json_object") and not isinstance(parsed, dict):
            self.add(name, "bad-json",
                     f"{name} takes a JSON object in vLLM {self.version} but got {value!r}; "
                     f"pass one, e.g. {name} '{{\"key\": 1}}'")


def flags_used(args: list[str]) -> list[str]:
    """The options of a command line in vLLM's canonical spelling (--a_b as --a-b, --f=v as --f), in order."""
    return [_split(token)[0] for token in _strip_command(args) if _is_option(token)]


def negative(name: str, spec: dict) -> bool:
    """Whether a boolean flag turns its setting off: the catalog's `negative` (0.33.0's --disable-x pairs),
    else the argparse convention (--no-x)."""
    return bool(spec["negative"]) if "negative" in spec else name.startswith("--no-")


def _strip_command(args: list[str]) -> list[str]:
    args = [str(a) for a in args]
    if args[:2] == ["vllm", "serve"]:
        return args[2:]
    if args[:1] == ["serve"]:
        return args[1:]
    return args


def check_args(args: list[str], version: str) -> list[ArgProblem]:
    """Problems `vllm serve` (image tag or version `version`) has with `args`.

    `args` are the container args, optionally led by `vllm serve`; the
    positional model tag may appear anywhere, once. An empty list is clean.
    """
    return _Checker(load_catalog(version)).run(list(args))


def check_attention_backend(value: str, version: str) -> list[ArgProblem]:
    """VLLM_ATTENTION_BACKEND is an env var, not a flag, in these versions."""
    catalog = load_catalog(version)
    backends = catalog.get("attention_backends") or []
    if value in backends:
        return []
    close = difflib.get_close_matches(value, backends, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]}? " if close else ""
    return [ArgProblem("VLLM_ATTENTION_BACKEND", "bad-choice",
                       f"VLLM_ATTENTION_BACKEND={value} is not an attention backend of vLLM "
                       f"{catalog['provenance']['vllm_version']}; {hint}choose one of: "
                       f"{', '.join(backends)}")]
