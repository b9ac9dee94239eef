#!/usr/bin/env python3
"""Regenerate the parameter table of charts/vllm-models/README.md from values.yaml (`make generate-docs`).

`--check` changes nothing and exits 1 when the README is out of date.
"""
import sys

from vllm_models import chart_docs

if __name__ == "__main__":
    sys.exit(chart_docs.main())
