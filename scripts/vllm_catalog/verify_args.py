#!/usr/bin/env python3
"""Full check of container args against vLLM's real `vllm serve` parser.

Runs inside a version's venv (see verify.sh). Input: a JSON file mapping a
release id to its container args, either args-only or led by the command
(`["vllm", "serve", ...]` or `["serve", ...]`). Prints one OK/FAIL line per
release and exits 1 if any fails.

Beyond argparse it runs the checks vLLM makes before loading a model:
validate_parsed_serve_args (e.g. --enable-auto-tool-choice needs
--tool-call-parser) and the tool/reasoning parser and quantization name
checks the API server does at startup.
"""
from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

from _vllm_cpu import build_parsers, find, registry_names


def strip_command(args: list[str]) -> list[str]:
    if args[:2] == ["vllm", "serve"]:
        return args[2:]
    if args[:1] == ["serve"]:
        return args[1:]
    return args


def startup_checks(ns) -> None:
    """What vLLM checks at server startup, before it touches the model."""
    from vllm.model_executor.layers.quantization import QUANTIZATION_METHODS

    find("validate_parsed_serve_args")(ns)
    # Mirrors api_server.validate_api_server_args, which we cannot import
    # without the server's runtime deps. Newer vLLMs register most parsers
    # lazily (name -> module), so both registries count.
    tool_parsers = registry_names(find("ToolParserManager"), "tool_parsers")
    reasoning_parsers = registry_names(find("ReasoningParserManager"), "reasoning_parsers")
    if ns.enable_auto_tool_choice and not getattr(ns, "tool_parser_plugin", None) \
            and ns.tool_call_parser not in tool_parsers:
        raise KeyError(f"invalid tool call parser: {ns.tool_call_parser} "
                       f"(chose from {{ {','.join(tool_parsers)} }})")
    structured = getattr(ns, "structured_outputs_config", None)
    reasoning = getattr(ns, "reasoning_parser", None) or getattr(structured, "reasoning_parser", None)
    if reasoning and reasoning not in reasoning_parsers:
        raise KeyError(f"invalid reasoning parser: {reasoning}")
    if ns.quantization and ns.quantization not in QUANTIZATION_METHODS:
        raise ValueError(f"Unknown quantization method: {ns.quantization}. "
                         f"Must be one of {QUANTIZATION_METHODS}.")


def check(top, args: list[str]) -> str | None:
    """None when vLLM accepts the args, else its error message."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            ns = top.parse_args(["serve", *strip_command(args)])
            startup_checks(ns)
    except SystemExit as exc:
        if exc.code in (0, None):
            return None
        # argparse prints usage, then "prog: error: ..." (pydantic adds lines).
        lines = err.getvalue().splitlines()
        starts = [n for n, line in enumerate(lines) if ": error:" in line]
        tail = lines[starts[-1]:] if starts else lines
        return " | ".join(line.strip() for line in tail if line.strip()) or f"exit {exc.code}"
    except Exception as exc:  # noqa: BLE001 - vLLM raises ValueError/TypeError/KeyError
        return f"{type(exc).__name__}: {exc}"
    return None


def main() -> int:
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} ARGS_JSON", file=sys.stderr)
        return 2
    releases = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    import vllm

    top, _ = build_parsers()
    failed = 0
    for release, args in releases.items():
        error = check(top, [str(a) for a in args])
        if error is None:
            print(f"OK   {release} (vLLM {vllm.__version__})")
        else:
            failed += 1
            print(f"FAIL {release} (vLLM {vllm.__version__}): {error}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
