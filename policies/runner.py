"""Runs the pack in-process through the policy SDK's own analyzer servicer, the way the engine drives it.

``run_pack(capture)`` takes what ``planner.engine.run_program`` captured (duck-typed: ``.resources``
with ``type``, ``name``, ``urn``, ``parent``, ``inputs``, ``dependencies``; ``.outputs``) and calls
the servicer's RPC methods directly, with the messages the engine would send over gRPC:

1. ``GetAnalyzerInfo`` for the policies, their default levels and config schemas;
2. ``Configure`` with every policy's level and config (schema defaults, then the caller's overrides);
3. ``Analyze`` once per registered resource (its inputs as a protobuf ``Struct``, secrets still
   wrapped in the engine's secret signature, unknowns as the engine's sentinels);
4. ``AnalyzeStack`` once with every resource, the root ``pulumi:pulumi:Stack`` carrying the exports.

The servicer is the class ``PolicyPack`` serves (``pulumi_policy.policy._PolicyAnalyzerServicer``),
built with the same arguments, so the offline verdict is the pipeline's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.output import Unknown
from pulumi.runtime import proto
from pulumi_policy.policy import _PolicyAnalyzerServicer

from .core import STACK_TYPE
from .pack import DESCRIPTION, DISPLAY_NAME, ENFORCEMENT_LEVEL, PACK_NAME, build_policies

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
LEVELS = {"advisory": proto.ADVISORY, "mandatory": proto.MANDATORY, "disabled": proto.DISABLED}
LEVEL_NAMES = {
    proto.ADVISORY: "advisory",
    proto.MANDATORY: "mandatory",
    proto.DISABLED: "disabled",
    proto.REMEDIATE: "remediate",
}
_JSON_TYPES = {
    "integer": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer(),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list | tuple),
    "object": lambda v: isinstance(v, Mapping),
}


@dataclass(frozen=True)
class Violation:
    """One diagnostic of the pack: the rule, its level, the resource, and the message (problem and fix)."""

    rule: str
    level: str
    urn: str
    name: str
    type: str
    message: str

    @property
    def mandatory(self) -> bool:
        return self.level == "mandatory"

    @property
    def detail(self) -> str:
        """The message without its ``[rule] resource:`` lead (both have columns of their own in a table)."""
        lead = f"[{self.rule}] "
        if self.message.startswith(lead):
            return self.message[len(lead) :].partition(": ")[2] or self.message
        return self.message


def analyzer_servicer() -> _PolicyAnalyzerServicer:
    """A fresh servicer built exactly as ``PolicyPack.__init__`` builds the one it serves."""
    return _PolicyAnalyzerServicer(
        PACK_NAME,
        "0.0.1",
        build_policies(),
        ENFORCEMENT_LEVEL,
        None,
        DESCRIPTION,
        DISPLAY_NAME,
        None,
        None,
        None,
        None,
    )


def run_pack(capture: Any, config: Mapping[str, Any] | None = None) -> list[Violation]:
    """Every violation of the pack over a captured stack, mandatory first.

    ``config`` has the shape of ``--policy-pack-config``: ``{"<rule>": "advisory"}`` or
    ``{"<rule>": {"enforcementLevel": "mandatory", "<key>": <value>}}``, and ``"all"`` for every rule.
    Raises ``ValueError`` naming the rule, the key and what is allowed for config the pack does not declare.
    """
    servicer = analyzer_servicer()
    info = servicer.GetAnalyzerInfo(empty_pb2.Empty(), None)
    servicer.Configure(configure_request(info, config or {}), None)

    resources = list(capture.resources)
    root = root_urn(resources)
    servicer.ConfigureStack(stack_configure_request(root), None)
    by_urn = {r.urn: (r.type, r.name) for r in resources}
    by_urn[root] = (STACK_TYPE, root.rsplit("::", 1)[-1])
    outputs = dict(getattr(capture, "outputs", {}) or {})

    violations: list[Violation] = []
    requests = [analyze_request(STACK_TYPE, root, by_urn[root][1], {}, None, [])]
    requests += [analyze_request(r.type, r.urn, r.name, r.inputs, r.parent, secret_outputs_of(r)) for r in resources]
    for request in requests:
        response = servicer.Analyze(request, None)
        violations += _violations(response.diagnostics, request.urn, by_urn)
    stack = proto.AnalyzeStackRequest(
        resources=[stack_resource(STACK_TYPE, root, by_urn[root][1], outputs, None, [], [])]
        + [
            stack_resource(
                r.type,
                r.urn,
                r.name,
                r.inputs,
                r.parent,
                list(getattr(r, "dependencies", []) or []),
                secret_outputs_of(r),
                getattr(r, "property_dependencies", None),
            )
            for r in resources
        ]
    )
    violations += _violations(servicer.AnalyzeStack(stack, None).diagnostics, root, by_urn)
    return sorted(violations, key=lambda v: (not v.mandatory, v.rule, v.urn))


# --- requests, as the engine builds them --------------------------------------------------------------


def configure_request(info: Any, config: Mapping[str, Any]) -> Any:
    """Every policy's level and config: the schema's defaults, then ``config`` (validated like the engine does)."""
    policies = {p.name: p for p in info.policies}
    unknown = sorted(set(config) - set(policies) - {"all"})
    if unknown:
        raise ValueError(f"policy config: unknown rule(s) {', '.join(unknown)}; the pack has {', '.join(policies)}")
    request = proto.ConfigureAnalyzerRequest()
    for name, policy in policies.items():
        schema = json_format.MessageToDict(policy.configSchema.properties)
        level = policy.enforcementLevel
        properties = {k: v["default"] for k, v in schema.items() if "default" in v}
        level, shared = _split("all", config.get("all"), level)
        if shared:
            raise ValueError(f"policy config: `all` takes a level only, not {', '.join(shared)}")
        for given in (config.get(name),):
            level, overrides = _split(name, given, level)
            for key, value in overrides.items():
                if key not in schema:
                    allowed = ", ".join(schema) or "only enforcementLevel"
                    raise ValueError(f"policy config: {name}.{key} is not a setting of the rule ({allowed})")
                _check_type(name, key, value, schema[key])
                properties[key] = value
        policy_config = proto.PolicyConfig(enforcementLevel=level)
        policy_config.properties.update(properties)
        request.policyConfig[name].CopyFrom(policy_config)
    return request


def _split(name: str, given: Any, level: Any) -> tuple[Any, dict[str, Any]]:
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


def _level(name: str, value: Any) -> Any:
    if value not in LEVELS:
        raise ValueError(f"policy config: {name} level {value!r} is not one of {', '.join(LEVELS)}")
    return LEVELS[value]


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


def stack_configure_request(root: str) -> Any:
    parts = root.split("::")
    stack = parts[0].rsplit(":", 1)[-1] if parts else ""
    project = parts[1] if len(parts) > 1 else ""
    return proto.AnalyzerStackConfigureRequest(stack=stack, project=project, dry_run=True)


def to_struct(properties: Mapping[str, Any]) -> struct_pb2.Struct:
    """Properties as the engine marshals them (protobuf ``Struct``: numbers become doubles)."""
    struct = struct_pb2.Struct()
    struct.update({str(k): _jsonable(v) for k, v in properties.items()})
    return struct


def _jsonable(value: Any) -> Any:
    if isinstance(value, Unknown):
        return UNKNOWN_STRING  # how the engine marshals a value a preview cannot know
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def _options(parent: str | None, secret_outputs: Sequence[str]) -> Any:
    return proto.AnalyzerResourceOptions(parent=parent or "", additionalSecretOutputs=list(secret_outputs))


def analyze_request(
    type_: str, urn: str, name: str, inputs: Mapping[str, Any], parent: str | None, secret_outputs: Sequence[str]
) -> Any:
    return proto.AnalyzeRequest(
        type=type_, urn=urn, name=name, properties=to_struct(inputs), options=_options(parent, secret_outputs)
    )


def stack_resource(
    type_: str,
    urn: str,
    name: str,
    properties: Mapping[str, Any],
    parent: str | None,
    dependencies: Sequence[str],
    secret_outputs: Sequence[str],
    property_dependencies: Mapping[str, Iterable[str]] | None = None,
) -> Any:
    return proto.AnalyzerResource(
        type=type_,
        urn=urn,
        name=name,
        properties=to_struct(properties),
        options=_options(parent, secret_outputs),
        parent=parent or "",
        dependencies=list(dependencies),
        propertyDependencies={
            k: proto.AnalyzerPropertyDependencies(urns=list(v)) for k, v in (property_dependencies or {}).items()
        },
    )


def secret_outputs_of(resource: Any) -> list[str]:
    """The resource's ``additionalSecretOutputs``; where the capture did not record them, its secret inputs.

    The SDK sends a resource's schema-secret fields both wrapped as secrets and in additionalSecretOutputs,
    so the wrapped inputs are the same list for every SDK-registered resource.
    """
    recorded = getattr(resource, "additional_secret_outputs", None)
    if recorded is not None:
        return list(recorded)
    inputs = getattr(resource, "inputs", {}) or {}
    return [k for k, v in inputs.items() if isinstance(v, Mapping) and v.get(SECRET_SIG_KEY) == SECRET_SIG]


def root_urn(resources: Sequence[Any]) -> str:
    """The root stack's URN, from the parents of the captured resources."""
    for resource in resources:
        parent = resource.parent or ""
        parts = parent.split("::")
        if len(parts) >= 4 and parts[2] == STACK_TYPE:
            return parent
    return f"urn:pulumi:stack::project::{STACK_TYPE}::project-stack"


def _violations(diagnostics: Iterable[Any], default_urn: str, by_urn: Mapping[str, tuple[str, str]]) -> list[Violation]:
    found = []
    for diagnostic in diagnostics:
        urn = diagnostic.urn or default_urn
        type_, name = by_urn.get(urn, ("", urn.rsplit("::", 1)[-1]))
        message = diagnostic.message
        if diagnostic.description and message.startswith(diagnostic.description + "\n"):
            message = message[len(diagnostic.description) + 1 :]
        found.append(
            Violation(
                rule=diagnostic.policyName,
                level=LEVEL_NAMES.get(diagnostic.enforcementLevel, "advisory"),
                urn=urn,
                name=name,
                type=type_,
                message=message,
            )
        )
    return found


# --- rendering -------------------------------------------------------------------------------------------


def summary(violations: Sequence[Violation]) -> str:
    mandatory = sum(v.mandatory for v in violations)
    if not violations:
        return "Policy pack secrets-platform: no violations."
    return (
        f"Policy pack secrets-platform: {mandatory} mandatory and {len(violations) - mandatory} advisory violation(s)."
    )


def render_text(violations: Sequence[Violation]) -> str:
    """One line per violation, mandatory first: level, then the message (rule, resource, problem, fix)."""
    lines = [summary(violations)]
    lines += [f"  {v.level.upper():<9} {v.message}" for v in violations]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def render_markdown(violations: Sequence[Violation]) -> str:
    """A table for a pull-request comment: level, rule, resource, problem and fix."""
    lines = [f"### {summary(violations)}", ""]
    if not violations:
        return "\n".join(lines)
    lines += ["| level | rule | resource | problem and fix |", "|---|---|---|---|"]
    for v in violations:
        level = f"**{v.level}**" if v.mandatory else v.level
        resource = f"`{_cell(v.name)}` ({_cell(v.type)})" if v.type else f"`{_cell(v.name)}`"
        lines.append(f"| {level} | `{v.rule}` | {resource} | {_cell(v.detail)} |")
    return "\n".join(lines) + "\n"
