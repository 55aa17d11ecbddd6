"""Field validators shared by the stack spec and every component.

Each validator takes the field's display name (as written in the stack config,
e.g. ``workloads[0].serviceAccount``) and the raw value, and either returns the
normalised value or raises ``SpecError`` naming the field, the value and what
is allowed. Only ``when_known`` knows about Pulumi (an Output is checked once its value is known).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

import pulumi

from .durations import DURATION_SYNTAX, parse_duration


class SpecError(ValueError):
    """A stack spec or component argument that cannot be accepted.

    A value of None means the field is missing (or null): the message says it is required.
    """

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        problem = "is required" if value is None else f"{_show(value)} is not allowed"
        super().__init__(f"{field}: {problem}: {allowed}" if field else f"{problem}: {allowed}")


def _show(value: object) -> str:
    # repr() escapes quotes, newlines and control characters, so a hostile value
    # cannot forge a second line of the error message.
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VAULT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_MOUNT_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_KEY_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_SECRET_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_PEM = re.compile(r"^-----BEGIN [A-Z0-9 ]+-----\n[A-Za-z0-9+/=\n\r]+-----END [A-Z0-9 ]+-----\s*$")

DNS_LABEL_RULE = "a DNS-1123 label: 1-63 lowercase letters, digits or '-', starting and ending alphanumeric"
DNS_SUBDOMAIN_RULE = (
    "a DNS-1123 subdomain: up to 253 lowercase letters, digits, '-' or '.', starting and ending alphanumeric (no globs)"
)


def require_str(field: str, value: object, rule: str = "a string") -> str:
    """``value`` if it is a string; else the error states ``rule``, what the field allows (or that it is required)."""
    if not isinstance(value, str):
        raise SpecError(field, value, rule)
    return value


def dns_label(field: str, value: object) -> str:
    text = require_str(field, value, DNS_LABEL_RULE)
    if len(text) > 63 or not _DNS_LABEL.match(text):
        raise SpecError(field, value, DNS_LABEL_RULE)
    return text


def dns_subdomain(field: str, value: object) -> str:
    text = require_str(field, value, DNS_SUBDOMAIN_RULE)
    if len(text) > 253 or not _DNS_SUBDOMAIN.match(text):
        raise SpecError(field, value, DNS_SUBDOMAIN_RULE)
    return text


KUBECONFIG_CONTEXT_RULE = "a kubeconfig context name: 1-253 printable characters without spaces"


def kubeconfig_context(field: str, value: object) -> str:
    text = require_str(field, value, KUBECONFIG_CONTEXT_RULE)
    if not 0 < len(text) <= 253 or not text.isprintable() or any(c.isspace() for c in text):
        raise SpecError(field, value, KUBECONFIG_CONTEXT_RULE)
    return text


_AUDIENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")


def audience(field: str, value: object) -> str:
    """A token audience: a name or URL, without globs, spaces or quotes."""
    rule = "a name or URL of letters, digits and . _ : / - (no globs, spaces or quotes)"
    text = require_str(field, value, rule)
    if len(text) > 253 or not _AUDIENCE.match(text):
        raise SpecError(field, value, rule)
    return text


def vault_name(field: str, value: object) -> str:
    """A Vault role or policy name: no globs, slashes, quotes or spaces."""
    rule = "1-128 letters, digits, '_', '-' or '.', starting alphanumeric, without '..'"
    text = require_str(field, value, rule)
    if len(text) > 128 or not _VAULT_NAME.match(text) or ".." in text:
        raise SpecError(field, value, rule)
    return text


def mount_path(field: str, value: object) -> str:
    """A Vault mount path such as ``kubernetes`` or ``clusters/dev``."""
    rule = "a mount path of '/'-separated segments of letters, digits, '_' or '-' (no globs or '..')"
    text = require_str(field, value, rule).strip("/")
    segments = text.split("/")
    if not text or len(text) > 128 or not all(_MOUNT_SEGMENT.match(s) for s in segments):
        raise SpecError(field, value, rule)
    if segments[0] in {"sys", "auth", "identity", "cubbyhole"}:
        raise SpecError(field, value, "a mount path outside Vault's reserved sys/, auth/, identity/, cubbyhole/")
    return text


def kv_key_path(field: str, value: object) -> str:
    """The path of a secret inside a KV v2 mount, e.g. ``myapp`` or ``team/db``."""
    rule = "'/'-separated segments of letters, digits, '_', '-' or '.' (no globs, '..', spaces or quotes)"
    text = require_str(field, value, rule)
    segments = text.split("/")
    if not text or len(text) > 512 or not all(_KEY_SEGMENT.match(s) and s not in {".", ".."} for s in segments):
        raise SpecError(field, value, rule)
    return text


def secret_key(field: str, value: object) -> str:
    """A key inside a secret (KV property) or a file/key name in the pod."""
    rule = "1-253 letters, digits, '_', '-' or '.', not starting with '.' or '-'"
    text = require_str(field, value, rule)
    if len(text) > 253 or not _SECRET_KEY.match(text):
        raise SpecError(field, value, rule)
    return text


def duration_seconds(field: str, value: object, *, minimum: int = 1, maximum: int | None = None) -> int:
    """A duration (``90s``, ``15m``, ``1h30m``, ``30d``) or whole seconds, as whole seconds."""
    seconds = parse_duration(value)
    if seconds is None:
        raise SpecError(field, value, DURATION_SYNTAX)
    if seconds < minimum or (maximum is not None and seconds > maximum):
        upper = f" and at most {maximum}s" if maximum is not None else ""
        raise SpecError(field, value, f"{DURATION_SYNTAX}, at least {minimum}s{upper}")
    return seconds


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def url(field: str, value: object, *, schemes: tuple[str, ...] = ("https",)) -> str:
    """An absolute URL; plain http only where ``schemes`` allows it or on loopback (local tests)."""
    rule = f"an absolute URL with scheme {' or '.join(schemes)} (http only on loopback)"
    text = require_str(field, value, rule)
    parsed = urlparse(text)
    scheme_ok = parsed.scheme in schemes or (parsed.scheme == "http" and parsed.hostname in LOOPBACK_HOSTS)
    if not scheme_ok or not parsed.hostname or any(c.isspace() or ord(c) < 32 for c in text) or '"' in text:
        raise SpecError(field, value, rule)
    return text.rstrip("/")


def pem(field: str, value: object) -> str:
    rule = "a PEM block (-----BEGIN ...-----)"
    text = require_str(field, value, rule)
    if not _PEM.match(text.strip() + "\n"):
        raise SpecError(field, "<PEM>" if len(text) > 40 else value, rule)
    return text.strip() + "\n"


def when_known(field: str, value: object, check: Any) -> Any:
    """``check(field, value)`` now for a plain value; for an Output, when its value is known (at deployment).

    For the fields that may be other resources' outputs (addresses, CA certificates): nothing that
    shapes access is an Output, so everything else is checked before a resource is registered.
    """
    if isinstance(value, pulumi.Output):
        return value.apply(lambda known: check(field, known))
    return check(field, value)


def boolean(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise SpecError(field, value, "true or false")
    return value


def choice(field: str, value: object, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise SpecError(field, value, "one of " + ", ".join(allowed))
    return str(value)


def mapping(field: str, value: object, known: tuple[str, ...]) -> Mapping[str, Any]:
    """A mapping whose keys are all known (a misspelt key is an error, not a no-op)."""
    if not isinstance(value, Mapping):
        raise SpecError(field, value, "a mapping")
    for key in value:
        if key not in known:
            raise SpecError(f"{field}.{key}" if field else str(key), key, "a known key: " + ", ".join(known))
    return value


def sequence(field: str, value: object) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise SpecError(field, value, "a list")
    return list(value)


def integer(field: str, value: object, *, minimum: int, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise SpecError(field, value, f"a whole number from {minimum} to {maximum}")
    return value


def statements(field: str, value: object) -> tuple[str, ...]:
    """SQL statements for Vault's database engine: non-empty strings, templated with {{name}} etc."""
    items = sequence(field, value)
    if not items:
        raise SpecError(field, value, "at least one SQL statement")
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            raise SpecError(f"{field}[{i}]", item, "a non-empty SQL statement")
    return tuple(items)
