"""Apply Vault resources captured from a Pulumi program to a live OpenBao server.

The resources come from a Pulumi program run under the SDK mock engine: each
has a ``type`` token, a ``name`` and the ``inputs`` exactly as the engine
received them (camelCase keys, e.g. ``roleName``, ``boundServiceAccountNames``;
nested *object* types camelCased too, map values untouched). Each resource is
written with the API call(s) the pulumi-vault provider would make, so a live
server can check that the program's configuration actually works.

Mapping rules, shared by all types:

* top-level keys are converted camelCase -> snake_case;
* the keys that identify the resource (they go into the API path) are dropped;
* provider-side-only keys (``disableRemount``, ``allowOverwrite``, ...) and
  ``*WoVersion`` keys are dropped; write-only ``fooWo`` inputs are sent as ``foo``;
* integral floats become ints (the engine turns every number into a float,
  and OpenBao rejects ``60.0`` for TTL/duration fields);
* None values are dropped.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .openbao import VaultClient, VaultError

__all__ = [
    "RESOURCE_SPECS",
    "CapturedResource",
    "Resource",
    "UnsupportedResource",
    "apply_vault_resources",
    "planned_calls",
    "snake_case",
]

Inputs = Mapping[str, Any]
Body = dict[str, Any]

# The Pulumi SDK marks secret values in mock inputs with this signature key.
_SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270"

# Inputs that only steer the provider and have no API field.
_PROVIDER_ONLY = frozenset(
    {
        "disableRemount",
        "allowOverwrite",
        "deleteAllVersions",
        "disableRead",
        "disableBoundClaimsParsing",
        "namespace",  # non-empty values are refused in planned_calls()
    }
)

# Application phases: mounts first, then their configs, policies, roles, the rest.
MOUNT, CONFIG, POLICY, ROLE, OTHER = range(5)


class CapturedResource(Protocol):
    @property
    def type(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def inputs(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Resource:
    """A hand-written (or captured) resource: Pulumi type token, name, camelCase inputs."""

    type: str
    name: str
    inputs: dict[str, Any] = field(default_factory=dict)


class UnsupportedResource(Exception):  # noqa: N818 - the name the test suite uses
    """A ``vault:`` resource (or input) the harness cannot apply faithfully."""

    def __init__(self, type_token: str, name: str, reason: str = "") -> None:
        self.type = type_token
        self.name = name
        detail = reason or f"no mapping for {type_token}; supported: {', '.join(sorted(RESOURCE_SPECS))}"
        super().__init__(f"cannot apply {type_token} {name!r}: {detail}")


def snake_case(key: str) -> str:
    """``oidcDiscoveryCaPem`` -> ``oidc_discovery_ca_pem``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _plain(value: Any) -> Any:
    """Unwrap mock secret markers and turn integral floats into ints, recursively."""
    if isinstance(value, Mapping):
        if value.get(_SECRET_SIG_KEY) == _SECRET_SIG_VALUE and "value" in value:
            return _plain(value["value"])
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _fields(inputs: Inputs, drop: Iterable[str] = ()) -> Body:
    """The snake_cased API fields of ``inputs`` minus ``drop`` (camelCase names)."""
    skip = _PROVIDER_ONLY | set(drop)
    body: Body = {}
    for key, value in inputs.items():
        if key in skip or key.endswith("WoVersion") or value is None:
            continue
        name = key[: -len("Wo")] if key.endswith("Wo") else key
        body[snake_case(name)] = value
    return body


def _only(body: Body, keys: Iterable[str]) -> Body:
    return {k: body[k] for k in keys if k in body}


def _object(value: Any) -> Body:
    """A nested object input (delivered as a dict, or a one-element list of it)."""
    if isinstance(value, list):
        value = value[0] if value else {}
    return _fields(value) if isinstance(value, Mapping) else {}


# -- body builders -------------------------------------------------------------------


def _auth_mount(default_type: str) -> Callable[[Inputs], Body]:
    def build(i: Inputs) -> Body:
        body = _only(_fields(i), ("description", "local"))
        body["type"] = i.get("type") or default_type
        config = _object(i.get("tune"))
        if i.get("identityTokenKey"):
            config["identity_token_key"] = i["identityTokenKey"]
        if config:
            body["config"] = config
        return body

    return build


_AUTH_MOUNT_KEYS = ("path", "type", "description", "local", "tune", "identityTokenKey")
_MOUNT_TOP_LEVEL = ("type", "description", "local", "seal_wrap", "external_entropy_access", "options", "plugin_version")
_MOUNT_RENAMES = {"default_lease_ttl_seconds": "default_lease_ttl", "max_lease_ttl_seconds": "max_lease_ttl"}


def _mount(i: Inputs) -> Body:
    everything = _fields(i, drop=("path",))
    body = _only(everything, _MOUNT_TOP_LEVEL)
    config = {_MOUNT_RENAMES.get(k, k): v for k, v in everything.items() if k not in body}
    if config:
        body["config"] = config
    return body


def _kv_secret(i: Inputs) -> Body:
    raw = i.get("dataJson") if i.get("dataJson") is not None else i.get("dataJsonWo")
    body: Body = {"data": json.loads(raw) if isinstance(raw, str) else (raw or {})}
    options = dict(i.get("options") or {})
    if i.get("cas") is not None:
        options["cas"] = i["cas"]
    if options:
        body["options"] = options
    return body


def _kv_metadata(i: Inputs) -> Body | None:
    """The provider writes customMetadata with a second call; skipped when absent."""
    meta = i.get("customMetadata")
    if isinstance(meta, list):
        meta = meta[0] if meta else None
    if not meta:
        return None
    body = _fields(meta, drop=("data",))
    body["custom_metadata"] = dict(meta.get("data") or {})
    return body


_DATABASE_PLUGINS = ("postgresql", "mysql", "mysqlRds", "mysqlAurora", "mysqlLegacy", "mssql", "oracle", "redis")


def _database_connection(i: Inputs) -> Body:
    """The provider flattens the plugin block (``postgresql={...}``) into the config call's body."""
    body = _fields(i, drop=("backend", "name", *_DATABASE_PLUGINS))
    for plugin in _DATABASE_PLUGINS:
        body.update(_object(i.get(plugin)))
    return body


def _endpoint(i: Inputs) -> Body:
    raw = i.get("dataJson")
    return json.loads(raw) if isinstance(raw, str) else dict(raw or {})


def _without(*keys: str) -> Callable[[Inputs], Body]:
    return lambda i: _fields(i, drop=keys)


def _with(*keys: str) -> Callable[[Inputs], Body]:
    return lambda i: _only(_fields(i), [snake_case(k) for k in keys])


# -- the table -----------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # str.format template over the (defaulted) inputs
    body: Callable[[Inputs], Body | None]  # None: skip this call


@dataclass(frozen=True)
class Spec:
    phase: int
    calls: tuple[Call, ...]
    defaults: Callable[[Inputs], dict[str, Any]] = lambda i: {}


RESOURCE_SPECS: dict[str, Spec] = {
    "vault:index/authBackend:AuthBackend": Spec(
        MOUNT,
        (Call("POST", "sys/auth/{path}", _auth_mount("")),),
        lambda i: {"path": i.get("type")},
    ),
    "vault:jwt/authBackend:AuthBackend": Spec(
        MOUNT,
        (
            Call("POST", "sys/auth/{path}", _auth_mount("jwt")),
            Call("POST", "auth/{path}/config", _without(*_AUTH_MOUNT_KEYS)),
        ),
        lambda i: {"path": i.get("type") or "jwt"},
    ),
    "vault:index/mount:Mount": Spec(MOUNT, (Call("POST", "sys/mounts/{path}", _mount),)),
    "vault:kubernetes/authBackendConfig:AuthBackendConfig": Spec(
        CONFIG,
        (Call("POST", "auth/{backend}/config", _without("backend")),),
        lambda i: {"backend": "kubernetes"},
    ),
    "vault:kv/secretBackendV2:SecretBackendV2": Spec(CONFIG, (Call("POST", "{mount}/config", _without("mount")),)),
    "vault:index/policy:Policy": Spec(POLICY, (Call("PUT", "sys/policies/acl/{name}", _with("policy")),)),
    "vault:kubernetes/authBackendRole:AuthBackendRole": Spec(
        ROLE,
        (Call("POST", "auth/{backend}/role/{roleName}", _without("backend", "roleName")),),
        lambda i: {"backend": "kubernetes"},
    ),
    "vault:jwt/authBackendRole:AuthBackendRole": Spec(
        ROLE,
        (Call("POST", "auth/{backend}/role/{roleName}", _without("backend", "roleName")),),
        lambda i: {"backend": "jwt"},
    ),
    "vault:kv/secretV2:SecretV2": Spec(
        OTHER,
        (
            Call("POST", "{mount}/data/{name}", _kv_secret),
            Call("POST", "{mount}/metadata/{name}", _kv_metadata),
        ),
    ),
    "vault:database/secretBackendConnection:SecretBackendConnection": Spec(
        CONFIG, (Call("POST", "{backend}/config/{name}", _database_connection),)
    ),
    "vault:database/secretBackendRole:SecretBackendRole": Spec(
        ROLE, (Call("POST", "{backend}/roles/{name}", _without("backend", "name")),)
    ),
    "vault:database/secretBackendStaticRole:SecretBackendStaticRole": Spec(
        ROLE, (Call("POST", "{backend}/static-roles/{name}", _without("backend", "name")),)
    ),
    "vault:generic/endpoint:Endpoint": Spec(OTHER, (Call("POST", "{path}", _endpoint),)),
    "vault:index/audit:Audit": Spec(
        MOUNT,
        (Call("PUT", "sys/audit/{path}", _with("type", "options", "description", "local")),),
        lambda i: {"path": i.get("type")},
    ),
}


# -- applying ------------------------------------------------------------------------


def _path(template: str, spec: Spec, resource: CapturedResource, inputs: Inputs) -> str:
    values = {k: str(v).strip("/") for k, v in inputs.items() if v not in (None, "")}
    for key, default in spec.defaults(inputs).items():
        if not values.get(key) and default:
            values[key] = str(default).strip("/")
    try:
        return template.format_map(values)
    except KeyError as exc:
        raise ValueError(f"{resource.type} {resource.name!r}: missing input {exc.args[0]!r}") from None


def planned_calls(resources: Iterable[CapturedResource]) -> list[tuple[str, str, Body]]:
    """The (method, path, body) calls that apply ``resources``, in application order."""
    vault_resources = [r for r in resources if r.type.startswith("vault:")]
    for r in vault_resources:
        if r.type not in RESOURCE_SPECS:
            raise UnsupportedResource(r.type, r.name)
        if r.inputs.get("namespace"):
            raise UnsupportedResource(r.type, r.name, "Vault namespaces are not supported by the live harness")
    ordered = sorted(vault_resources, key=lambda r: RESOURCE_SPECS[r.type].phase)  # stable
    calls: list[tuple[str, str, Body]] = []
    for resource in ordered:
        spec = RESOURCE_SPECS[resource.type]
        inputs = _plain(dict(resource.inputs))
        for call in spec.calls:
            body = call.body(inputs)
            if body is not None:
                calls.append((call.method, _path(call.path, spec, resource, inputs), body))
    return calls


def apply_vault_resources(client: VaultClient, resources: Iterable[CapturedResource]) -> list[str]:
    """Write ``resources`` to the server behind ``client``; return the API paths written.

    Raises UnsupportedResource (before writing anything) for an unknown
    ``vault:`` type; other providers' resources are ignored. A rejected write
    raises VaultError naming the path and the server's errors.
    """
    written: list[str] = []
    for method, path, body in planned_calls(resources):
        _write(client, method, path, body)
        written.append(path)
    return written


KV_UPGRADING = "Upgrading from non-versioned to versioned data"


def _write(client: VaultClient, method: str, path: str, body: Body, attempts: int = 50) -> None:
    """One write; a fresh KV v2 mount answers 400 while it upgrades, and the provider retries it too."""
    for attempt in range(attempts):
        try:
            client.request(method, path, body)
            return
        except VaultError as error:
            if attempt == attempts - 1 or not any(KV_UPGRADING in e for e in error.errors):
                raise
            time.sleep(0.1)
