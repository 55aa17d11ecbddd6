"""Property values between the engine's wire form and the plain data rules read: one home for both directions.

The engine hands an analyzer each resource's properties as a protobuf ``Struct``: secrets wrapped in
the secret signature, values a preview cannot know as the unknown sentinel string
``04da6b54-80e4-46f7-96ec-b56ff0331ba9`` (whatever their type), assets as signed objects, and every
number a double. The policy SDK unwraps secrets, turns assets into ``pulumi`` asset objects and wraps
the rest in proxies that raise ``UnknownValueError`` on reading an unknown.

``decode`` turns either form (what the SDK gives a policy, or what the mock engine captured) into the
same plain data: dicts, lists, strings, floats, bools, ``None``, ``UNKNOWN`` and ``Asset``. Both
paths of the pack (the analyzer servicer and the direct evaluation) decode through it, so they see
identical values. ``to_struct`` is the other direction, for the servicer path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import struct_pb2
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi_policy.proxy import UnknownValueError

from .values import UNKNOWN, Asset

# The engine's signatures for secrets, assets and archives, as the SDK (their one home) defines them.
SIG_KEY: str = rpc._special_sig_key
SECRET_SIG: str = rpc._special_secret_sig
ASSET_SIG: str = rpc._special_asset_sig
ARCHIVE_SIG: str = rpc._special_archive_sig
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""How the engine marshals any value a preview cannot know (``plugin.UnknownStringValue``)."""
UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # bool
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        UNKNOWN_STRING,
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)
"""The SDK's unknown sentinels (``pulumi_policy.proxy``); the engine sends the string one for every type."""
MAX_ASSET_BYTES = 1 << 20


def is_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get(SIG_KEY) == SECRET_SIG


def decode(value: Any) -> Any:
    """Plain data from an SDK value or a captured one (see the module docstring); never raises."""
    if isinstance(value, str):
        return UNKNOWN if value in UNKNOWN_SENTINELS else value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        number = _double(value)
        return float(number) if isinstance(number, int | float) else number  # the Struct carries doubles
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return _asset(value)
    if isinstance(value, Mapping):
        if is_secret(value):
            return decode(value.get("value"))
        if value.get(SIG_KEY) in (ASSET_SIG, ARCHIVE_SIG):
            return _signed_asset(value)
        decoded: dict[str, Any] = {}
        for key in value:
            try:
                decoded[str(key)] = decode(value[key])
            except UnknownValueError:  # the SDK's proxy refuses to hand out an unknown
                decoded[str(key)] = UNKNOWN
        return decoded
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        out: list[Any] = []
        for i in range(len(value)):
            try:
                out.append(decode(value[i]))
            except UnknownValueError:
                out.append(UNKNOWN)
        return out
    return str(value)


def decode_properties(properties: Any) -> dict[str, Any]:
    decoded = decode(properties) if isinstance(properties, Mapping) else {}
    return decoded if isinstance(decoded, dict) else {}


def _asset(value: pulumi.Asset | pulumi.Archive) -> Asset:
    if isinstance(value, pulumi.StringAsset):
        return Asset("string", "<text>", str(value.text))
    if isinstance(value, pulumi.FileAsset):
        return Asset("file", str(value.path), read_text(str(value.path)))
    if isinstance(value, pulumi.RemoteAsset):
        return Asset("remote", str(value.uri))
    if isinstance(value, pulumi.FileArchive):
        return Asset("archive", str(value.path))
    if isinstance(value, pulumi.RemoteArchive):
        return Asset("archive", str(value.uri))
    return Asset("archive", "<assets>")


def _signed_asset(value: Mapping[str, Any]) -> Asset:
    """An asset or archive still in its signed wire form (a capture that kept it)."""
    if value.get(SIG_KEY) == ASSET_SIG:
        if isinstance(value.get("text"), str):
            return Asset("string", "<text>", value["text"])
        if isinstance(value.get("path"), str):
            return Asset("file", value["path"], read_text(value["path"]))
        return Asset("remote", str(value.get("uri", "")))
    return Asset("archive", str(value.get("path") or value.get("uri") or "<assets>"))


def read_text(path: str) -> str | None:
    """A file asset's text, relative to the working directory as Pulumi resolves it; None where unreadable."""
    try:
        file = Path(path)
        if not file.is_file() or file.stat().st_size > MAX_ASSET_BYTES:
            return None
        return file.read_text()
    except (OSError, UnicodeDecodeError, ValueError):
        return None


# --- the other direction: the wire form the servicer path sends ---------------------------------------------


def wire(value: Any) -> Any:
    """A captured value as the engine marshals it into a ``Struct`` (decode(wire(v)) == decode(v))."""
    if isinstance(value, Unknown):
        return UNKNOWN_STRING
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return _double(value)
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return _wire_asset(value)
    if isinstance(value, Mapping):
        return {str(k): wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [wire(v) for v in value]
    return str(value)


def _double(value: float) -> float | str:
    """A number as a ``Struct`` can carry it: a finite double, else its text (what the engine gets for NaN)."""
    try:
        number = float(value)
    except OverflowError:
        return str(value)
    return value if math.isfinite(number) else str(value)


def _wire_asset(value: pulumi.Asset | pulumi.Archive) -> dict[str, Any]:
    if isinstance(value, pulumi.StringAsset):
        return {SIG_KEY: ASSET_SIG, "text": str(value.text)}
    if isinstance(value, pulumi.FileAsset):
        return {SIG_KEY: ASSET_SIG, "path": str(value.path)}
    if isinstance(value, pulumi.RemoteAsset):
        return {SIG_KEY: ASSET_SIG, "uri": str(value.uri)}
    if isinstance(value, pulumi.FileArchive):
        return {SIG_KEY: ARCHIVE_SIG, "path": str(value.path)}
    if isinstance(value, pulumi.RemoteArchive):
        return {SIG_KEY: ARCHIVE_SIG, "uri": str(value.uri)}
    return {SIG_KEY: ARCHIVE_SIG, "assets": {}}


def to_struct(properties: Mapping[str, Any]) -> struct_pb2.Struct:
    """Properties as the engine marshals them (protobuf ``Struct``: numbers become doubles)."""
    struct = struct_pb2.Struct()
    struct.update({str(k): wire(v) for k, v in properties.items()})
    return struct
