"""Vault policy documents: typed rules to HCL.

``render_policy`` is the only way this project writes a policy. ``rule`` checks a path
against a strict alphabet (the model's workload paths are checked at the edge, a subset of
it) and every string is quoted, so no input can close a stanza and open another. The one
reader of policy HCL is the policy pack's (``policies/vault_hcl.parse_policy``): the
planner and the tests read back what this module writes with it, never with a second parser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .validation import SpecError

CAPABILITIES: tuple[str, ...] = (
    "create",
    "read",
    "update",
    "patch",
    "delete",
    "list",
    "sudo",
    "deny",
    "subscribe",
)

# Letters, digits and the separators Vault paths use; '+' is a one-segment
# wildcard, '*' a trailing prefix glob, '{{ }}' an identity template.
_PATH_CHARS = re.compile(r"^[A-Za-z0-9_.\-/+*{}]+$")
_TEMPLATE = re.compile(r"\{\{[A-Za-z0-9_.]+\}\}")


@dataclass(frozen=True, order=True)
class PolicyRule:
    """One ``path`` stanza: a Vault API path and the capabilities granted on it; with ``allowed_parameters``,
    only requests whose every parameter is listed, each value matching one of its (``*``-globbed) values."""

    path: str
    capabilities: tuple[str, ...]
    allowed_parameters: tuple[tuple[str, tuple[str, ...]], ...] = ()


def check_path(field: str, path: object) -> str:
    if not isinstance(path, str) or not path:
        raise SpecError(field, path, "a non-empty Vault API path")
    if not _PATH_CHARS.match(path):
        raise SpecError(
            field, path, "letters, digits and _ . - / + * {{ }} only (no quotes, spaces or control characters)"
        )
    if "*" in path[:-1]:
        raise SpecError(field, path, "'*' only as the last character")
    segments = path.split("/")
    if path.startswith("/") or "" in segments[:-1]:
        raise SpecError(field, path, "a relative path without empty segments ('//' or a leading '/')")
    if any(s in {".", ".."} for s in segments):
        raise SpecError(field, path, "a path without '.' or '..' segments")
    if any("+" in s and s != "+" for s in segments):
        raise SpecError(field, path, "'+' only as a whole segment")
    without_templates = _TEMPLATE.sub("", path)
    if "{" in without_templates or "}" in without_templates:
        raise SpecError(field, path, "braces only as a whole identity template such as {{identity.entity.id}}")
    return path


def check_capabilities(field: str, capabilities: object) -> tuple[str, ...]:
    if isinstance(capabilities, str) or not isinstance(capabilities, list | tuple) or not capabilities:
        raise SpecError(field, capabilities, "a non-empty list of: " + ", ".join(CAPABILITIES))
    for capability in capabilities:
        if capability not in CAPABILITIES:
            raise SpecError(field, capability, "one of " + ", ".join(CAPABILITIES))
    if "deny" in capabilities and len(set(capabilities)) > 1:
        raise SpecError(field, list(capabilities), "'deny' alone (it overrides every other capability)")
    # Canonical order, so equal rule sets render to equal documents.
    return tuple(c for c in CAPABILITIES if c in capabilities)


def rule(path: str, *capabilities: str) -> PolicyRule:
    """A checked rule; raises ``SpecError`` naming the bad path or capability."""
    return PolicyRule(check_path("path", path), check_capabilities(f"path {path!r} capabilities", capabilities))


def normalise(rules: Iterable[PolicyRule]) -> tuple[PolicyRule, ...]:
    """Merge rules on the same path and sort them: one stanza per path, capabilities in canonical order.

    The rules are trusted (``rule`` or the validated model made them); only the merge can
    break one: ``deny`` merged with another capability on the same path is refused.
    """
    merged: dict[str, set[str]] = {}
    parameters: dict[str, dict[str, set[str]] | None] = {}
    for r in rules:
        merged.setdefault(r.path, set()).update(r.capabilities)
        # As Vault merges stanzas: one without allowed_parameters allows every parameter on the path.
        if not r.allowed_parameters:
            parameters[r.path] = None
        elif (known := parameters.setdefault(r.path, {})) is not None:
            for name, values in r.allowed_parameters:
                known.setdefault(name, set()).update(values)
    normalised = []
    for path, caps in sorted(merged.items()):
        if "deny" in caps and len(caps) > 1:
            raise SpecError(f"path {path!r} capabilities", sorted(caps), "'deny' alone (it overrides every other)")
        allowed = tuple((k, tuple(sorted(v))) for k, v in sorted((parameters[path] or {}).items()))
        normalised.append(PolicyRule(path, tuple(c for c in CAPABILITIES if c in caps), allowed))
    return tuple(normalised)


def render_policy(rules: Iterable[PolicyRule], *, comment: str = "") -> str:
    """The HCL of a policy granting exactly ``rules``."""
    stanzas: list[str] = []
    if comment:
        stanzas.extend(f"# {line}" for line in comment.splitlines() if line.isprintable())
    normalised = normalise(rules)
    if not normalised:
        raise SpecError("rules", [], "at least one path rule")
    for r in normalised:
        quoted = ", ".join(json.dumps(c) for c in r.capabilities)
        lines = [f"path {json.dumps(r.path)} {{", f"  capabilities = [{quoted}]"]
        if r.allowed_parameters:
            lines.append("  allowed_parameters = {")
            lines += [
                f"    {json.dumps(k)} = [{', '.join(json.dumps(v) for v in vs)}]" for k, vs in r.allowed_parameters
            ]
            lines.append("  }")
        stanzas.append("\n".join([*lines, "}"]))
    return "\n".join(stanzas) + "\n"
