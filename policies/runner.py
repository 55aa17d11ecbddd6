"""Runs the pack in-process through the policy SDK's own analyzer servicer, the way the engine drives it.

This is the path ``pulumi preview --policy-pack policies`` takes, kept for the tests that prove the direct
evaluation (``policies.evaluate``) gives the same verdicts. ``run_servicer`` calls the servicer's RPC methods
with the messages the engine would send over gRPC:

1. ``GetAnalyzerInfo`` for the policies, their default levels and config schemas;
2. ``Configure`` with every policy's level and config (``policies.settings``);
3. ``Analyze`` once per registered resource (its inputs as a protobuf ``Struct``, secrets still wrapped in
   the engine's secret signature, unknowns as the engine's sentinel);
4. ``AnalyzeStack`` once with every resource's *outputs*, the root ``pulumi:pulumi:Stack`` carrying the exports.

The servicer is the class ``PolicyPack`` serves (``pulumi_policy.policy._PolicyAnalyzerServicer``), built with
the same arguments. Diagnostics become ``Violation``s the way the engine attributes them: a resource's to
the resource analyzed, a stack rule's to the URN it names if that is a resource of the stack, else the stack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from google.protobuf import empty_pb2
from pulumi.runtime import proto
from pulumi_policy.policy import _PolicyAnalyzerServicer

from .catalog import RULES
from .inputs import PackResource, pack_resources
from .pack import DESCRIPTION, DISPLAY_NAME, ENFORCEMENT_LEVEL, build_policies
from .settings import resolve_settings
from .verdicts import PACK_NAME, PACK_VERSION, Violation, on_resource, ordered
from .wire import to_struct

LEVELS = {"advisory": proto.ADVISORY, "mandatory": proto.MANDATORY, "disabled": proto.DISABLED}
LEVEL_NAMES = {
    proto.ADVISORY: "advisory",
    proto.MANDATORY: "mandatory",
    proto.DISABLED: "disabled",
    proto.REMEDIATE: "remediate",
}


def analyzer_servicer() -> _PolicyAnalyzerServicer:
    """A fresh servicer built exactly as ``PolicyPack.__init__`` builds the one it serves."""
    return _PolicyAnalyzerServicer(
        PACK_NAME,
        PACK_VERSION,
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
    """Every violation of the pack over a captured stack (``.resources``, ``.outputs``), mandatory first."""
    return run_servicer(pack_resources(capture.resources, getattr(capture, "outputs", None)), config)


def run_servicer(resources: Sequence[PackResource], config: Mapping[str, Any] | None = None) -> list[Violation]:
    """The servicer's verdicts over ``pack_resources(...)`` (root stack first).

    ``config`` has the shape of ``--policy-pack-config``; a setting the pack does not declare raises
    ``ValueError`` naming the rule, the key and what is allowed.
    """
    servicer = analyzer_servicer()
    servicer.GetAnalyzerInfo(empty_pb2.Empty(), None)
    servicer.Configure(configure_request(config or {}), None)
    root = resources[0].urn
    servicer.ConfigureStack(stack_configure_request(root), None)
    by_urn = {r.urn: (r.type, r.name) for r in resources}

    violations: list[Violation] = []
    for r in resources:
        request = proto.AnalyzeRequest(
            type=r.type,
            urn=r.urn,
            name=r.name,
            properties=to_struct(r.inputs),
            options=_options(r.parent, r.additional_secret_outputs),
        )
        diagnostics = servicer.Analyze(request, None).diagnostics
        violations += _violations(diagnostics, by_urn, on_resource(r.urn))
    stack = proto.AnalyzeStackRequest(resources=[_stack_resource(r) for r in resources])
    diagnostics = servicer.AnalyzeStack(stack, None).diagnostics
    violations += _violations(diagnostics, by_urn, lambda urn: urn if urn in by_urn else root)
    return ordered(violations)


# --- requests, as the engine builds them --------------------------------------------------------------


def configure_request(config: Mapping[str, Any]) -> Any:
    """Every policy's level and config: the schema's defaults, then ``config`` (validated like the engine does)."""
    request = proto.ConfigureAnalyzerRequest()
    for name, settings in resolve_settings(RULES, config).items():
        policy_config = proto.PolicyConfig(enforcementLevel=LEVELS[settings.level])
        policy_config.properties.update(dict(settings.properties))
        request.policyConfig[name].CopyFrom(policy_config)
    return request


def stack_configure_request(root: str) -> Any:
    parts = root.split("::")
    stack = parts[0].rsplit(":", 1)[-1] if parts else ""
    project = parts[1] if len(parts) > 1 else ""
    return proto.AnalyzerStackConfigureRequest(stack=stack, project=project, dry_run=True)


def _options(parent: str | None, secret_outputs: Sequence[str]) -> Any:
    return proto.AnalyzerResourceOptions(parent=parent or "", additionalSecretOutputs=list(secret_outputs))


def _stack_resource(resource: PackResource) -> Any:
    return proto.AnalyzerResource(
        type=resource.type,
        urn=resource.urn,
        name=resource.name,
        properties=to_struct(resource.state),
        options=_options(resource.parent, resource.additional_secret_outputs),
        parent=resource.parent or "",
        dependencies=list(resource.dependencies),
        propertyDependencies={
            k: proto.AnalyzerPropertyDependencies(urns=list(v)) for k, v in resource.property_dependencies.items()
        },
    )


def _violations(
    diagnostics: Iterable[Any], by_urn: Mapping[str, tuple[str, str]], attribute: Callable[[str], str]
) -> list[Violation]:
    """Diagnostics as violations; ``attribute`` maps a diagnostic's URN to the resource the engine reports it on."""
    found = []
    for diagnostic in diagnostics:
        urn = attribute(diagnostic.urn)
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
