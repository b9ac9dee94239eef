"""The main job, `make render ENV=<env>`: its stdout is the environment's manifests and nothing else.

Users pipe it (`make render ENV=staging > staging.yaml`, `| kubectl apply -f -`): setup, progress and
verify's report go to stderr. Every document on stdout is a Kubernetes object valid against the pinned
Kubernetes version's schemas (CRDs from the vendored schemas).
"""
from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from vllm_models import kube_validate, toolchain
from vllm_models import render as harness


@pytest.mark.slow
@pytest.mark.parametrize("env", ["development"])
def test_make_render_prints_only_kubernetes_objects_each_valid_against_the_pinned_schemas(env):
    result = subprocess.run(["make", "--no-print-directory", "render", f"ENV={env}"], cwd=toolchain.ROOT,
                            capture_output=True, text=True, env=dict(os.environ, MAKEFLAGS=""))
    assert result.returncode == 0, f"make render ENV={env} exited {result.returncode}:\n{result.stderr}"
    documents = [doc for doc in yaml.load_all(result.stdout, Loader=harness.ManifestLoader) if doc is not None]
    assert documents, f"make render ENV={env} printed no manifests"
    strays = [doc for doc in documents if not (isinstance(doc, dict) and {"apiVersion", "kind", "metadata"} <= set(doc))]
    assert strays == [], f"make render ENV={env} printed something that is not a Kubernetes object: {strays[:3]}"
    problems = [f"{doc['kind']}/{doc['metadata'].get('name')}: {problem}" for doc in documents
                for problem in kube_validate.validate(doc, toolchain.kube_version())]
    assert problems == []
    expected = sum(len(harness.render(rel).documents) for rel in harness.releases(env))
    assert len(documents) == expected, f"{len(documents)} documents on stdout, the releases render {expected}"
