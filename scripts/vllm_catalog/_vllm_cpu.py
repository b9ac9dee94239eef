"""Build vLLM's real `vllm serve` parser on a machine without a GPU.

Shared by introspect.py and verify_args.py; runs inside the venv made by
generate.sh. vLLM picks its platform at import time and finds no CUDA here,
so we hand it the CPU platform before anything asks. No vLLM file is changed.
"""
from __future__ import annotations

import os
import warnings

# Keep vLLM's import-time chatter (and the missing vllm._C warning: the
# parser never needs the compiled ops) out of the output.
os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
warnings.filterwarnings("ignore")


def force_cpu_platform() -> None:
    import vllm.platforms as platforms
    from vllm.platforms.cpu import CpuPlatform

    platforms._current_platform = CpuPlatform()


def build_parsers():
    """(top, serve): the `vllm` parser and its `serve` subparser.

    Built as vllm/entrypoints/cli/main.py does, minus importing
    vllm.entrypoints.cli.serve, which pulls in the whole API server (uvloop,
    engine core, ...) only to call make_arg_parser. Full checks must call
    top.parse_args(["serve", ...]): the top-level FlexibleArgumentParser is
    where vLLM rewrites underscores, -O<n> and dotted JSON keys, and where it
    rejects `--model` given to `vllm serve`.
    """
    force_cpu_platform()
    from vllm.entrypoints.openai.cli_args import make_arg_parser
    from vllm.utils import FlexibleArgumentParser

    top = FlexibleArgumentParser(prog="vllm", description="vLLM CLI")
    sub = top.add_subparsers(required=False, dest="subparser")
    serve = sub.add_parser("serve", usage="vllm serve [model_tag] [options]")
    make_arg_parser(serve)
    return top, serve
