"""Validate rendered objects against the official Kubernetes OpenAPI schemas (kubernetes-validate).

Custom resources (ServiceMonitor, PrometheusRule, ScaledObject) are validated against the upstream
CRD schemas kept in data/crds/ (see PROVENANCE.md there).

kubernetes-validate's own `validate()` reloads the multi-megabyte definitions file on every call;
here each (version, kind, apiVersion) validator is built once per process and reused, with the
same schema files and the same strict mode (unknown fields are errors).
"""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import jsonschema
import kubernetes_validate.utils as kv
from referencing import Registry, Resource


CRD_DIR = Path(__file__).parent / "data" / "crds"


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
        try:  # custom resources (ServiceMonitor, ...): the upstream CRD schemas in data/crds
            return crd_violations(document)
        except LookupError:
            return [f"{name}: {missing}"]
    problems = []
    for error in sorted(checker.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join(str(p) for p in error.absolute_path) or "(root)"
        problems.append(f"{name}: {path}: {error.message} (Kubernetes {kv.major_minor(version)} schema)")
    return problems


def _strict(schema: dict) -> dict:
    """A copy of a CRD schema that refuses unknown fields, as the API server's strict field validation does."""
    strict = dict(schema)
    if "properties" in schema:
        strict["properties"] = {name: _strict(sub) for name, sub in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            strict["additionalProperties"] = False
    if isinstance(schema.get("additionalProperties"), dict):
        strict["additionalProperties"] = _strict(schema["additionalProperties"])
    if isinstance(schema.get("items"), dict):
        strict["items"] = _strict(schema["items"])
    for keyword in ("allOf", "anyOf", "oneOf"):
        if keyword in schema:
            strict[keyword] = [_strict(sub) for sub in schema[keyword]]
    return strict


@functools.lru_cache(maxsize=None)
def crd_validator(api_version: str, kind: str) -> jsonschema.Draft7Validator:
    group, _, version = api_version.rpartition("/")
    path = CRD_DIR / f"{group}_{version}_{kind}.json"
    if not path.exists():
        raise LookupError(f"no CRD schema for {api_version} {kind} in {CRD_DIR} (see its PROVENANCE.md)")
    return jsonschema.Draft7Validator(_strict(json.loads(path.read_text())))


def crd_violations(obj: dict) -> list[str]:
    """Where a custom resource breaks its CRD's schema, one line per error: path, problem."""
    validator = crd_validator(obj["apiVersion"], obj["kind"])
    return [f"{obj['kind']} {obj['metadata']['name']}: {'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
            for error in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))]
