"""Reading plain property values the way their consumers read them, without ever raising.

A rule sees decoded data (``wire.decode``): dicts, lists, strings, floats, bools, ``None``,
``UNKNOWN`` for a value a preview cannot know yet, and ``Asset`` for a file or text asset. Every
reader here takes *any* such value and answers; a value of the wrong kind reads as missing.

Booleans are read with the grammar of the program that consumes them, because a rule that reads
``"t"`` as false while the CSI provider reads it as true misses a skipped TLS check:

- ``go_bool``: Go's ``strconv.ParseBool`` (the Vault CSI provider's parameters, the agent
  injector's annotations, Vault's audit options, Go flags): ``1 t T TRUE true True`` and
  ``0 f F FALSE false False``; anything else is an error to the consumer (``None`` here).
- ``helm_truthy``: Go template truth (``{{ if .Values.x }}``): false, 0, nil and empty are false,
  everything else, the string ``"false"`` included, is true.
- ``helm_enabled``: the vault chart's ``eq (x | toString) "true"``.
- ``rendered_true``: a value a chart prints into a manifest (``key: {{ .Values.x }}``), read back as
  Helm reads the manifest (YAML 1.1, so ``yes`` and ``on`` are true too).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlsplit

import yaml

YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""The safe YAML loader, libyaml's where PyYAML was built with it (the wheels are): 10x faster on a
1,000-workload stack file, and on every SecretProviderClass's ``objects`` the pack reads."""


def load_yaml(text: str) -> Any:
    """A YAML (or JSON) document, safely: plain maps, lists and scalars only."""
    return yaml.load(text, Loader=YAML_LOADER)


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


@dataclass(frozen=True)
class Asset:
    """A Pulumi asset as a rule sees it: its kind, where it points, and its text where the pack could read it."""

    kind: str
    """``file``, ``string``, ``remote`` or ``archive``."""
    location: str
    text: str | None = None


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def has_unknown(value: Any) -> bool:
    """Whether ``value`` is unknown or holds an unknown anywhere inside."""
    if value is UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_unknown(v) for v in value)
    return False


def dig(value: Any, *path: str | int, default: Any = None) -> Any:
    """``value[path[0]][path[1]]...``, or ``default`` where a step is missing or of the wrong kind.

    An unknown on the way is returned as it is (the rest of the path cannot be known either).
    """
    for step in path:
        if value is UNKNOWN:
            return UNKNOWN
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


def text(value: Any) -> str | None:
    """A known string, or None."""
    return value if isinstance(value, str) else None


def strings(value: Any) -> list[str]:
    """The known strings of a list prop (unknown and non-string entries dropped)."""
    return [v for v in items(value) if isinstance(v, str)]


def is_set(value: Any) -> bool:
    """Present and non-empty (an unknown counts as set: it will hold a value)."""
    if value is None:
        return False
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) > 0
    return True


GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def go_bool(value: Any) -> bool | None:
    """Go's ``strconv.ParseBool``: True, False, or None where Go would return an error (or the value is unset)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value in GO_TRUE:
            return True
        if value in GO_FALSE:
            return False
    return None


def helm_truthy(value: Any) -> bool:
    """Go template truth: false, 0, nil and empty strings, lists and maps are false; the rest is true."""
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) > 0
    return True


YAML11_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})


def rendered_true(value: Any) -> bool:
    """Whether ``value``, printed into a manifest by a template, is read back as YAML's true (go-yaml v2: YAML 1.1)."""
    return value is True or (isinstance(value, str) and value.strip() in YAML11_TRUE)


def helm_enabled(value: Any) -> bool:
    """The vault chart's ``eq (x | toString) "true"``: only a YAML true or the string ``"true"``."""
    return value is True or value == "true"


# --- durations ---------------------------------------------------------------------------------------

_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_NUMBER = re.compile(r"\d+(\.\d+)?")


def duration_seconds(value: Any) -> float | None:
    """Seconds from a number (seconds), a numeric string, or a Go/Vault duration (``1h30m``, ``15m``).

    ``None`` for unset, unknown, negative, non-finite or unparseable values.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) and value >= 0 else None
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    if _NUMBER.fullmatch(stripped):
        return float(stripped)
    if not stripped or _GO_DURATION_PART.sub("", stripped) != "":
        return None
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _GO_DURATION_PART.findall(stripped))


def whole_number(value: Any) -> int | None:
    """An integer from a number or a decimal string (Helm values and CRD fields hold either)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value.strip())
    return None


def human_seconds(seconds: float) -> str:
    whole = int(seconds)
    if whole and whole % 3600 == 0:
        return f"{whole // 3600}h"
    if whole and whole % 60 == 0:
        return f"{whole // 60}m"
    return f"{whole}s"


# --- URLs ---------------------------------------------------------------------------------------------


def split_url(value: Any) -> SplitResult | None:
    """``urlsplit`` of a string, or None where it is not one or Python refuses it (``https://[fd00::1:8200``)."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 (raises ValueError for a malformed port or IPv6 host)
    except ValueError:
        return None
    return parts


def url_host(parts: SplitResult) -> str:
    try:
        return parts.hostname or ""
    except ValueError:
        return ""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def insecure_url(url: Any) -> bool:
    """A plain-text URL (``http://`` or no scheme) to anything but the loopback interface.

    A string that does not parse as a URL (``https://[fd00::1:8200``) is not: its consumer refuses it too,
    so nothing is sent anywhere.
    """
    if not isinstance(url, str) or not url.strip():
        return False
    stripped = url.strip()
    parts = split_url(stripped if "://" in stripped else f"//{stripped}")
    if parts is None:
        return False
    if parts.scheme.lower() == "https":
        return False
    return not is_loopback(url_host(parts))


def url_password(value: Any) -> str | None:
    """The password in a URL's userinfo (``scheme://user:password@host``), if any."""
    parts = split_url(value)
    if parts is None or "@" not in parts.netloc:
        return None
    userinfo = parts.netloc.rpartition("@")[0]
    _user, colon, password = userinfo.partition(":")
    return password if colon and password else None


def url_query(value: Any) -> list[tuple[str, str]]:
    parts = split_url(value)
    return parse_qsl(parts.query, keep_blank_values=True) if parts is not None else []


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """``(path, key, leaf)`` for every scalar leaf of a nested value; ``key`` is the nearest mapping key."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(item, Mapping | list | tuple):
                yield from leaves(item, child)
            else:
                yield child, str(key), item
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            key = path.rsplit(".", 1)[-1].split("[", 1)[0] if path else ""
            child = f"{path}[{i}]"
            if isinstance(item, Mapping | list | tuple):
                yield from leaves(item, child)
            else:
                yield child, key, item
    else:
        yield path, path, value


def string_leaves(value: Any) -> Iterator[str]:
    """Every known string leaf of a nested value."""
    for _path, _key, leaf in leaves(value):
        if isinstance(leaf, str):
            yield leaf
