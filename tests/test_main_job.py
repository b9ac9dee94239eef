"""The main job, `make render ENV=<env>`: its stdout is the environment's manifests and nothing else.

Users pipe it (`make render ENV=staging > staging.yaml`, `| kubectl apply -f -`): setup, progress and
verify's report go to stderr. Every document on stdout is a Kubernetes object valid against the pinned
Kubernetes version's schemas (CRDs from the vendored schemas). Like `helm template`, it prints the helm
test hooks too and says so on stderr; NO_HOOKS=1 (`render --no-hooks`) leaves them out.
"""
from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from vllm_models import cli, kube_validate, toolchain
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


HOOK = "helm.sh/hook"
FIRST = harness.environments()[0]


def hooks_of(documents: list[dict]) -> list[str]:
    return [f"{doc['kind']} {doc['metadata']['name']}" for doc in documents
            if HOOK in (doc.get("metadata", {}).get("annotations") or {})]


def render_cli(capsys, *flags: str) -> tuple[list[dict], str]:
    code = cli.main(["render", "--env", FIRST, "--no-verify", *flags])
    out, err = capsys.readouterr()
    assert code == 0, f"render --env {FIRST} {' '.join(flags)} exited {code}:\n{err}"
    return [doc for doc in yaml.load_all(out, Loader=harness.ManifestLoader) if doc is not None], err


def test_render_prints_the_helm_test_hooks_as_helm_template_does_and_names_them_on_stderr(capsys):
    rendered = [doc for rel in harness.releases(FIRST) for doc in harness.render(rel).documents]
    expected = hooks_of(rendered)
    assert expected, f"environment {FIRST}: no release renders a helm test hook to check"
    documents, err = render_cli(capsys)
    assert hooks_of(documents) == expected and len(documents) == len(rendered)
    assert f"the manifests include {len(expected)} helm hook(s), as `helm template` prints them" in err, err
    for hook in expected:
        assert f"{hook} ({HOOK}: test)" in err, f"environment {FIRST}: stderr does not name {hook}:\n{err}"
    assert "NO_HOOKS=1" in err


def test_render_without_hooks_prints_every_other_object_and_says_nothing_of_hooks(capsys):
    rendered = [doc for rel in harness.releases(FIRST) for doc in harness.render(rel).documents]
    documents, err = render_cli(capsys, "--no-hooks")
    assert hooks_of(documents) == []
    assert documents == [doc for doc in rendered if not hooks_of([doc])], f"environment {FIRST}: objects differ"
    assert "hook" not in err, err
