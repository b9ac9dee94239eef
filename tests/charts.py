"""The one way tests reach a render (Airflow's `render_chart`): a chart example or a fleet release,
as it is, with overrides on top, or with its values edited.

    render_chart(example="single-gpu")                                  # the example as a user copies it
    render_chart({"service": {"port": 80}}, example="single-gpu")      # plus an overrides file
    render_chart(example="multi-gpu", edit=lambda v: v.pop("shmSize"))  # a change overrides cannot make
    render_chart(release=("staging", "llms-v2-qwen3-32b"), edit=...)     # a fleet release, its model file edited

An edited fleet release keeps its model file's label, so messages read exactly as a user who made
that edit would see them. Only unedited renders use the on-disk render cache.
"""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import yaml

from vllm_models import chart_examples
from vllm_models import render as harness

Edit = Callable[[dict], object]


def render_chart(values: dict | None = None, *, example: str | None = None,
                 release: tuple[str, str] | harness.Release | None = None, edit: Edit | None = None,
                 show_only: Iterable[str] = (), helm: str = "helm4", kube_version: str | None = None,
                 use_cache: bool | None = None) -> harness.Rendered:
    """Render an example or a release ((environment, name), or a Release a test built); `values` go on top
    as one more values file, `edit` changes the example's file (or the release's model file) first;
    `show_only` keeps only those kinds. Only unedited renders are cached unless `use_cache` says."""
    if (example is None) == (release is None):
        raise TypeError("render_chart needs exactly one of example= or release=")
    pristine = values is None and edit is None if use_cache is None else use_cache
    with tempfile.TemporaryDirectory(prefix="vllm-models-test-") as tmp:
        if release is not None:
            rel = release if isinstance(release, harness.Release) else harness.release(*release)
            if edit is not None:
                rel = edited_release(Path(tmp), rel.environment, rel.name, edit)
            if values is not None:
                rel = _with_overrides(rel, values, Path(tmp))
            rendered = harness.render(rel, helm=helm, kube_version=kube_version, use_cache=pristine)
        else:
            files = [chart_examples.path(example)]
            if edit is not None:
                data = chart_examples.values(example)
                edit(data)
                files = [Path(tmp) / f"{example}.yaml"]
                files[0].write_text(yaml.safe_dump(data, sort_keys=False))
            if values is not None:
                files.append(Path(tmp) / f"{example}-overrides.yaml")
                files[-1].write_text(yaml.safe_dump(values, sort_keys=False))
            rendered = harness.render_values_files(chart_examples.release_name(example), files,
                                                   namespace=chart_examples.NAMESPACE, helm=helm,
                                                   kube_version=kube_version, use_cache=pristine)
    kinds = set(show_only)
    if kinds:
        rendered = dataclasses.replace(rendered, documents=[d for d in rendered.documents if d.get("kind") in kinds])
    return rendered


def edited_release(tmp_path: Path, env: str, name: str, edit: Edit) -> harness.Release:
    """The release as helmfile defines it, with its model file edited by `edit(values_dict)`, unrendered
    (for the fleet rules that read releases). The copy keeps the real file's label."""
    rel = harness.release(env, name)
    sources = list(rel.sources)
    model = sources[-1]
    data = yaml.safe_load(model.path.read_text())
    edit(data)
    path = tmp_path / model.path.name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    sources[-1] = harness.ValuesSource(model.label, data, path)
    return dataclasses.replace(rel, sources=tuple(sources))


def _with_overrides(rel: harness.Release, values: dict, tmp: Path) -> harness.Release:
    path = tmp / "overrides.yaml"
    path.write_text(yaml.safe_dump(values, sort_keys=False))
    return dataclasses.replace(rel, sources=(*rel.sources, harness.ValuesSource(str(path), values, path)))
