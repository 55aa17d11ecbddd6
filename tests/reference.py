"""The schema tier's validators: upstream CRDs, Kubernetes core schemas and chart values (../shared/reference).

A mocked Pulumi run accepts any dictionary as a custom resource or as Helm values;
these helpers hold the stack's objects to the real schemas, strictly: a field the
schema does not declare is an error here, because the API server would prune it
silently (and Helm would ignore an unknown values key just as silently).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.prerequisites import missing

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"

# Maps that are `{}` (or free-form) in a chart's values.yaml, where any key may be set. Listed one by one:
# everywhere else a key must already exist in values.yaml.
FREE_FORM_VALUES: dict[str, frozenset[str]] = {
    "external-secrets": frozenset(
        {
            "commonLabels",
            "crds.annotations",
            "deploymentAnnotations",
            "extraArgs",
            "nodeSelector",
            "podAnnotations",
            "podLabels",
            "resources",
        }
    ),
    "secrets-store-csi-driver": frozenset(
        {
            "commonLabels",
            "linux.daemonsetAnnotations",
            "linux.nodeSelector",
            "linux.podAnnotations",
            "linux.podLabels",
        }
    ),
    "vault": frozenset(
        {
            "csi.pod.annotations",
            "csi.pod.extraLabels",
            "csi.pod.nodeSelector",
            "csi.resources",
            "injector.annotations",
            "injector.extraEnvironmentVars",
            "injector.extraLabels",
            "injector.nodeSelector",
            "injector.resources",
        }
    ),
}


def require_reference() -> Path:
    """The reference folder; a missing one fails the test, saying where it belongs (see tests/prerequisites.py)."""
    if not REFERENCE.is_dir():
        missing(
            f"schema reference data ({REFERENCE})",
            "the upstream CRDs and chart values belong in ../shared/reference beside the project (see its README)",
        )
    return REFERENCE


# --- custom resources ------------------------------------------------------------


@cache
def _crds() -> dict[tuple[str, str], dict[str, Any]]:
    """(group, kind) -> CRD, for every CRD file in the reference."""
    crds: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted((require_reference() / "crds").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                crds[(doc["spec"]["group"], doc["spec"]["names"]["kind"])] = doc
    return crds


def crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The strict openAPIV3Schema of ``kind`` at ``api_version`` (which must be a served version)."""
    group, _, version = api_version.rpartition("/")
    crd = _crds().get((group, kind))
    if crd is None:
        raise AssertionError(f"no CRD for {kind} in group {group!r} under {REFERENCE / 'crds'}")
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            if not entry.get("served", False):
                raise AssertionError(f"{kind} {api_version}: the CRD does not serve version {version}")
            return strict_schema(entry["schema"]["openAPIV3Schema"], root=True)
    served = [e["name"] for e in crd["spec"]["versions"]]
    raise AssertionError(f"{kind}: the CRD has no version {version!r} (it has {served})")


def strict_schema(schema: Mapping[str, Any], root: bool = False) -> dict[str, Any]:
    """A structural schema as the API server applies it: an undeclared field is an error, not pruned.

    Object schemas with ``properties`` get ``additionalProperties: false`` unless they declare
    ``additionalProperties`` or ``x-kubernetes-preserve-unknown-fields``. ``allOf``/``anyOf``/
    ``oneOf``/``not`` branches are value validations in Kubernetes, not structure, so they are left
    as they are. ``nullable`` and ``x-kubernetes-int-or-string`` become JSON-schema types.
    """
    out = copy.deepcopy(dict(schema))
    if root:
        out.setdefault("properties", {})
        out["properties"].update(
            {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                # Only the parts a builder sets: labels, annotations, etc. are the API server's business.
                "metadata": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "namespace": {"type": "string"}},
                    "required": ["name"],
                },
            }
        )
        out["type"] = "object"
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["type"] = ["integer", "string"]
    if out.get("nullable") and "type" in out:
        out["type"] = [*([out["type"]] if isinstance(out["type"], str) else out["type"]), "null"]
    props = out.get("properties")
    if isinstance(props, dict):
        out["properties"] = {k: (p if (root and k == "metadata") else strict_schema(p)) for k, p in props.items()}
        if "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    if isinstance(out.get("items"), dict):
        out["items"] = strict_schema(out["items"])
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = strict_schema(out["additionalProperties"])
    return out


_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("byte", raises=(binascii.Error, ValueError))
def _is_base64(value: object) -> bool:
    # The API server decodes `format: byte` fields (e.g. a SecretStore's caBundle) as standard base64.
    if isinstance(value, str):
        base64.b64decode(value, validate=True)
    return True


def validate_custom_resource(obj: Mapping[str, Any]) -> None:
    """Validate a custom resource against its CRD's schema; AssertionError lists every error by JSON path."""
    require_reference()
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        raise AssertionError(f"apiVersion and kind must be strings, got {api_version!r}, {kind!r}")
    schema = crd_schema(api_version, kind)
    validator = jsonschema.Draft7Validator(schema, format_checker=_FORMATS)
    _raise(f"{kind} {obj.get('metadata', {}).get('name')!r}", validator.iter_errors(obj))


def validate_core_object(obj: Mapping[str, Any]) -> None:
    """Validate a core Kubernetes object in kubernetes-validate's strict mode at its newest Kubernetes version."""
    try:
        kubernetes_validate.validate(dict(obj), kubernetes_validate.latest_version(), strict=True)
    except kubernetes_validate.ValidationError as error:
        what = f"{obj.get('kind')} {obj.get('metadata', {}).get('name')!r}"
        raise AssertionError(f"{what} does not match its schema:\n  {error.json_path}: {error.message}") from None
    except kubernetes_validate.SchemaNotFoundError as error:
        raise AssertionError(error.message) from None


# --- chart values ------------------------------------------------------------------


@cache
def chart_defaults(chart: str) -> dict[str, Any]:
    path = require_reference() / "charts" / chart / "values.yaml"
    if not path.is_file():
        raise AssertionError(f"no values.yaml for chart {chart!r} under {REFERENCE / 'charts'}")
    return yaml.safe_load(path.read_text()) or {}


def check_chart_values(chart: str, values: Mapping[str, Any]) -> None:
    """Every key path ``values`` sets exists in the chart's values.yaml (or lies in a listed free-form map),
    and values merged over values.yaml pass the chart's values.schema.json when it has one."""
    require_reference()
    defaults = chart_defaults(chart)
    free_form = FREE_FORM_VALUES.get(chart, frozenset())
    errors = list(_unknown_keys(values, defaults, (), free_form))
    if errors:
        raise AssertionError(f"chart {chart} values: " + "; ".join(errors))
    schema_path = REFERENCE / "charts" / chart / "values.schema.json"
    if schema_path.is_file():
        schema = json.loads(schema_path.read_text())
        merged = _merge(defaults, values)
        _raise(f"chart {chart} values (values.schema.json)", _schema_validator(schema).iter_errors(merged))


def _unknown_keys(
    values: Mapping[str, Any], defaults: Any, path: tuple[str, ...], free_form: frozenset[str]
) -> Iterator[str]:
    for key, value in values.items():
        here = (*path, str(key))
        dotted = ".".join(here)
        if ".".join(path) in free_form:
            continue
        if not isinstance(defaults, Mapping) or key not in defaults:
            yield f"{dotted}: not a key of values.yaml"
            continue
        default = defaults[key]
        if isinstance(value, Mapping):
            if isinstance(default, Mapping):
                yield from _unknown_keys(value, default, here, free_form)
            elif default is not None:
                yield f"{dotted}: a map, but values.yaml has {type(default).__name__} {default!r}"


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base.get(key), value)
        return merged
    return copy.deepcopy(override)


def _schema_validator(schema: Mapping[str, Any]) -> jsonschema.protocols.Validator:
    # vault's values.schema.json names "https://json-schema.org/draft-07/schema#", which jsonschema does not know
    # (it registers the http:// URI), so the draft is picked from the URI's text rather than looked up.
    uri = str(schema.get("$schema", ""))
    cls: Any = jsonschema.Draft7Validator
    if "2020-12" in uri:
        cls = jsonschema.Draft202012Validator
    elif "2019-09" in uri:
        cls = jsonschema.Draft201909Validator
    return cls(schema)  # type: ignore[no-any-return]


def _raise(what: str, errors: Iterator[jsonschema.ValidationError]) -> None:
    found = sorted(errors, key=lambda e: (e.json_path, e.message))
    if found:
        lines = "\n".join(f"  {e.json_path}: {e.message}" for e in found)
        raise AssertionError(f"{what} does not match its schema:\n{lines}")
