"""What the engine hands the pack about a stack: every resource with its inputs, outputs and options.

``PackResource`` is one resource as the engine knows it: ``Analyze`` gets its inputs, ``AnalyzeStack`` its
outputs (the root stack's outputs are the exports). Values may be in the engine's wire form (secrets
wrapped in the secret signature, unknowns as the unknown sentinel or ``pulumi.output.Unknown``).
``pack_resources`` turns a capture of the mock engine (or any objects with the same attributes) into that
list, root stack first, as the engine registers it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .core import STACK_TYPE
from .wire import is_secret


@dataclass(frozen=True)
class PackResource:
    """One resource as the engine hands it to an analyzer."""

    type: str
    name: str
    urn: str
    inputs: Mapping[str, Any]
    """What ``Analyze`` sees: the resource's inputs."""
    outputs: Mapping[str, Any] | None = None
    """What ``AnalyzeStack`` sees: the resource's outputs (None: its inputs)."""
    parent: str | None = None
    additional_secret_outputs: Sequence[str] = ()
    dependencies: Sequence[str] = ()
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @property
    def state(self) -> Mapping[str, Any]:
        return self.inputs if self.outputs is None else self.outputs


def secret_outputs_of(resource: Any) -> list[str]:
    """The resource's ``additionalSecretOutputs``; where a capture did not record them, its secret inputs.

    The SDK sends a resource's schema-secret fields both wrapped as secrets and in additionalSecretOutputs,
    so the wrapped inputs are the same list for every SDK-registered resource.
    """
    recorded = getattr(resource, "additional_secret_outputs", None)
    if recorded is not None:
        return list(recorded)
    inputs = getattr(resource, "inputs", {}) or {}
    return [k for k, v in inputs.items() if is_secret(v)]


def root_urn(resources: Iterable[Any]) -> str:
    """The root stack's URN: the stack resource's, else the parent of the resources it owns."""
    parents = []
    for resource in resources:
        if getattr(resource, "type", None) == STACK_TYPE:
            return str(resource.urn)
        parents.append(getattr(resource, "parent", None) or "")
    for parent in parents:
        parts = parent.split("::")
        if len(parts) >= 4 and parts[2] == STACK_TYPE:
            return parent
    return f"urn:pulumi:stack::project::{STACK_TYPE}::project-stack"


def pack_resource(resource: Any) -> PackResource:
    """A captured resource (``planner.engine.CapturedResource`` or alike) as the engine hands it over."""
    if isinstance(resource, PackResource):
        return resource
    return PackResource(
        type=resource.type,
        name=resource.name,
        urn=resource.urn,
        inputs=resource.inputs,
        outputs=getattr(resource, "outputs", None),
        parent=resource.parent,
        additional_secret_outputs=secret_outputs_of(resource),
        dependencies=list(getattr(resource, "dependencies", None) or ()),
        property_dependencies=dict(getattr(resource, "property_dependencies", None) or {}),
    )


def pack_resources(resources: Sequence[Any], stack_outputs: Mapping[str, Any] | None = None) -> list[PackResource]:
    """Every resource of a stack, root stack first (with ``stack_outputs`` as its outputs, if it is not listed)."""
    converted = [pack_resource(r) for r in resources]
    if any(r.type == STACK_TYPE for r in converted):
        return sorted(converted, key=lambda r: r.type != STACK_TYPE)
    root = root_urn(converted)
    stack = PackResource(STACK_TYPE, root.rsplit("::", 1)[-1], root, {}, dict(stack_outputs or {}))
    return [stack, *converted]
