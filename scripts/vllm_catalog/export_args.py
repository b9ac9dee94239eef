#!/usr/bin/env python3
"""Write every rendered `vllm serve` command line, grouped by vLLM version, for the full check.

Usage: export_args.py OUTPUT_DIR  ->  OUTPUT_DIR/<version>.json = {"<env>/<release>": [args...]}
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

from vllm_models import render as harness
from vllm_models import verify
from vllm_models.vllm_args import catalog_version


def main() -> int:
    output = Path(sys.argv[1])
    output.mkdir(parents=True, exist_ok=True)
    by_version: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for env in harness.environments():
        for rel in harness.model_releases(env):
            rendered = harness.render(rel)
            version = catalog_version(verify.image_version(rendered.container()))
            by_version[version][f"{env}/{rel.name}"] = verify.serve_command(rendered)
    for path in output.glob("*.json"):
        path.unlink()
    for version, releases in sorted(by_version.items()):
        (output / f"{version}.json").write_text(json.dumps(releases, indent=2))
        print(f"{version}: {len(releases)} release(s) -> {output / (version + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
