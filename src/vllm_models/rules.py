"""The rule data of charts/vllm-models/rules.yaml, as Python reads it (the chart and the policies read the same file)."""
from __future__ import annotations

import functools

import yaml

from . import toolchain


@functools.lru_cache(maxsize=None)
def data() -> dict:
    """rules.yaml's `rules` mapping. Shared: do not mutate it."""
    return yaml.safe_load((toolchain.CHART_DIR / "rules.yaml").read_text())["rules"]
