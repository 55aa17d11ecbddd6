"""The pack's configuration as ``--policy-pack-config`` gives it, checked and resolved per rule.

``{"<rule>": "advisory"}`` or ``{"<rule>": {"enforcementLevel": "mandatory", "<key>": <value>}}``, and
``"all"`` for every rule's level. Each rule gets its level and its properties: the schema's defaults,
then the overrides, checked against the rule's schema as the engine checks them. Both ways of running
the pack (the servicer's ``Configure`` and the direct evaluation) take their settings from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .core import Rule

LEVELS = ("advisory", "mandatory", "disabled")
_JSON_TYPES = {
    "integer": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer(),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list | tuple),
    "object": lambda v: isinstance(v, Mapping),
}


@dataclass(frozen=True)
class RuleSettings:
    level: str
    properties: Mapping[str, Any]


def resolve_settings(rules: Sequence[Rule], config: Mapping[str, Any]) -> dict[str, RuleSettings]:
    """Every rule's level and properties; a ``ValueError`` names the rule, the key and what is allowed."""
    names = [r.name for r in rules]
    unknown = sorted(set(config) - set(names) - {"all"})
    if unknown:
        raise ValueError(f"policy config: unknown rule(s) {', '.join(unknown)}; the pack has {', '.join(names)}")
    shared_level, shared = _split("all", config.get("all"), None)
    if shared:
        raise ValueError(f"policy config: `all` takes a level only, not {', '.join(shared)}")
    resolved = {}
    for rule in rules:
        schema = {p.name: p.schema for p in rule.params}
        level, overrides = _split(rule.name, config.get(rule.name), shared_level or rule.level.value)
        properties = {p.name: p.default for p in rule.params}
        for key, value in overrides.items():
            if key not in schema:
                allowed = ", ".join(schema) or "only enforcementLevel"
                raise ValueError(f"policy config: {rule.name}.{key} is not a setting of the rule ({allowed})")
            _check_type(rule.name, key, value, schema[key])
            properties[key] = value
        resolved[rule.name] = RuleSettings(str(level), properties)
    return resolved


def _split(name: str, given: Any, level: str | None) -> tuple[str | None, dict[str, Any]]:
    if given is None:
        return level, {}
    if isinstance(given, str):
        return _level(name, given), {}
    if not isinstance(given, Mapping):
        raise ValueError(f"policy config: {name} is {given!r}; a level or a mapping of settings")
    overrides = {k: v for k, v in given.items() if k != "enforcementLevel"}
    if "enforcementLevel" in given:
        level = _level(name, given["enforcementLevel"])
    return level, overrides


def _level(name: str, value: Any) -> str:
    if value not in LEVELS:
        raise ValueError(f"policy config: {name} level {value!r} is not one of {', '.join(LEVELS)}")
    return str(value)


def _check_type(name: str, key: str, value: Any, schema: Mapping[str, Any]) -> None:
    expected = schema.get("type")
    check = _JSON_TYPES.get(str(expected))
    if check is not None and not check(value):
        raise ValueError(f"policy config: {name}.{key} is {value!r}; expected {expected}")
    strings_expected = expected == "array" and schema.get("items", {}).get("type") == "string"
    if strings_expected and not all(isinstance(v, str) for v in value):
        raise ValueError(f"policy config: {name}.{key} is {value!r}; expected a list of strings")
    minimum = schema.get("minimum")
    if minimum is not None and isinstance(value, int | float) and value < minimum:
        raise ValueError(f"policy config: {name}.{key} is {value!r}; at least {minimum:g}")
