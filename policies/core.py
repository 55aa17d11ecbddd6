"""The pure core of the pack: rules as plain functions over plain resources, with no policy SDK in sight.

A ``Rule`` is data (name, description, level, config parameters, source, remediation) plus a check
function. A resource rule's check takes one ``Resource`` and the rule's resolved config and yields
``Problem``s; a stack rule's check takes every resource of the stack. ``judge_resource`` and
``judge_stack`` run a check and turn what it yields into a ``Judgement``: the violation messages
(each naming the rule, the resource and the fix, never a secret value) and, where an unknown value
kept the rule from judging, one "cannot check during preview" detail. Both ways of running the pack
(``adapters`` for the policy SDK, ``evaluate`` for the offline plan) go through these two functions.

A check never raises on any input; ``judge_*`` still turn an unexpected exception into a violation
of the rule (naming the exception's type, not its text), so one broken rule cannot abort the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .credentials import SecretIndex, resource_secrets
from .values import dig, duration_seconds, human_seconds, is_unknown

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
    """A resource as a rule sees it: plain data (``wire.decode``), secrets unwrapped, unknowns as ``UNKNOWN``."""

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
    """What a check found: where and what, never a secret value. ``fix`` overrides the rule's remediation.

    An ``unknown`` problem says the rule cannot judge because a value is not known yet (a preview of
    resources not created): it is reported as an advisory "cannot check", never at the rule's level.
    """

    what: str
    fix: str | None = None
    urn: str | None = None
    unknown: bool = False


def cannot_check(what: str, urn: str | None = None) -> Problem:
    """The rule cannot judge ``what`` (a field, or a relation) because it is not known until the resource exists."""
    return Problem(f"{what} (not known until the resources are created)", urn=urn, unknown=True)


def lifetime_problems(resource: Resource, field: str, cap: int, when_unset: str) -> Iterator[Problem]:
    """A duration (a TTL, a rotation period) unset or 0 (``when_unset``: what applies then) or above ``cap``."""
    value = resource.get(field)
    if is_unknown(value):
        yield cannot_check(field)
        return
    seconds = duration_seconds(value)
    if not seconds:
        yield Problem(f"{field} is unset or 0: {when_unset}.")
    elif seconds > cap:
        yield Problem(f"{field} is {human_seconds(seconds)}, above the cap of {human_seconds(cap)}.")


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
    why: str
    """Why the rule fires, by Vault's and the consumers' semantics (RULES.md)."""
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
    why: str,
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
    applies = types if callable(types) else _type_in(frozenset(types))
    shown = target or (", ".join(f"`{t}`" for t in types) if not callable(types) else "resources")
    return _rule(
        "resource",
        shown,
        applies,
        name=name,
        description=description,
        why=why,
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
    why: str,
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
        why=why,
        level=level,
        remediation=remediation,
        source=source,
        params=params,
        severity=severity,
        url=url,
    )


def _type_in(types: frozenset[str]) -> Callable[[str], bool]:
    return lambda type_token: type_token in types


def crd_types(group: str, *kinds: str, versions: Sequence[str] = ("v1",)) -> tuple[str, ...]:
    """Pulumi type tokens of a CRD's kinds: ``kubernetes:<group>/<version>:<Kind>``."""
    return tuple(f"kubernetes:{group}/{v}:{k}" for k in kinds for v in versions)


# --- judging: a check's problems as messages ---------------------------------------------------------


@dataclass(frozen=True)
class Judgement:
    """What one rule says about one resource (or the stack): violations, and what it could not check."""

    violations: tuple[tuple[str | None, str], ...]
    """``(urn, message)`` per violation; the urn is None for a resource rule (the resource judged)."""
    cannot_check: str | None = None
    """The "cannot check during preview" detail, or None when the rule could judge everything."""


def crash_problem(error: Exception) -> Problem:
    return Problem(
        f"the rule could not read its properties ({type(error).__name__}): they are not of the shape the "
        "provider or the CRD defines.",
        fix="fix the resource's properties; report the input to the pack's maintainers.",
    )


def _problems(run: Callable[[], Iterable[Problem]]) -> list[Problem]:
    try:
        return list(run())
    except Exception as error:
        return [crash_problem(error)]


def _cannot_check(lines: Iterable[str]) -> str | None:
    unique = sorted(set(lines))
    return "cannot check during preview: " + "; ".join(unique) + "." if unique else None


def judge_resource(rule: Rule, resource: Resource, given: Mapping[str, Any] | None = None) -> Judgement:
    """One resource rule over one resource: messages redacted with that resource's own secret values."""
    if rule.scope != "resource" or not rule.applies(resource.type):
        return Judgement(())
    config = rule.resolve_config(given)
    problems = _problems(lambda: rule.check(resource, config))
    if not problems:
        return Judgement(())
    secrets = SecretIndex(resource_secrets(resource.type, resource.props))
    messages = tuple((None, secrets.redact(rule.message(p, resource.label))) for p in problems if not p.unknown)
    unknown = _cannot_check(f"{resource.label}: {p.what}" for p in problems if p.unknown)
    return Judgement(messages, secrets.redact(unknown) if unknown else None)


def judge_stack(
    rule: Rule,
    resources: Sequence[Resource],
    given: Mapping[str, Any] | None = None,
    secrets: Callable[[], SecretIndex] | None = None,
) -> Judgement:
    """One stack rule over the stack; ``secrets`` (the stack's secret values) is asked for only if needed."""
    if rule.scope != "stack":
        return Judgement(())
    config = rule.resolve_config(given)
    problems = _problems(lambda: rule.check(resources, config))
    if not problems:
        return Judgement(())
    index = secrets() if secrets is not None else stack_secrets(resources)
    labels = {r.urn: r.label for r in resources}
    messages = tuple(
        (p.urn, index.redact(rule.message(p, labels.get(p.urn or "", "the stack")))) for p in problems if not p.unknown
    )
    unknown = _cannot_check(f"{labels.get(p.urn or '', 'the stack')}: {p.what}" for p in problems if p.unknown)
    return Judgement(messages, index.redact(unknown) if unknown else None)


def stack_secrets(resources: Iterable[Resource]) -> SecretIndex:
    return SecretIndex(v for r in resources for v in resource_secrets(r.type, r.props))
