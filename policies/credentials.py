"""Where secrets live and what a literal credential looks like: the facts the hygiene rules share.

A password has no shape: ``hunter2`` is as good a password as a DNS label. So a *literal* credential in
a ConfigMap, an env var, a container argument or a stack output is found by its name (``DB_PASSWORD``,
``--api-token``, ``db.password`` in a properties file) and then cleared by its value where the value
cannot be one: empty, a boolean, a number, a duration, an absolute path, a reference to where the
credential lives (``$(VAR)``, ``${VAR}``, ``{{ template }}``) or a URL without a password in it. A
value whose own shape is a credential (a private key, a JWT, a Vault token, an AWS key id, a URL with a
password) is one whatever its name says.

Names are split into words (``DB_PASSWORD`` -> ``db password``, ``secretStore`` -> ``secret store``);
a name whose last word says what kind of thing it names (``_FILE``, ``Path``, ``Name``, ``Header``,
``Store``, ``Class``, ``Ttl``...) names where or how a credential is kept, not the credential, unless
its last two words are a credential (``SECRET_ID``, ``API_KEY``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import itertools
import json
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import yaml

from .values import leaves, load_yaml, mapping, string_leaves, url_password, url_query

_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
CREDENTIAL_WORDS = frozenset(
    {"password", "passwd", "pwd", "pass", "passphrase", "secret", "token", "apikey", "credential", "credentials"}
)
CREDENTIAL_PAIRS = frozenset(
    {
        ("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"), ("secret", "id"), ("auth", "key"),
        ("encryption", "key"), ("signing", "key"), ("master", "key"), ("client", "key"),
    }
)  # fmt: skip
REFERENCE_SUFFIXES = frozenset(
    {
        "file", "path", "dir", "ref", "name", "names", "ttl", "url", "uri", "endpoint", "type", "audience",
        "header", "backend", "store", "class", "provider", "mount", "role", "policy", "policies", "engine",
        "kind", "mode", "method", "source", "format", "version", "length", "size", "count", "id", "arn",
        "expiry", "expiration", "interval", "period", "enabled", "required", "namespace", "location",
    }
)  # fmt: skip
"""Last words of names that say what kind of thing the name refers to (where or how a credential is kept)."""


def words(name: str) -> list[str]:
    return [w.lower() for w in _WORD_SPLIT.split(name) if w]


def credential_name(name: str) -> bool:
    """Whether a key or variable name denotes a credential (``DB_PASSWORD``, ``apiKey``), not a reference to one."""
    if "/" in name:
        return False  # a path or an annotation key (`vault.hashicorp.com/agent-inject-secret-x`), not a field name
    parts = words(name)
    if not parts:
        return False
    if tuple(parts[-2:]) in CREDENTIAL_PAIRS:
        return True
    if parts[-1] in REFERENCE_SUFFIXES:
        return False
    return any(p in CREDENTIAL_WORDS for p in parts) or any(
        pair in CREDENTIAL_PAIRS for pair in itertools.pairwise(parts)
    )


_SECRET_VALUE_PATTERNS = (
    re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # a JWT
    re.compile(r"\bhv[sbr]\.[A-Za-z0-9_-]{20,}"),  # a Vault token
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # an AWS access key id
)
_PLAIN_SHAPES = re.compile(r"^(|true|false|yes|no|on|off|null|none|-?\d+(\.\d+)?|(\d+(h|m|s|ms))+|/[\w./-]*)$", re.I)
_REFERENCE = re.compile(r"^(\$\(\w+\)|\$\{[^}]+\}|\$\w+|\{\{.*\}\}|<[\w-]+>)$", re.S)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.I)


def secret_looking_value(value: str) -> bool:
    """A value whose shape is a credential: a private key, a JWT, a Vault token, an access key, a URL password."""
    return any(p.search(value) for p in _SECRET_VALUE_PATTERNS) or url_secret(value)


def url_secret(value: str) -> bool:
    """A URL carrying a credential: a literal password in its userinfo or a credential-named query parameter."""
    for token in value.split():
        if not _URL.match(token):
            continue
        password = url_password(token)
        if password and not _REFERENCE.match(password):
            return True
        if any(credential_name(k) and v and not _REFERENCE.match(v) for k, v in url_query(token)):
            return True
    return False


def not_a_credential(value: str) -> bool:
    """Empty, a boolean, a number, a duration, an absolute path, a reference, or a URL with no credential in it."""
    stripped = value.strip().strip("'\"")
    if _PLAIN_SHAPES.match(stripped) or _REFERENCE.match(stripped):
        return True
    return bool(_URL.match(stripped)) and not url_secret(stripped)


def credential_entry(key: str, value: str) -> bool:
    """A key/value pair carrying a literal credential: a credential name with a real value, or a credential shape."""
    return secret_looking_value(value) or (credential_name(key) and not not_a_credential(value))


_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][\w.\-]*)\s*[:=]\s*(.*?)\s*$")


def text_entries(value: str) -> Iterator[tuple[str, str]]:
    """The key/value pairs inside a multi-line value: properties or env lines (``k=v``, ``k: v``) and YAML/JSON."""
    if "\n" not in value.strip():
        return
    for line in value.splitlines():
        if line.lstrip().startswith(("#", "!", "//", ";")):
            continue
        match = _LINE.match(line)
        if match and match.group(2) and not match.group(2).startswith(("|", ">")):
            yield match.group(1), match.group(2)
    document: Any = None
    with contextlib.suppress(yaml.YAMLError, ValueError, RecursionError):
        document = load_yaml(value)
    if isinstance(document, Mapping | list):
        for _path, key, leaf in leaves(document):
            if isinstance(leaf, str) and key:
                yield key, leaf


def carries_credential(key: str, value: str) -> str | None:
    """Where a value carries a literal credential: ``key`` itself, or the name inside a multi-line value."""
    if credential_entry(key, value):
        return key
    for inner_key, inner_value in text_entries(value):
        if credential_entry(inner_key, inner_value):
            return f"{key}: {inner_key}"
    return None


def argument_entries(args: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``(flag, value)`` pairs of a command line: ``--name=value``, ``-Dname=value``, ``name=value``, ``--name value``.

    A single argument holding a whole command line (``sh -c "app --password=x"``) is split as a shell would.
    """
    tokens: list[str] = []
    for arg in args:
        tokens.extend(_shell_words(arg))
    for token, following in itertools.zip_longest(tokens, tokens[1:]):
        yield "", token  # a credential by its shape (a URL with a password, a token)
        name, equals, value = token.partition("=")
        if equals and "://" not in name:
            yield name.lstrip("-"), value
        elif token.startswith("-") and following is not None and not following.startswith("-"):
            yield token.lstrip("-"), following


def _shell_words(arg: str, depth: int = 3) -> list[str]:
    """An argument as the words a shell would run, quoted command lines inside it split too (a few levels)."""
    if depth == 0 or not any(c.isspace() for c in arg.strip()):
        return [arg]
    try:
        parts = shlex.split(arg)
    except ValueError:
        parts = arg.split()
    return [word for part in parts for word in _shell_words(part, depth - 1)]


# --- where the stack's secret values live -----------------------------------------------------------------

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
    "pulumi:providers:vault": ("token",),
}
"""Per resource type, the top-level properties that hold secret values (the providers' schemas mark them secret)."""

MIN_SECRET_LENGTH = 6


def b64decode_text(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def secret_field_values(type_: str, props: Mapping[str, Any]) -> list[str]:
    """The secret values a resource holds, decoded where the field encodes them (base64 data, JSON)."""
    values: list[str] = []
    for name in SECRET_FIELDS.get(type_, ()):
        raw = props.get(name)
        if type_ == "kubernetes:core/v1:Secret" and name == "data":
            for leaf in string_leaves(raw):
                values.append(leaf)
                decoded = b64decode_text(leaf)
                if decoded:
                    values.append(decoded)
        elif name == "dataJson" and isinstance(raw, str):
            values.append(raw)
            with contextlib.suppress(ValueError, RecursionError):
                values.extend(string_leaves(json.loads(raw)))
        else:
            values.extend(string_leaves(raw))
    return [v for v in values if len(v) >= MIN_SECRET_LENGTH]


def literal_credentials(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Credentials a ConfigMap holds in plain sight: values the hygiene rules report and messages must not show."""
    if type_ != "kubernetes:core/v1:ConfigMap":
        return []
    found = []
    for key, value in mapping(props.get("data")).items():
        if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH and carries_credential(str(key), value):
            found.append(value)
    return found


class SecretIndex:
    """A set of secret values, searchable inside any text in time linear in the text.

    Each value is indexed by its first ``w`` characters for a handful of window widths ``w``, so a
    text is scanned once per width, whatever the number of secrets (no secret-by-leaf product).
    """

    WIDTHS = (6, 8, 12, 16)

    def __init__(self, values: Iterable[str]) -> None:
        self.values = frozenset(v for v in values if len(v) >= MIN_SECRET_LENGTH)
        self._by_prefix: dict[int, dict[str, list[str]]] = {}
        for value in self.values:
            width = max(w for w in self.WIDTHS if w <= len(value))
            self._by_prefix.setdefault(width, {}).setdefault(value[:width], []).append(value)
        for buckets in self._by_prefix.values():
            for candidates in buckets.values():
                candidates.sort(key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self.values)

    def _match_at(self, text: str, i: int) -> str | None:
        """The longest secret that starts at ``text[i]``."""
        best: str | None = None
        for width, buckets in self._by_prefix.items():
            for candidate in buckets.get(text[i : i + width], ()):
                if (best is None or len(candidate) > len(best)) and text.startswith(candidate, i):
                    best = candidate
                    break
        return best

    def found_in(self, text: str) -> bool:
        if not self.values or len(text) < MIN_SECRET_LENGTH:
            return False
        if text in self.values:
            return True
        return any(self._match_at(text, i) for i in range(len(text) - MIN_SECRET_LENGTH + 1))

    def redact(self, text: str, mask: str = "[secret]") -> str:
        """``text`` with every secret in it replaced by ``mask`` (the longest match at each position)."""
        if not self.values:
            return text
        out: list[str] = []
        i = 0
        while i < len(text):
            match = self._match_at(text, i) if len(text) - i >= MIN_SECRET_LENGTH else None
            if match:
                out.append(mask)
                i += len(match)
            else:
                out.append(text[i])
                i += 1
        return "".join(out)


def resource_secrets(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Every value of one resource that a message must never show."""
    return secret_field_values(type_, props) + literal_credentials(type_, props)
