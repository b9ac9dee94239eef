"""Build vLLM's real `vllm serve` parser on a machine without a GPU.

Shared by introspect.py and verify_args.py; runs inside the venv made by
generate.sh. vLLM picks its platform at import time and finds no CUDA here,
so we hand it the CPU platform before anything asks. No vLLM file is changed.

vLLM moves things between releases; each lookup below tries every place a
catalogued version keeps it (newest last) and says where it found it:

- FlexibleArgumentParser: vllm.utils (<= 0.11.0), vllm.utils.argparse_utils (>= 0.11.1)
- make_arg_parser / validate_parsed_serve_args: vllm.entrypoints.openai.cli_args
  (<= 0.28.0), vllm.entrypoints.launchers.cli_args (0.29.0-0.32.0),
  vllm.entrypoints.common.cli_args (0.33.0); never vllm.entrypoints.*.run_batch,
  whose make_arg_parser builds the `vllm run-batch` parser
- ToolParserManager: vllm.entrypoints.openai.tool_parsers (<= 0.13.0), vllm.tool_parsers (>= 0.13.0)
"""
from __future__ import annotations

import importlib
import os
import warnings

# Keep vLLM's import-time chatter (and the missing vllm._C warning: the
# parser never needs the compiled ops) out of the output.
os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
warnings.filterwarnings("ignore")

# Where each name has lived, oldest first.
LOCATIONS = {
    "FlexibleArgumentParser": ("vllm.utils", "vllm.utils.argparse_utils"),
    "make_arg_parser": ("vllm.entrypoints.openai.cli_args", "vllm.entrypoints.launchers.cli_args",
                        "vllm.entrypoints.common.cli_args"),
    "validate_parsed_serve_args": ("vllm.entrypoints.openai.cli_args", "vllm.entrypoints.launchers.cli_args",
                                   "vllm.entrypoints.common.cli_args"),
    "ToolParserManager": ("vllm.entrypoints.openai.tool_parsers", "vllm.tool_parsers"),
    "ReasoningParserManager": ("vllm.reasoning",),
}
FOUND: dict[str, str] = {}  # name -> "module.name" it was imported from


def find(name: str):
    """`name` from the first module in LOCATIONS that has it (ImportError lists the tries)."""
    errors = []
    for module_name in LOCATIONS[name]:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # Only "this module does not exist" moves on; a missing dependency
            # deeper down is a real problem and is reported as such.
            if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                errors.append(f"{module_name}: {exc}")
                continue
            raise
        if hasattr(module, name):
            FOUND[name] = f"{module_name}.{name}"
            return getattr(module, name)
        errors.append(f"{module_name} has no {name}")
    raise ImportError(f"cannot find {name}: " + "; ".join(errors))


def force_cpu_platform() -> None:
    import vllm.platforms as platforms
    from vllm.platforms.cpu import CpuPlatform

    platforms._current_platform = CpuPlatform()


def registry_names(manager, eager: str) -> list[str]:
    """Names a parser registry (ToolParserManager, ReasoningParserManager) resolves.

    Newer vLLMs register most parsers lazily (name -> module path, imported on
    first use), so the eager dict alone misses them.
    """
    names = set(getattr(manager, eager, {}) or {})
    names |= set(getattr(manager, "lazy_parsers", {}) or {})
    return sorted(names)


def build_parsers():
    """(top, serve): the `vllm` parser and its `serve` subparser.

    Built as vllm/entrypoints/cli/main.py does, minus importing
    vllm.entrypoints.cli.serve, which pulls in the whole API server (uvloop,
    engine core, ...) only to call make_arg_parser. Full checks must call
    top.parse_args(["serve", ...]): the top-level FlexibleArgumentParser is
    where vLLM rewrites underscores, -O<n> and dotted JSON keys, and where it
    rejects (or, from 0.11.1 on, moves and warns about) `--model` given to
    `vllm serve`.
    """
    force_cpu_platform()
    make_arg_parser = find("make_arg_parser")
    flexible = find("FlexibleArgumentParser")

    top = flexible(prog="vllm", description="vLLM CLI")
    sub = top.add_subparsers(required=False, dest="subparser")
    serve = sub.add_parser("serve", usage="vllm serve [model_tag] [options]")
    make_arg_parser(serve)
    return top, serve
