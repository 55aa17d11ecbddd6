"""The pure core of the pack: rules as plain functions over plain resources, with no policy SDK in sight.

A ``Rule`` is data (name, description, level, config parameters, source, remediation) plus a
check function. A resource rule's check takes one ``Resource`` and the rule's resolved config
and yields ``Problem``s; a stack rule's check takes every resource of the stack. The adapters
(``adapters.py``) turn rules into the SDK's ``ResourceValidationPolicy`` /
``StackValidationPolicy`` and format each problem into a message that names the rule, the
resource and the fix.

Messages never carry the value of a secret field: checks describe *where* a problem is (a
key, a path, a field name) and ``redact`` removes any secret-field value that slipped in.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

# The engine's placeholders for values a preview cannot know yet (same strings as the SDKs use).
UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "030794c1-ac77-496b-92df-f27374a8bd58",
        "e48ece36-62e2-4504-bad9-02848725956a",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)


class _Unknown:
    """A value that is not known during a preview (an output of a resource not created yet)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()
STACK_TYPE = "pulumi:pulumi:Stack"


class Level(str, Enum):
    """A rule's default enforcement level (the SDK's names)."""

    MANDATORY = "mandatory"
    ADVISORY = "advisory"
    DISABLED = "disabled"


class Severity(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Param:
    """One configuration property of a rule, as a JSON schema with a default."""

    name: str
    schema: Mapping[str, Any]

    @property
    def default(self) -> Any:
        return self.schema.get("default")

    @property
    def description(self) -> str:
        return str(self.schema.get("description", ""))


def int_param(name: str, default: int, description: str, minimum: int = 0) -> Param:
    return Param(name, {"type": "integer", "minimum": minimum, "default": default, "description": description})


def bool_param(name: str, default: bool, description: str) -> Param:
    return Param(name, {"type": "boolean", "default": default, "description": description})


def strings_param(name: str, default: Sequence[str], description: str) -> Param:
    return Param(
        name, {"type": "array", "items": {"type": "string"}, "default": list(default), "description": description}
    )


@dataclass(frozen=True)
class Resource:
    """A resource as a rule sees it: plain data, secrets already unwrapped by the SDK, unknowns as ``UNKNOWN``."""

    type: str
    name: str
    urn: str = ""
    props: Mapping[str, Any] = field(default_factory=dict)
    parent: str | None = None
    secret_outputs: frozenset[str] = frozenset()
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, *path: str | int, default: Any = None) -> Any:
        return dig(self.props, *path, default=default)

    @property
    def label(self) -> str:
        return f"{self.type} '{self.name}'"


@dataclass(frozen=True)
class Problem:
    """What a check found: where and what, never a secret value. ``fix`` overrides the rule's remediation."""

    what: str
    fix: str | None = None
    urn: str | None = None


ResourceCheck = Callable[[Resource, Mapping[str, Any]], Iterable[Problem]]
StackCheck = Callable[[Sequence[Resource], Mapping[str, Any]], Iterable[Problem]]


@dataclass(frozen=True)
class Rule:
    """One rule of the pack: its metadata and its check (a plain function)."""

    name: str
    description: str
    level: Level
    remediation: str
    source: str
    target: str
    """What the rule reads, for the rule table (type tokens or 'stack')."""
    scope: str
    """``resource`` (check: ``ResourceCheck``, run per resource whose type ``applies``) or ``stack``."""
    check: Callable[..., Iterable[Problem]]
    applies: Callable[[str], bool] = lambda _type: True
    params: tuple[Param, ...] = ()
    severity: Severity = Severity.HIGH
    url: str | None = None

    def resolve_config(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults from the schema, overridden by ``given`` (numbers from protobuf arrive as floats)."""
        config = {p.name: p.default for p in self.params}
        for key, value in (given or {}).items():
            if key == "enforcementLevel":
                continue
            param = next((p for p in self.params if p.name == key), None)
            if param is not None and param.schema.get("type") == "integer" and isinstance(value, float):
                value = int(value)
            config[key] = value
        return config

    def message(self, problem: Problem, resource_label: str) -> str:
        """The violation message: the rule, the resource, the problem and the fix."""
        return f"[{self.name}] {resource_label}: {problem.what} Fix: {problem.fix or self.remediation}"


def _rule(scope: str, target: str, applies: Callable[[str], bool], **meta: Any) -> Callable[[Any], Rule]:
    """The decorator both rule kinds share: the check plus its metadata becomes a ``Rule``."""
    meta["params"] = tuple(meta["params"])
    return lambda check: Rule(scope=scope, target=target, applies=applies, check=check, **meta)


def resource_rule(
    name: str,
    *,
    description: str,
    level: Level,
    remediation: str,
    source: str,
    types: Sequence[str] | Callable[[str], bool],
    target: str | None = None,
    params: Sequence[Param] = (),
    severity: Severity = Severity.HIGH,
    url: str | None = None,
) -> Callable[[ResourceCheck], Rule]:
    """Decorator: a resource check becomes a ``Rule`` applying to ``types``."""
    applies = types if callable(types) else _type_in(tuple(types))
    shown = target or (", ".join(f"`{t}`" for t in types) if not callable(types) else "resources")
    return _rule(
        "resource",
        shown,
        applies,
        name=name,
        description=description,
        level=level,
        remediation=remediation,
        source=source,
        params=params,
        severity=severity,
        url=url,
    )


def stack_rule(
    name: str,
    *,
    description: str,
    level: Level,
    remediation: str,
    source: str,
    target: str,
    params: Sequence[Param] = (),
    severity: Severity = Severity.HIGH,
    url: str | None = None,
) -> Callable[[StackCheck], Rule]:
    """Decorator: a stack check becomes a ``Rule`` over every resource of the stack."""
    return _rule(
        "stack",
        target,
        lambda _type: True,
        name=name,
        description=description,
        level=level,
        remediation=remediation,
        source=source,
        params=params,
        severity=severity,
        url=url,
    )


def _type_in(types: tuple[str, ...]) -> Callable[[str], bool]:
    return lambda type_token: type_token in types


def crd_types(group: str, *kinds: str, versions: Sequence[str] = ("v1",)) -> tuple[str, ...]:
    """Pulumi type tokens of a CRD's kinds: ``kubernetes:<group>/<version>:<Kind>``."""
    return tuple(f"kubernetes:{group}/{v}:{k}" for k in kinds for v in versions)


# --- running checks (pure: the tests of the core and the adapters share them) -----------


@dataclass(frozen=True)
class Finding:
    """A formatted violation from the core: the rule, the resource it is about, the message."""

    rule: str
    level: Level
    urn: str | None
    message: str


def evaluate_resource(rule: Rule, resource: Resource, given: Mapping[str, Any] | None = None) -> list[Finding]:
    if rule.scope != "resource" or not rule.applies(resource.type):
        return []
    config = rule.resolve_config(given)
    secrets = secret_values([resource])
    return [
        Finding(rule.name, rule.level, resource.urn, redact(rule.message(p, resource.label), secrets))
        for p in rule.check(resource, config)
    ]


def evaluate_stack(rule: Rule, resources: Sequence[Resource], given: Mapping[str, Any] | None = None) -> list[Finding]:
    if rule.scope != "stack":
        return []
    config = rule.resolve_config(given)
    by_urn = {r.urn: r for r in resources}
    secrets = secret_values(resources)
    findings = []
    for problem in rule.check(resources, config):
        concerned = by_urn.get(problem.urn or "")
        label = concerned.label if concerned else "the stack"
        findings.append(Finding(rule.name, rule.level, problem.urn, redact(rule.message(problem, label), secrets)))
    return findings


# --- plain-data helpers --------------------------------------------------------------------


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in UNKNOWN_SENTINELS)


def dig(value: Any, *path: str | int, default: Any = None) -> Any:
    """``value[path[0]][path[1]]...``, or ``default`` where a step is missing or of the wrong kind."""
    for step in path:
        if isinstance(value, list) and isinstance(step, int) and -len(value) <= step < len(value):  # noqa: SIM114
            value = value[step]
        elif isinstance(value, Mapping) and isinstance(step, str) and step in value:
            value = value[step]
        else:
            return default
    return default if value is None else value


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def strings(value: Any) -> list[str]:
    """A list of strings from a list prop (unknown entries dropped)."""
    return [v for v in items(value) if isinstance(v, str) and not is_unknown(v)]


def is_set(value: Any) -> bool:
    """Present and non-empty (an unknown counts as set: it will hold a value)."""
    if value is None:
        return False
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) > 0
    return True


def truthy(value: Any) -> bool:
    """A boolean from a prop that may be a bool, a string ("true", "1") or a JSON-encoded provider input."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str) and not is_unknown(value):
        return value.strip().strip('"').lower() in {"true", "1", "yes", "on"}
    return False


def falsy(value: Any) -> bool:
    """Explicitly false (``False``, ``"false"``, ``0``); unset is not falsy."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value == 0
    if isinstance(value, str) and not is_unknown(value):
        return value.strip().strip('"').lower() in {"false", "0", "no", "off"}
    return False


_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(value: Any) -> float | None:
    """Seconds from an int/float (seconds), a numeric string, or a Go/Vault duration (``1h30m``, ``15m``).

    ``None`` for unset, unknown or unparseable values.
    """
    if value is None or is_unknown(value) or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    if not text or _GO_DURATION_PART.sub("", text) != "":
        return None
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _GO_DURATION_PART.findall(text))


def human_seconds(seconds: float) -> str:
    whole = int(seconds)
    if whole and whole % 3600 == 0:
        return f"{whole // 3600}h"
    if whole and whole % 60 == 0:
        return f"{whole // 60}m"
    return f"{whole}s"


def leaves(value: Any) -> Iterator[str]:
    """Every string leaf of a nested value."""
    if isinstance(value, str):
        if not is_unknown(value):
            yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from leaves(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from leaves(v)


_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
_CREDENTIAL_WORDS = frozenset(
    {"password", "passwd", "pwd", "passphrase", "secret", "token", "apikey", "credential", "credentials"}
)
_CREDENTIAL_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key")})
_REFERENCE_SUFFIXES = frozenset({"file", "path", "dir", "ref", "name", "ttl", "url", "endpoint", "type", "audience"})


def words(name: str) -> list[str]:
    return [w.lower() for w in _WORD_SPLIT.split(name) if w]


def credential_name(name: str) -> bool:
    """Whether a key or variable name denotes a credential (``DB_PASSWORD``, ``apiKey``), not a reference to one.

    Names ending in a reference word (``_FILE``, ``Path``, ``TTL``, ``Name``) name where or how a credential
    lives, not the credential itself.
    """
    parts = words(name)
    if not parts or parts[-1] in _REFERENCE_SUFFIXES:
        return False
    if any(p in _CREDENTIAL_WORDS for p in parts):
        return True
    return any(pair in _CREDENTIAL_PAIRS for pair in itertools.pairwise(parts))


_SECRET_VALUE_PATTERNS = (
    re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # a JWT
    re.compile(r"\bhv[sbr]\.[A-Za-z0-9_-]{20,}"),  # a Vault token
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # an AWS access key id
    re.compile(r"://[^/\s:@]+:[^/\s@]+@"),  # credentials in a URL
)
_PLAIN_SHAPES = re.compile(r"^(|true|false|yes|no|on|off|null|none|\d+(\.\d+)?|(\d+(h|m|s|ms))+|/[\w./-]*)$", re.I)


def secret_looking_value(value: str) -> bool:
    """A value whose shape is a credential: a private key, a JWT, a Vault token, an access key, a URL password."""
    return any(p.search(value) for p in _SECRET_VALUE_PATTERNS)


def plain_shaped(value: str) -> bool:
    """Empty, a boolean, a number, a duration or an absolute path: not a credential, whatever its key says."""
    return bool(_PLAIN_SHAPES.match(value.strip()))


def b64decode_text(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


# --- secret fields: where the stack's secret values live ------------------------------------

SECRET_FIELDS: Mapping[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Secret": ("data", "stringData"),
    "vault:kv/secretV2:SecretV2": ("dataJson",),
    "vault:kv/secret:Secret": ("dataJson",),
    "vault:generic/secret:Secret": ("dataJson",),
    "vault:generic/endpoint:Endpoint": ("dataJson",),
    "vault:kubernetes/authBackendConfig:AuthBackendConfig": ("tokenReviewerJwt",),
    "vault:kubernetes/secretBackend:SecretBackend": ("serviceAccountJwt",),
    "vault:jwt/authBackend:AuthBackend": ("oidcClientSecret",),
    "vault:approle/authBackendRoleSecretId:AuthBackendRoleSecretId": ("secretId",),
    "vault:index/token:Token": ("clientToken",),
    "random:index/randomPassword:RandomPassword": ("result", "bcryptHash"),
}
"""Per resource type, the top-level properties that hold secret values (the providers' schemas mark them secret)."""

MIN_SECRET_LENGTH = 6


def secret_field_values(resource: Resource) -> list[str]:
    """The secret values a resource holds, decoded where the field encodes them (base64 data, JSON)."""
    values: list[str] = []
    for name in SECRET_FIELDS.get(resource.type, ()):
        raw = resource.props.get(name)
        if raw is None or is_unknown(raw):
            continue
        if resource.type == "kubernetes:core/v1:Secret" and name == "data":
            for leaf in leaves(raw):
                values.append(leaf)
                decoded = b64decode_text(leaf)
                if decoded:
                    values.append(decoded)
        elif name == "dataJson" and isinstance(raw, str):
            values.append(raw)
            with contextlib.suppress(ValueError):
                values.extend(leaves(json.loads(raw)))
        else:
            values.extend(leaves(raw))
    return [v for v in values if len(v) >= MIN_SECRET_LENGTH]


def secret_values(resources: Iterable[Resource]) -> frozenset[str]:
    found: set[str] = set()
    for resource in resources:
        found.update(secret_field_values(resource))
        if resource.type == "kubernetes:core/v1:ConfigMap":
            for key, value in mapping(resource.props.get("data")).items():
                if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH and credential_entry(key, value):
                    found.add(value)
    return frozenset(found)


def credential_entry(key: str, value: str) -> bool:
    """A key/value pair carrying a literal credential: a credential name with a real value, or a credential shape."""
    return (credential_name(key) and not plain_shaped(value)) or secret_looking_value(value)


def redact(message: str, secrets: Iterable[str]) -> str:
    """Replace any secret value that reached a message (longest first, so no fragment survives)."""
    for value in sorted(secrets, key=len, reverse=True):
        if value and value in message:
            message = message.replace(value, "[secret]")
    return message
