"""Validate rendered objects against the official Kubernetes OpenAPI schemas (kubernetes-validate).

kubernetes-validate's own `validate()` reloads the multi-megabyte definitions file on every call;
here each (version, kind, apiVersion) validator is built once per process and reused, with the
same schema files and the same strict mode (unknown fields are errors).
"""
from __future__ import annotations

import functools
import re

import jsonschema
import kubernetes_validate.utils as kv
from referencing import Registry, Resource


class NoSchema(Exception):
    """The pinned schemas have no entry for this apiVersion/kind in this Kubernetes version."""


def supported_minors() -> list[str]:
    """Every Kubernetes minor the installed schemas cover, oldest first (e.g. ['1.25', ...])."""
    return sorted({kv.major_minor(v) for v in kv.all_versions()}, key=lambda v: tuple(map(int, v.split("."))))


@functools.lru_cache(maxsize=None)
def _schema_version(desired: str) -> str:
    minor = kv.major_minor(desired)
    if minor > kv.latest_version():
        raise NoSchema(f"kubernetes-validate has no schemas for Kubernetes {desired} (newest: {kv.latest_version()})")
    return [v for v in kv.all_versions() if kv.major_minor(v) <= minor][-1]


@functools.lru_cache(maxsize=None)
def _definitions(schema_dir: str) -> Resource:
    return Resource.from_contents(kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", schema_dir))


@functools.lru_cache(maxsize=None)
def validator(version: str, api_version: str, kind: str) -> jsonschema.Validator:
    schema_dir = f"v{_schema_version(version)}-local-strict"
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group_version}.json", version)
    except FileNotFoundError:
        raise NoSchema(f"{kind} {api_version} does not exist in Kubernetes {kv.major_minor(version)}") from None
    registry = Resource.from_contents(schema) @ Registry()
    registry = _definitions(schema_dir) @ registry
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def validate(document: dict, version: str) -> list[str]:
    """Problems of one object: "Deployment llms-v2-x: spec.template...: <error>"; [] when valid."""
    name = f"{document.get('kind')} {document.get('metadata', {}).get('name', '?')}"
    try:
        checker = validator(version, document.get("apiVersion", ""), document.get("kind", ""))
    except NoSchema as missing:
        return [f"{name}: {missing}"]
    problems = []
    for error in sorted(checker.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join(str(p) for p in error.absolute_path) or "(root)"
        problems.append(f"{name}: {path}: {error.message} (Kubernetes {kv.major_minor(version)} schema)")
    return problems
