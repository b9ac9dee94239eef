#!/usr/bin/env python3
"""Regenerate the README parameter table and the schema descriptions of charts/vllm-models from values.yaml (`make generate-docs`).

`--check` changes nothing and exits 1 when either is out of date.
"""
import sys

from vllm_models import chart_docs

if __name__ == "__main__":
    sys.exit(chart_docs.main())
