"""Thin adapters from the pure rules to the policy SDK: ``ResourceValidationPolicy`` and ``StackValidationPolicy``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import Severity as SdkSeverity
from pulumi_policy.proxy import UnknownValueError

from .core import UNKNOWN, Resource, Rule, evaluate_resource, evaluate_stack, is_unknown


def plain(value: Any) -> Any:
    """The SDK's unknown-checking proxies as plain data; an unknown value becomes ``UNKNOWN`` instead of raising."""
    if isinstance(value, str | bytes):
        return UNKNOWN if isinstance(value, str) and is_unknown(value) else value
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except UnknownValueError:
                result[key] = UNKNOWN
        return result
    if isinstance(value, Sequence):
        out: list[Any] = []
        for i in range(len(value)):
            try:
                out.append(plain(value[i]))
            except UnknownValueError:
                out.append(UNKNOWN)
        return out
    return value


def resource_from_args(args: ResourceValidationArgs) -> Resource:
    return Resource(
        type=args.resource_type,
        name=args.name,
        urn=args.urn,
        props=plain(args.props),
        parent=args.opts.parent,
        secret_outputs=frozenset(args.opts.additional_secret_outputs or ()),
    )


def resource_from_stack(resource: PolicyResource) -> Resource:
    return Resource(
        type=resource.resource_type,
        name=resource.name,
        urn=resource.urn,
        props=plain(resource.props),
        parent=resource.parent.urn if resource.parent is not None else None,
        secret_outputs=frozenset(resource.opts.additional_secret_outputs or ()),
        dependencies=tuple(d.urn for d in resource.dependencies),
        property_dependencies={k: tuple(d.urn for d in v) for k, v in resource.property_dependencies.items()},
    )


def to_policy(rule: Rule) -> Policy:
    """The SDK policy of a rule: same name, description, level, schema and remediation; the check does the work."""
    schema = PolicyConfigSchema(properties={p.name: dict(p.schema) for p in rule.params}) if rule.params else None
    common: dict[str, Any] = {
        "name": rule.name,
        "description": rule.description,
        "enforcement_level": EnforcementLevel(rule.level.value),
        "config_schema": schema,
        "severity": SdkSeverity(rule.severity.value),
        "remediation_steps": rule.remediation,
        "url": rule.url,
        "tags": [rule.scope],
    }
    if rule.scope == "resource":

        def validate_resource(args: ResourceValidationArgs, report: ReportViolation) -> None:
            if not rule.applies(args.resource_type):
                return
            for finding in evaluate_resource(rule, resource_from_args(args), args.get_config()):
                report(finding.message, None)

        return ResourceValidationPolicy(validate=validate_resource, **common)

    def validate_stack(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = [resource_from_stack(r) for r in args.resources]
        for finding in evaluate_stack(rule, resources, args.get_config()):
            report(finding.message, finding.urn)

    return StackValidationPolicy(validate=validate_stack, **common)
