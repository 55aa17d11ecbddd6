"""The pack's verdicts computed directly: every rule function over the stack, each resource decoded once.

``evaluate_resources`` takes the resources of a stack as the engine hands them to an analyzer (type, name,
URN, inputs, outputs, parent, options: ``policies.inputs.PackResource``, or any objects with those
attributes such as the mock engine's captured resources) and returns exactly the ``Violation``s the policy
SDK's analyzer servicer returns for the same ``Analyze`` and ``AnalyzeStack`` calls (``policies.runner``):
the same rules, levels, resources and messages, in the same order. It costs what the rules cost: each
resource's inputs and outputs are decoded once (``wire.decode``), each resource meets only the rules of its
type, and the stack's secret values are indexed once, only when a message needs redacting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from .catalog import RULES
from .core import Judgement, Resource, Rule, judge_resource, judge_stack, stack_secrets
from .credentials import SecretIndex
from .inputs import PackResource, pack_resources
from .settings import resolve_settings
from .verdicts import Violation, on_resource, ordered, preview_message
from .wire import decode_properties

RESOURCE_RULES = tuple(r for r in RULES if r.scope == "resource")
STACK_RULES = tuple(r for r in RULES if r.scope == "stack")


def evaluate_capture(capture: Any, config: Mapping[str, Any] | None = None) -> list[Violation]:
    """The pack over a captured stack (``.resources``, ``.outputs``): what ``runner.run_pack`` says, at rule cost."""
    return evaluate_resources(capture.resources, config, getattr(capture, "outputs", None))


def evaluate_resources(
    resources: Sequence[Any], config: Mapping[str, Any] | None = None, stack_outputs: Mapping[str, Any] | None = None
) -> list[Violation]:
    """Every violation of the pack over a stack's resources, mandatory first.

    ``resources`` are ``PackResource``s (or alike); the root ``pulumi:pulumi:Stack`` may be one of them
    (its outputs the exports), else it is added with ``stack_outputs``. ``config`` has the shape of
    ``--policy-pack-config``; a setting the pack does not declare raises ``ValueError``.
    """
    settings = resolve_settings(RULES, config or {})
    stack = pack_resources(resources, stack_outputs)
    root = stack[0]
    by_urn = {r.urn: (r.type, r.name) for r in stack}
    analyzed = [_decoded(r, r.inputs) for r in stack]

    violations: list[Violation] = []
    for resource in analyzed:
        for rule in _rules_for(resource.type):
            level = settings[rule.name].level
            if level != "disabled":
                judgement = judge_resource(rule, resource, settings[rule.name].properties)
                violations += _violations(rule, level, judgement, on_resource(resource.urn), by_urn)

    outputs = [_decoded(r, r.state) for r in stack]
    secrets = _once(lambda: stack_secrets(outputs))
    for rule in STACK_RULES:
        level = settings[rule.name].level
        if level != "disabled":
            judgement = judge_stack(rule, outputs, settings[rule.name].properties, secrets)
            violations += _violations(
                rule, level, judgement, lambda urn: urn if urn in by_urn else root.urn, by_urn, root.urn
            )
    return ordered(violations)


@cache
def _rules_for(type_token: str) -> tuple[Rule, ...]:
    return tuple(r for r in RESOURCE_RULES if r.applies(type_token))


def _decoded(resource: PackResource, properties: Mapping[str, Any]) -> Resource:
    return Resource(
        type=resource.type,
        name=resource.name,
        urn=resource.urn,
        props=decode_properties(properties),
        parent=resource.parent,
        secret_outputs=frozenset(resource.additional_secret_outputs),
        dependencies=tuple(resource.dependencies),
        property_dependencies={k: tuple(v) for k, v in resource.property_dependencies.items()},
    )


def _once(build: Callable[[], SecretIndex]) -> Callable[[], SecretIndex]:
    built: list[SecretIndex] = []

    def get() -> SecretIndex:
        if not built:
            built.append(build())
        return built[0]

    return get


def _violations(
    rule: Rule,
    level: str,
    judgement: Judgement,
    attribute: Callable[[str], str],
    by_urn: Mapping[str, tuple[str, str]],
    unknown_urn: str | None = None,
) -> list[Violation]:
    """A judgement as the servicer reports it: violations at the rule's level, the cannot-check as an advisory
    (on the resource judged, or for a stack rule on the stack: the SDK reports it without a URN)."""

    def violation(urn: str, level_: str, message: str) -> Violation:
        type_, name = by_urn.get(urn, ("", urn.rsplit("::", 1)[-1]))
        return Violation(rule.name, level_, urn, name, type_, message)

    found = [violation(attribute(urn or ""), level, message) for urn, message in judgement.violations]
    if judgement.cannot_check:
        urn = unknown_urn if unknown_urn is not None else attribute("")
        found.append(violation(urn, "advisory", preview_message(rule.name, judgement.cannot_check)))
    return found
