"""The vaultk8s component provider: the SDK's inferred schema, completed from the package's one home per fact.

``pulumi.provider.experimental`` infers the schema from the args TypedDicts (names, types,
attribute docstrings). Two facts it cannot see are added here, each from where it lives:

- ``secret: true`` on every field ``args.SECRET_FIELDS`` names (the database password), so other
  languages' SDKs mark it secret too;
- each optional field's default, from its model field (the one home of every default), as the
  schema's ``default`` and at the end of the description; durations in the text they are given in.

The package version is ``components.__version__``, the project's version.
"""

import dataclasses
import inspect
import json
import typing
from enum import Enum
from typing import Any

from pulumi.provider.experimental.component import ComponentProvider

from . import args as a
from . import model as m
from .durations import format_duration
from .spec import camel

PACKAGE = "vaultk8s"

# Each args type and the model types that hold its fields' defaults (a field of the same name).
ARGS_MODELS: dict[type, tuple[type, ...]] = {
    a.SecretRefArgs: (m.SecretRef,),
    a.DatabaseCredentialArgs: (m.DatabaseCredential,),
    a.WorkloadArgs: (m.Workload,),
    a.ClusterArgs: (m.Cluster, m.KubernetesAuthSpec),
    a.VaultArgs: (m.VaultServer,),
    a.GeneratedSecretArgs: (m.GeneratedSecret,),
    a.KvMountArgs: (m.KvMount,),
    a.DatabaseRoleArgs: (m.DatabaseRole,),
    a.DatabaseStaticRoleArgs: (m.DatabaseStaticRole,),
    a.DatabaseArgs: (m.Database,),
    a.ExternalSecretsArgs: (m.ExternalSecretsSettings,),
    a.CsiArgs: (m.CsiSettings,),
    a.AgentInjectorArgs: (m.AgentInjectorSettings,),
    a.AuditDeviceArgs: (m.AuditDevice,),
    a.KubernetesAuthArgs: (m.KubernetesAuthSpec,),
    a.JwtAuthArgs: (m.JwtAuthSpec,),
    a.WorkloadAccessArgs: (m.AuthBinding,),
    a.ExternalSecretsOperatorArgs: (m.ExternalSecretsSettings,),
    a.SecretsStoreCsiArgs: (m.CsiSettings,),
    a.VaultAgentInjectorArgs: (m.AgentInjectorSettings,),
}
ALSO: dict[tuple[type, str], Any] = {(a.ClusterArgs, "auth_method"): m.DEFAULT_AUTH_METHOD}
"""Defaults that are no model field of their own name (the auth method picks the auth model)."""


def _plain_default(typed: type, name: str) -> Any:
    """The default the model gives a left-out field, as the schema states it; None when it has none to state."""
    if (typed, name) in ALSO:
        value: Any = ALSO[(typed, name)]
    else:
        found = [
            f for model in ARGS_MODELS.get(typed, ()) for f in dataclasses.fields(model) if f.name == name and f.init
        ]
        if not found or found[0].default is dataclasses.MISSING:
            return None
        value = found[0].default
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and _annotation(typed, name) is str:
        return format_duration(value) if value else None  # a duration: 0 means "never", no default to state
    if isinstance(value, int | str) and value != "":
        return value
    return None  # "" or () derive from another field: the description says how


def _annotation(typed: type, name: str) -> Any:
    hint = typed.__annotations__[name]
    while typing.get_origin(hint) in (typing.NotRequired, typing.Required):
        hint = typing.get_args(hint)[0]
    return hint


def complete_schema(schema: dict[str, Any], components: list[type]) -> dict[str, Any]:
    """``schema`` with secret fields marked and model defaults stated (see the module docstring)."""
    targets: list[tuple[type, dict[str, Any]]] = []
    for component in components:
        typed = inspect.get_annotations(component.__init__)["args"]  # type: ignore[misc]
        resource = schema["resources"][f"{PACKAGE}:index:{component.__name__}"]
        targets.append((typed, resource.get("inputProperties", {})))
    for token, definition in schema.get("types", {}).items():
        typed = getattr(a, token.rsplit(":", 1)[-1], None)
        if isinstance(typed, type) and typing.is_typeddict(typed):
            targets.append((typed, definition.get("properties", {})))
    for typed, properties in targets:
        for name in typed.__annotations__:
            prop = properties.get(camel(name))
            if prop is None:
                continue
            if name in a.SECRET_FIELDS.get(typed, ()):
                prop["secret"] = True
            default = _plain_default(typed, name)
            if default is not None:
                prop["default"] = default
                shown = json.dumps(default) if isinstance(default, bool) else default
                prop["description"] = f"{prop.get('description', '').rstrip()} Default: `{shown}`.".lstrip()
    return schema


class VaultK8sProvider(ComponentProvider):
    """The SDK's component provider, serving the completed schema."""

    def __init__(self, components: list[type], version: str) -> None:
        super().__init__(components, PACKAGE, version=version)  # type: ignore[arg-type]
        self.schema = json.dumps(complete_schema(json.loads(self.schema or "{}"), components))
