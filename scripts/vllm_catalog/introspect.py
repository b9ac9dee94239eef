#!/usr/bin/env python3
"""Write the argument/metric catalog of the installed vLLM as JSON.

Runs inside the throwaway venv made by generate.sh (vllm installed with
--no-deps beside a CPU torch). It reads vLLM's *real* `vllm serve` parser so
the committed catalog cannot drift from what the server accepts.

    python introspect.py --out src/vllm_models/data/vllm/v0.11.0.json
"""
from __future__ import annotations

import argparse
import ast
import datetime
import json
import os
import platform
import sys
from pathlib import Path

from _vllm_cpu import FOUND, build_parsers, find, force_cpu_platform, registry_names

GENERATED_BY = "make generate-vllm-catalog VLLM={version}"

# Modules that only the V0 LLMEngine uses. Both catalogued versions run the
# V1 engine by default, so metrics defined only here are never exported.
V0_METRIC_MODULE_PREFIXES = ("vllm.engine.",)

PROMETHEUS_KINDS = ("histogram", "counter", "gauge", "summary", "info")


def _type_names(fn) -> list[str]:
    """Qualified names of an argparse type and of callables it closes over.

    vLLM wraps types (optional_type(json.loads), parse_type(...)), so the
    interesting name often sits in the closure.
    """
    names, todo, seen = [], [fn], set()
    while todo:
        f = todo.pop()
        if f is None or id(f) in seen:
            continue
        seen.add(id(f))
        names.append(getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or repr(f))
        for cell in getattr(f, "__closure__", None) or ():
            try:
                contents = cell.cell_contents
            except ValueError:
                continue
            if callable(contents):
                todo.append(contents)
    return names


def _accepts(fn, value: str):
    try:
        return True, fn(value)
    except BaseException:  # noqa: BLE001 - argparse types raise anything
        return False, None


def json_mode(fn) -> str | None:
    """How a flag's type treats JSON, found by calling it.

    "always": the value must be JSON; "always-or-none": JSON, or ""/"None"
    for null; "when-braced": a {...} value must be JSON, anything else is
    kept as a plain string. None: not a JSON flag.
    """
    if fn is None or fn in (str, int, float, bool):
        return None
    names = " ".join(_type_names(fn)).lower()
    by_name = any(k in names for k in ("json", "loads", "parse_dataclass", "dict"))
    ok_obj, parsed = _accepts(fn, "{}")
    by_trial = ok_obj and parsed is not None and not isinstance(parsed, (str, int, float))
    if not (by_name or by_trial):
        return None
    if _accepts(fn, "plain-text-not-json")[0]:
        return "when-braced"
    ok_none, none_val = _accepts(fn, "None")
    if ok_none and none_val is None:
        return "always-or-none"
    return "always"


def json_object(fn, mode: str | None) -> bool:
    """True when the flag takes a JSON object only (a config dataclass)."""
    if mode is None:
        return False
    return not _accepts(fn, "1")[0] and not _accepts(fn, "[]")[0]


def value_type(fn) -> str | None:
    """A short name for simple scalar types the fast checker can verify."""
    names = _type_names(fn) if fn is not None else []
    head = names[0] if names else None
    if head in ("int", "float", "str", "bool"):
        return head
    if head and head.startswith("optional_type") and len(names) > 1 and names[1] in ("int", "float", "str"):
        return "optional_" + names[1]
    if any("human_readable_int" in n for n in names):
        return "human_readable_int"
    return None


def negative_options(action) -> set[str]:
    """Spellings of a boolean flag that turn it off: --no-x (BooleanOptionalAction);
    also --disable-x for --enable-x and back (vLLM's EnableDisableAction, >= 0.33)."""
    if hasattr(action, "negative_option_strings"):
        return set(action.negative_option_strings)
    if isinstance(action, argparse.BooleanOptionalAction):
        return {o for o in action.option_strings if o.startswith("--no-")}
    return set()


def describe_flags(parser, deprecated_actions) -> tuple[dict, dict | None]:
    """Every option string the parser accepts. vLLM >= 0.33 registers some that
    its help hides (--no-enable-x beside --enable-x/--disable-x): they are in
    parser._option_string_actions but not in action.option_strings."""
    flags, positional = {}, None
    accepted: dict[int, list[str]] = {}
    for option, action in parser._option_string_actions.items():
        accepted.setdefault(id(action), []).append(option)
    for action in parser._actions:
        nargs = action.nargs
        if not action.option_strings:
            positional = {
                "dest": action.dest,
                "nargs": None if nargs is None else repr(nargs),
                "help": (action.help or "").strip() or None,
            }
            continue
        help_text = action.help if isinstance(action.help, str) else ""
        deprecated = (
            action in deprecated_actions
            or bool(getattr(action, "deprecated", False))
            or "[DEPRECATED]" in help_text
        )
        mode = json_mode(action.type)
        entry = {
            "dest": action.dest,
            "takes_value": nargs != 0,
            "nargs": None if nargs is None else repr(nargs),
            "choices": None if action.choices is None else [str(c) for c in action.choices],
            "json": mode is not None,
            "json_mode": mode,
            "json_object": json_object(action.type, mode),
            "type": value_type(action.type),
            # vLLM 0.33's EnableDisableAction (--enable-x/--disable-x) is a
            # BooleanOptionalAction: named so, consumers treat it as one;
            # action_class keeps the real name, negative/hidden say more.
            "action": ("BooleanOptionalAction" if isinstance(action, argparse.BooleanOptionalAction)
                       else type(action).__name__),
            "action_class": type(action).__name__,
            "deprecated": deprecated,
        }
        negative = negative_options(action)
        for option in accepted.get(id(action), action.option_strings):
            flags[option] = {**entry, "negative": option in negative,
                             "hidden": option not in action.option_strings}
    return dict(sorted(flags.items())), positional


def tool_call_parsers() -> list[str]:
    """Names --tool-call-parser accepts: eager and (>= 0.13) lazily registered ones."""
    return registry_names(find("ToolParserManager"), "tool_parsers")


def reasoning_parsers() -> list[str]:
    """Names --reasoning-parser accepts (argparse choices up to 0.11; the registry after)."""
    return registry_names(find("ReasoningParserManager"), "reasoning_parsers")


def quantization_methods() -> list[str]:
    """`--quantization` has no argparse choices; vLLM checks it at startup."""
    from vllm.model_executor.layers.quantization import QUANTIZATION_METHODS

    return sorted(QUANTIZATION_METHODS)


def attention_backends() -> list[str]:
    """Attention backend names: VLLM_ATTENTION_BACKEND (an env var up to 0.14) or
    --attention-backend takes them. The enum moved: vllm.platforms.interface._Backend
    (<= 0.12), vllm.attention.backends.registry (0.11.1-0.13),
    vllm.v1.attention.backends.registry (>= 0.14)."""
    import importlib

    for module, name in (("vllm.v1.attention.backends.registry", "AttentionBackendEnum"),
                         ("vllm.attention.backends.registry", "AttentionBackendEnum"),
                         ("vllm.platforms.interface", "_Backend")):
        try:
            enum = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        FOUND["attention_backends"] = f"{module}.{name}"
        return sorted(enum.__members__)
    raise ImportError("no attention backend enum found")


def env_vars() -> list[str]:
    import vllm.envs

    return sorted(vllm.envs.environment_variables)


def probe_model_flag(top) -> dict:
    """What `vllm serve --model X` does: ValueError up to 0.11.0; from 0.11.1 the
    parser moves X to the positional model and logs a deprecation warning."""
    import contextlib
    import io
    import logging

    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logger = logging.getLogger("vllm")
    handler, old_level = Keep(level=logging.WARNING), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            ns = top.parse_args(["serve", "--model", "probe/model"])
    except ValueError as exc:
        return {"accepted": False, "message": str(exc)}
    except SystemExit:
        return {"accepted": False, "message": "argparse error"}
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    warning = next((r for r in records if "--model" in r), None)
    return {"accepted": True, "model_tag": getattr(ns, "model_tag", None),
            "deprecated": warning is not None, "message": warning}


def json_safe(value):
    """A flag default as JSON: plain values as they are, anything else as repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)) and all(v is None or isinstance(v, (bool, int, float, str)) for v in value):
        return list(value)
    if isinstance(value, dict) and not value:
        return {}
    return repr(value)


def flag_facts(parser, flags: dict) -> dict:
    """Facts the chart needs per version, read off the real parser."""
    by_option = {opt: action for action in parser._actions for opt in action.option_strings}

    def about(flag):
        action = by_option.get(flag)
        if action is None:
            return {"exists": False}
        return {"exists": True, "default": json_safe(action.default),
                "help": " ".join((action.help or "").split()) or None}

    multi_node = ["--nnodes", "--node-rank", "--master-addr", "--master-port", "--headless"]
    data_parallel = sorted(f for f in flags if f.startswith("--data-parallel-"))
    offload = ["--kv-offloading-size", "--kv-offloading-backend"]
    return {
        "shutdown_timeout": about("--shutdown-timeout"),
        "reasoning_parser_flag": about("--reasoning-parser"),
        "multi_node": {f: f in flags for f in multi_node} | {"data_parallel_flags": data_parallel},
        "kv_offloading": {
            "flags": {f: about(f) | ({"choices": flags[f]["choices"]} if f in flags else {}) for f in offload},
            "connectors": kv_connectors(),
        },
    }


def kv_connectors() -> list[str] | None:
    """Names --kv-transfer-config's kv_connector takes (KVConnectorFactory's registry)."""
    try:
        from vllm.distributed.kv_transfer.kv_connector.factory import KVConnectorFactory
    except Exception:  # noqa: BLE001 - the factory's imports vary; a missing list is not fatal
        return None
    return sorted(getattr(KVConnectorFactory, "_registry", {}) or {})


def deprecations(parser, deprecated_actions) -> dict:
    """Every deprecated flag with the reason vLLM gives (its help text)."""
    found = {}
    for action in parser._actions:
        help_text = action.help if isinstance(action.help, str) else ""
        if (action in deprecated_actions or getattr(action, "deprecated", False)
                or "deprecated" in help_text.lower()):
            for option in action.option_strings:
                found[option] = " ".join(help_text.split()) or None
    return dict(sorted(found.items()))


# ---------------------------------------------------------------- metrics ---

def _callee_kind(call: ast.Call) -> str | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    lowered = name.lower()
    for kind in PROMETHEUS_KINDS:
        if kind in lowered:
            return kind
    return None


def _render(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        # Keep placeholders visible so a reader sees the name is templated.
        return "".join(
            v.value if isinstance(v, ast.Constant) else "{" + ast.unparse(v.value) + "}"
            for v in node.values
        )
    return None


def _names_assigned(scope: ast.AST, var: str) -> list[str]:
    """String literals assigned to `var` anywhere in `scope` (a function)."""
    found = []
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == var:
                    text = _render(node.value)
                    if text is not None:
                        found.append(text)
    return found


def scan_metrics(package_dir: Path) -> tuple[dict, list[str]]:
    metrics: dict[str, dict] = {}
    v0_only: dict[str, dict] = {}
    for path in sorted(package_dir.rglob("*.py")):
        module = "vllm." + ".".join(path.relative_to(package_dir).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (SyntaxError, UnicodeDecodeError):
            continue
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            kind = _callee_kind(call)
            if kind is None:
                continue
            name_node = next((k.value for k in call.keywords if k.arg == "name"), None)
            if name_node is None and call.args:
                name_node = call.args[0]
            if name_node is None:
                continue
            if isinstance(name_node, ast.Name):
                scope = call
                while scope in parents and not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    scope = parents[scope]
                names = _names_assigned(scope, name_node.id)
            else:
                names = [t for t in [_render(name_node)] if t is not None]
            doc_node = next((k.value for k in call.keywords if k.arg == "documentation"), None)
            doc = _render(doc_node) if doc_node is not None else None
            hidden, node = False, call
            while node in parents:
                node = parents[node]
                if isinstance(node, ast.If) and "show_hidden_metrics" in ast.unparse(node.test):
                    hidden = True
            for name in names:
                if not name.startswith("vllm:"):
                    continue
                target = v0_only if module.startswith(V0_METRIC_MODULE_PREFIXES) else metrics
                entry = target.setdefault(name, {"type": kind, "modules": [], "hidden": hidden,
                                                 "deprecated": bool(doc and "DEPRECATED" in doc)})
                if module not in entry["modules"]:
                    entry["modules"].append(module)
    for name, entry in metrics.items():
        entry["series"] = exposed_series(name, entry["type"])
    dropped = sorted(set(v0_only) - set(metrics))
    return dict(sorted(metrics.items())), dropped


def exposed_series(name: str, kind: str) -> list[str]:
    """Series prometheus_client exposes for a metric (multiprocess mode)."""
    if kind == "counter":
        return [name.removesuffix("_total") + "_total"]
    if kind == "histogram":
        return [name + s for s in ("_bucket", "_sum", "_count")]
    if kind == "summary":
        return [name + s for s in ("_sum", "_count")]
    if kind == "info":
        return [name + "_info"]
    return [name]


# ------------------------------------------------------------------- main ---

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, type=Path)
    opts = ap.parse_args()

    force_cpu_platform()
    import torch
    import transformers
    import vllm

    top, parser = build_parsers()
    deprecated_actions = set(getattr(find("FlexibleArgumentParser"), "_deprecated", set()))
    flags, positional = describe_flags(parser, deprecated_actions)
    metrics, dropped_v0 = scan_metrics(Path(vllm.__file__).parent)
    version = vllm.__version__
    model_flag = probe_model_flag(top)

    catalog = {
        "provenance": {
            "vllm_version": version,
            "torch_version": torch.__version__,
            "python_version": platform.python_version(),
            "generated_by": GENERATED_BY.format(version=version),
            "generated_on": datetime.date.today().isoformat(),
            "parser": f"{FOUND['make_arg_parser']} on a `serve` "
                      "subparser, platform forced to CpuPlatform",
            "flag_count": sum(1 for f in flags if f.startswith("--")),
            "metrics_engine": "v1",
            "metrics_note": "Names found by scanning the vllm package with ast for "
                            "prometheus_client Gauge/Counter/Histogram calls (and vLLM's "
                            "_gauge_cls/_counter_cls/_histogram_cls wrappers). Only metrics "
                            "the V1 engine defines are kept; hidden=true ones are exported only "
                            "with --show-hidden-metrics-for-version.",
            "metrics_dropped_v0_only": dropped_v0,
        },
        "serve_rejects_model_flag": not model_flag["accepted"],
        "positional": positional,
        "flags": flags,
        "tool_call_parsers": tool_call_parsers(),
        "quantization_methods": quantization_methods(),
        "attention_backends": attention_backends(),
        "env_vars": env_vars(),
        "metrics": metrics,
        # Added for the chart's newer features; older consumers ignore them.
        "serve_model_flag": model_flag,
        "reasoning_parsers": reasoning_parsers(),
        "deprecations": deprecations(parser, deprecated_actions),
        "flag_defaults": {f: json_safe(a.default) for a in parser._actions for f in a.option_strings
                          if f.startswith("--")},
        **flag_facts(parser, flags),
    }
    catalog["flag_defaults"] = dict(sorted(catalog["flag_defaults"].items()))
    catalog["provenance"]["transformers_version"] = transformers.__version__
    catalog["provenance"]["imports"] = dict(sorted(FOUND.items()))
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(catalog, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {opts.out}: {catalog['provenance']['flag_count']} --flags, "
          f"{len(flags)} option strings, {len(catalog['tool_call_parsers'])} tool parsers, "
          f"{len(metrics)} metrics", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    sys.exit(main())
