"""The policy pack in the offline plan: its config file, its run, and its violations as plan data.

The pack's rule functions run directly over the capture (``policies.evaluate``): each resource's inputs
and outputs decoded once, the rules of its type only. Tests prove the verdicts and messages are those of
the policy SDK's analyzer servicer, the path ``pulumi preview --policy-pack`` takes (``policies.runner``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .engine import Capture, CapturedResource

WORKLOAD_ACCESS = "vaultk8s:index:WorkloadAccess"


class PlanError(Exception):
    """A plan cannot be made (other than bad stack config, a ``SpecError``); the message is one line."""


def load_policy_config(path: Path) -> dict[str, Any]:
    """Rule overrides from a JSON or YAML file, in ``--policy-pack-config`` shape (checked by the pack)."""
    if not path.is_file():
        raise PlanError(f"--policy-config {path}: no such file")
    try:
        document = yaml.safe_load(path.read_text())  # YAML reads JSON as well
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise PlanError(f"--policy-config {path.name}: not valid JSON or YAML{where}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise PlanError(
            f"--policy-config {path.name}: a {type(document).__name__}, not a mapping of rule name to level or settings"
        )
    return document


def run_policies(capture: Capture, config: Mapping[str, Any] | None) -> list[Any]:
    """Every violation of the pack over the capture (``policies.verdicts.Violation``), mandatory first.

    A config the pack does not declare raises ``PlanError`` naming the rule and what is allowed.
    """
    from policies.evaluate import evaluate_capture  # the pack imports the policy SDK: only when a plan needs it

    from .engine import tuned_gc

    try:
        with tuned_gc():
            return evaluate_capture(capture, dict(config or {}))
    except ValueError as error:
        raise PlanError(f"--policy-config: {error}") from None


def violation_workloads(capture: Capture, workloads: Sequence[Any]) -> dict[str, str]:
    """URN -> workload name, for resources a workload owns.

    A resource belongs to a workload when its WorkloadAccess component is an ancestor (its role,
    policy, service account), or when it is a namespaced object in the namespace of exactly one
    workload (its SecretStore, ExternalSecret, SecretProviderClass).
    """
    by_urn = capture.by_urn()
    names = {w.name for w in workloads}
    by_namespace: dict[str, list[str]] = {}
    for w in workloads:
        by_namespace.setdefault(w.namespace, []).append(w.name)
    owners: dict[str, str] = {}
    for resource in capture.resources:
        owner = _access_owner(resource, by_urn)
        if owner is not None:
            platform = by_urn.get(owner.parent or "")
            name = owner.name.removeprefix(f"{platform.name}-" if platform is not None else "")
            if name in names:
                owners[resource.urn] = name
                continue
        metadata = resource.inputs.get("metadata")
        namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
        if isinstance(namespace, str) and len(by_namespace.get(namespace, [])) == 1:
            owners[resource.urn] = by_namespace[namespace][0]
    return owners


def _access_owner(resource: CapturedResource, by_urn: Mapping[str, CapturedResource]) -> CapturedResource | None:
    current: CapturedResource | None = resource
    for _ in range(64):  # parents form a tree; the bound only guards against a malformed capture
        if current is None:
            return None
        if current.type == WORKLOAD_ACCESS:
            return current
        current = by_urn.get(current.parent or "")
    return None


def violation_dicts(violations: Sequence[Any], owners: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Violations as the plan's JSON carries them: rule, level, resource, type, urn, workload, message, detail."""
    return [
        {
            "rule": v.rule,
            "level": v.level,
            "resource": v.name,
            "type": v.type,
            "urn": v.urn,
            "workload": (owners or {}).get(v.urn),
            "message": v.message,
            "detail": v.detail,
        }
        for v in violations
    ]


def summary(violations: Sequence[Mapping[str, Any]]) -> str:
    mandatory = sum(v["level"] == "mandatory" for v in violations)
    if not violations:
        return "Policy pack secrets-platform: no violations."
    return (
        f"Policy pack secrets-platform: {mandatory} mandatory and {len(violations) - mandatory} advisory violation(s)."
    )
