"""Thin adapters from the pure rules to the policy SDK: ``ResourceValidationPolicy`` and ``StackValidationPolicy``.

A judgement's violations are reported at the policy's level. What a rule could not check because of an
unknown is raised as the SDK's own ``UnknownValueError`` after them: the SDK reports it as an advisory
"can't run policy ... during preview" diagnostic (for the resource analyzed, or the stack), which is how
CrossGuard says a preview cannot decide.
"""

from __future__ import annotations

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

from .core import Judgement, Resource, Rule, judge_resource, judge_stack
from .wire import UNKNOWN_STRING, decode_properties


class CannotCheckDuringPreviewError(UnknownValueError):
    """The SDK's unknown-value error carrying the pack's own detail (which resource, which fields)."""

    def __init__(self, detail: str) -> None:
        Exception.__init__(self, detail)
        self.unknown_type_sentinel = UNKNOWN_STRING
        self.message = detail


def resource_from_args(args: ResourceValidationArgs) -> Resource:
    return Resource(
        type=args.resource_type,
        name=args.name,
        urn=args.urn,
        props=decode_properties(args.props),
        parent=args.opts.parent,
        secret_outputs=frozenset(args.opts.additional_secret_outputs or ()),
    )


def resource_from_stack(resource: PolicyResource) -> Resource:
    return Resource(
        type=resource.resource_type,
        name=resource.name,
        urn=resource.urn,
        props=decode_properties(resource.props),
        parent=resource.parent.urn if resource.parent is not None else None,
        secret_outputs=frozenset(resource.opts.additional_secret_outputs or ()),
        dependencies=tuple(d.urn for d in resource.dependencies),
        property_dependencies={k: tuple(d.urn for d in v) for k, v in resource.property_dependencies.items()},
    )


def _report(judgement: Judgement, report: ReportViolation) -> None:
    for urn, message in judgement.violations:
        report(message, urn)
    if judgement.cannot_check:
        raise CannotCheckDuringPreviewError(judgement.cannot_check)


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
            if rule.applies(args.resource_type):
                _report(judge_resource(rule, resource_from_args(args), args.get_config()), report)

        return ResourceValidationPolicy(validate=validate_resource, **common)

    def validate_stack(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = [resource_from_stack(r) for r in args.resources]
        _report(judge_stack(rule, resources, args.get_config()), report)

    return StackValidationPolicy(validate=validate_stack, **common)
