"""Vault policy documents read the way Vault reads them: parsed with pyhcl, never grepped.

``parse_policy`` returns one ``PathRule`` per path with the union of every stanza's
capabilities. Vault merges repeated ``path`` stanzas of one policy, while pyhcl's top level
keeps only the last one, so the document is parsed a second time nested in a block, where
pyhcl keeps repeats as a list. The legacy ``policy = "write"`` form is expanded to the
capabilities it stands for. Path helpers answer what a pattern (``+`` one segment, trailing
``*`` any suffix) can reach.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hcl.lexer import Lexer  # type: ignore[import-untyped]
from hcl.parser import HclParser  # type: ignore[import-untyped]

from .values import mapping

_PARSERS = threading.local()


def load_hcl(document: str) -> Any:
    """``hcl.loads`` with one parser and one lexer per thread.

    pyhcl builds its LALR tables anew for every parser (~20 ms) and validates its lexer's rules anew for every
    document (~4 ms); a clone of one lexer (``ply``'s ``clone``: same rules, fresh state) costs nothing.
    """
    if getattr(_PARSERS, "parser", None) is None:
        _PARSERS.parser, _PARSERS.lexer = HclParser(), Lexer()
    lexer = copy.copy(_PARSERS.lexer)
    lexer.lex = _PARSERS.lexer.lex.clone()
    return _PARSERS.parser.yacc.parse(document, lexer=lexer)


CAPABILITIES = frozenset(
    {"create", "read", "update", "patch", "delete", "list", "sudo", "deny", "subscribe", "recover"}
)
WRITE_CAPABILITIES = frozenset({"create", "update", "patch", "delete", "sudo", "recover"})
# The pre-0.9 `policy = "..."` shorthand.
LEGACY_POLICY = {
    "deny": frozenset({"deny"}),
    "read": frozenset({"read", "list"}),
    "write": frozenset({"create", "read", "update", "delete", "list"}),
    "sudo": frozenset({"create", "read", "update", "delete", "list", "sudo"}),
}
KV2_ROOTS = ("data", "metadata", "delete", "undelete", "destroy", "subkeys")
TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")


class PolicyParseError(ValueError):
    """The document is not a policy Vault would accept."""


@dataclass(frozen=True, order=True)
class PathRule:
    path: str
    capabilities: frozenset[str]
    lease_ids: frozenset[str] | None = field(default=None, compare=False)
    """The ``lease_id`` values its ``allowed_parameters`` allow, when they allow that parameter only (merged over
    the path's stanzas, as Vault merges them); None: any request."""

    @property
    def denies(self) -> bool:
        return "deny" in self.capabilities

    @property
    def writes(self) -> frozenset[str]:
        return self.capabilities & WRITE_CAPABILITIES


def parse_policy(document: str) -> tuple[PathRule, ...]:
    """The path rules of an HCL or JSON policy, one per path, capabilities merged as Vault merges them."""
    if not isinstance(document, str):
        raise PolicyParseError("the policy is not a string")
    return _parse_text(document)


@functools.lru_cache(maxsize=4096)
def _parse_text(document: str) -> tuple[PathRule, ...]:
    """Cached: several rules read every policy, and a preview analyzes each document once per rule."""
    stanzas: list[tuple[str, Any]]
    text = document.strip()
    if text.startswith("{"):
        stanzas = _json_stanzas(text)
    else:
        try:
            load_hcl(document)  # the document as Vault parses it must be valid on its own
            nested = load_hcl("policy {\n" + document + "\n}")
        except (ValueError, TypeError, RecursionError) as error:
            raise PolicyParseError(f"invalid HCL ({error})") from None
        stanzas = list(_path_stanzas(mapping(nested.get("policy")).get("path")))
    merged: dict[str, set[str]] = {}
    leases: dict[str, frozenset[str] | None] = {}
    for path, body in stanzas:
        if not isinstance(path, str) or not isinstance(body, Mapping):
            raise PolicyParseError('a path stanza must be `path "<path>" { ... }`')
        normalized = normalize_path(path)
        if "+*" in normalized:
            raise PolicyParseError(f"path '{normalized}': invalid use of wildcards ('+*' is forbidden)")
        merged.setdefault(normalized, set()).update(_capabilities(normalized, body))
        allowed, before = _allowed_lease_ids(body), leases.get(normalized, frozenset())
        leases[normalized] = None if allowed is None or before is None else before | allowed
    return tuple(sorted(PathRule(p, frozenset(c), leases[p]) for p, c in merged.items()))


def _allowed_lease_ids(body: Mapping[str, Any]) -> frozenset[str] | None:
    """The values of ``allowed_parameters = {"lease_id" = [...]}`` when it allows that one parameter, each value
    given; None for any other shape (an empty list, another parameter, a ``*`` key: any request)."""
    allowed = body.get("allowed_parameters")
    if isinstance(allowed, list) and len(allowed) == 1:  # HCL gives a block as a list of one mapping
        allowed = allowed[0]
    if not isinstance(allowed, Mapping) or set(allowed) != {"lease_id"}:
        return None
    values = allowed["lease_id"]
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
        return None
    return frozenset(values)


def normalize_path(path: str) -> str:
    """The path as Vault stores it: one leading ``/`` stripped ("paths in Vault start after the / in the API path")."""
    return path[1:] if path.startswith("/") else path


def _path_stanzas(value: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(value, list):
        for entry in value:
            yield from _path_stanzas(entry)
    elif isinstance(value, Mapping):
        yield from value.items()
    elif value is not None:
        raise PolicyParseError('`path` must name its path: path "<path>" { ... }')


class _Repeated(list[Any]):
    """Values of a key repeated in a JSON object."""


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            existing = result[key]
            result[key] = _Repeated([*(existing if isinstance(existing, _Repeated) else [existing]), value])
        else:
            result[key] = value
    return result


def _json_stanzas(text: str) -> list[tuple[str, Any]]:
    try:
        parsed = json.loads(text, object_pairs_hook=_json_pairs)
    except (ValueError, RecursionError) as error:
        raise PolicyParseError(f"invalid JSON ({error})") from None
    paths = parsed.get("path") if isinstance(parsed, Mapping) else None
    stanzas: list[tuple[str, Any]] = []
    for block in paths if isinstance(paths, _Repeated) else [paths]:
        for path, body in mapping(block).items():
            stanzas.extend((path, b) for b in (body if isinstance(body, _Repeated) else [body]))
    return stanzas


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [x for v in value for x in _flatten(v)]
    return [value]


def _capabilities(path: str, body: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    for capability in _flatten(body.get("capabilities", [])):
        if not isinstance(capability, str) or capability not in CAPABILITIES:
            raise PolicyParseError(f"path '{path}': unknown capability {capability!r}")
        found.add(capability)
    for legacy in _flatten(body.get("policy", [])):
        if not isinstance(legacy, str) or legacy not in LEGACY_POLICY:
            raise PolicyParseError(f"path '{path}': unknown policy shorthand {legacy!r}")
        found.update(LEGACY_POLICY[legacy])
    return found


# --- what a path pattern reaches (Vault's ACL matching: vault/acl.go) -------------------------------------
#
# A path is literal except for two wildcards: a trailing `*` makes it a prefix match (`secret/data*` matches
# `secret/data/x` and `secret/dataX`; a `*` anywhere else is a literal character), and a segment that is
# exactly `+` matches any one segment (`a+b` is literal).

# Second-level paths of the secrets engines whose next segment names one secret, role or key: a wildcard at or
# before that name reaches every name (KV v2's data/metadata/..., database creds/static-creds/roles, PKI
# issue/sign/roles, transit keys/encrypt/decrypt, AWS creds/sts, SSH/TOTP/Kubernetes creds).
ENGINE_ROOTS = frozenset(
    {
        *KV2_ROOTS, "creds", "static-creds", "roles", "static-roles", "rotate-role", "rotate-root", "config",
        "issue", "sign", "sign-verbatim", "cert", "certs", "keys", "encrypt", "decrypt", "rewrap", "datakey",
        "hmac", "verify", "sts", "code", "role", "libraries", "library", "static-role",
    }
)  # fmt: skip


def is_glob(path: str) -> bool:
    return path.endswith("*")


def has_wildcard(path: str) -> bool:
    return is_glob(path) or "+" in path.split("/")


def first_wildcard(path: str) -> int | None:
    """The index of the first segment a wildcard makes variable (a `+` segment, or the segment a trailing `*` ends)."""
    segments = path.split("/")
    for i, segment in enumerate(segments):
        if segment == "+" or (i == len(segments) - 1 and segment.endswith("*")):
            return i
    return None


def name_segment(path: str) -> int:
    """The index of the segment that names one secret or role: after an engine root (`<mount>/data/<name>`), else 1."""
    segments = path.split("/")
    for i in range(1, len(segments) - 1):
        if segments[i] in ENGINE_ROOTS:
            return i + 1
    return 1


def reaches_every_name(path: str) -> bool:
    """Whether a wildcard stands at or above the name a path grants (`*`, `secret/*`, `kv/data/+/x`, `db/creds/*`)."""
    wildcard = first_wildcard(path)
    return wildcard is not None and wildcard <= name_segment(path)


def reaches(pattern: str, area: str) -> bool:
    """Whether some path the ``pattern`` matches lies under ``area`` (a literal prefix such as ``sys/``)."""
    glob = pattern.endswith("*")
    body = pattern[:-1] if glob else pattern
    i = j = 0
    while i < len(body):
        if j >= len(area):
            return True  # the pattern goes on below the area
        if body[i] == "+" and (i == 0 or body[i - 1] == "/") and (i + 1 == len(body) or body[i + 1] == "/"):
            end = area.find("/", j)
            if end == -1:
                return True  # '+' matches a segment that starts with the rest of the area
            i, j = i + 1, end
            continue
        if body[i] != area[j]:
            return False
        i, j = i + 1, j + 1
    return glob or j >= len(area)


def pattern_regex(pattern: str) -> re.Pattern[str]:
    segments = pattern.split("/")
    parts = []
    for k, segment in enumerate(segments):
        if k:
            parts.append("/")
        if segment == "+":
            parts.append("[^/]+")
        elif k == len(segments) - 1 and segment.endswith("*"):
            parts.append(re.escape(segment[:-1]) + ".*")
        else:
            parts.append(re.escape(segment))
    return re.compile("".join(parts))


def sample(pattern: str) -> str:
    """A concrete path ``pattern`` matches (each `+` as `x`, the trailing `*` matching nothing)."""
    return "/".join("x" if s == "+" else s for s in pattern.split("/")).removesuffix("*")


def literal_prefix(pattern: str) -> str:
    """The text every path ``pattern`` matches starts with."""
    wildcard = first_wildcard(pattern)
    if wildcard is None:
        return pattern
    segments = pattern.split("/")
    head = "/".join(segments[:wildcard])
    tail = segments[wildcard].removesuffix("*") if segments[wildcard] != "+" else ""
    return f"{head}/{tail}" if head else tail


def covers(broad: str, specific: str) -> bool:
    """Whether every path of ``specific`` also matches ``broad`` (``specific``'s wildcards taken as a sample)."""
    return broad != specific and bool(pattern_regex(broad).fullmatch(sample(specific)))


def templates(path: str) -> list[str]:
    """The identity template expressions in a path (``{{identity.entity.id}}`` -> ``identity.entity.id``)."""
    return TEMPLATE.findall(path)


# --- the `default` policy (vault/policy_store.go): every token carries it unless created without it ---------

DEFAULT_POLICY = """
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
path "auth/token/revoke-self" { capabilities = ["update"] }
path "sys/capabilities-self" { capabilities = ["update"] }
path "identity/entity/id/{{identity.entity.id}}" { capabilities = ["read"] }
path "identity/entity/name/{{identity.entity.name}}" { capabilities = ["read"] }
path "sys/internal/ui/resultant-acl" { capabilities = ["read"] }
path "sys/renew" { capabilities = ["update"] }
path "sys/leases/renew" { capabilities = ["update"] }
path "sys/leases/lookup" { capabilities = ["update"] }
path "cubbyhole/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "sys/wrapping/wrap" { capabilities = ["update"] }
path "sys/wrapping/lookup" { capabilities = ["update"] }
path "sys/wrapping/unwrap" { capabilities = ["update"] }
path "sys/tools/hash" { capabilities = ["update"] }
path "sys/tools/hash/*" { capabilities = ["update"] }
path "sys/tools/random" { capabilities = ["update"] }
path "sys/tools/random/*" { capabilities = ["update"] }
path "sys/control-group/request" { capabilities = ["update"] }
path "identity/oidc/provider/+/authorize" { capabilities = ["read", "update"] }
"""
"""Vault's built-in ``default`` policy (the union of its grants across Vault 1.x and OpenBao 2.x)."""


@functools.cache
def default_grants() -> Mapping[str, frozenset[str]]:
    """Path -> capabilities of the ``default`` policy; ``create`` counts with ``update`` (system paths have no
    existence check, so Vault never asks for create on them)."""
    grants = {}
    for rule in parse_policy(DEFAULT_POLICY):
        caps = set(rule.capabilities)
        if "update" in caps:
            caps.add("create")
        grants[rule.path] = frozenset(caps)
    return grants


def granted_by_default(rule: PathRule) -> bool:
    """Whether the ``default`` policy already grants everything this rule grants, on exactly its path."""
    return rule.capabilities <= default_grants().get(rule.path, frozenset())
