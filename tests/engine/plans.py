"""The offline plan and the engine, side by side: what each registers and what the policy pack says of it."""

from __future__ import annotations

import json
from typing import Any

from planner.engine import PROJECT_ROOT, run_program
from policies.evaluate import evaluate_capture
from sandbox.engine import Stack

PACK = PROJECT_ROOT / "policies"
Verdict = tuple[str, str, str]  # (rule, resource name, level)
Registration = tuple[str, str, str]  # (type, name, parent type::name)


def urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1] if urn else ""


def urn_type(urn: str) -> str:
    """The resource's own type: the last of the URN's `$`-joined parent types."""
    return urn.split("::")[2].rsplit("$", 1)[-1] if urn.count("::") >= 3 else ""


def parent_id(parent: str) -> str:
    """A parent as ``type::name``; '' for the root stack (or none)."""
    return "" if not parent or urn_type(parent) == "pulumi:pulumi:Stack" else f"{urn_type(parent)}::{urn_name(parent)}"


def engine_verdicts(stack: Stack, *extra: str) -> tuple[set[Verdict], int]:
    """The pack's verdicts in `pulumi preview --policy-pack policies` (the engine's streamed JSON events),
    and the preview's exit code."""
    result = stack.preview(
        "--policy-pack", str(PACK), "--json", *extra, check=False, env={"PULUMI_ENABLE_STREAMING_JSON_PREVIEW": "true"}
    )
    verdicts = set()
    for line in result.stdout.splitlines():
        if not line.startswith("{"):
            continue
        event = json.loads(line).get("policyEvent")
        if event:
            level = event["enforcementLevel"].lower()
            verdicts.add((event["policyName"], urn_name(event.get("resourceUrn", "")), level))
    if not verdicts and result.returncode != 0:
        raise AssertionError(f"the preview failed without a verdict:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return verdicts, result.returncode


def offline_verdicts(config: dict[str, Any], stack: str) -> set[Verdict]:
    """The same stack file through the offline planner's mock engine and the pack's direct evaluation."""
    capture = run_program(PROJECT_ROOT / "__main__.py", config, stack=stack)
    root = f"{capture.resources[0].urn.split('::')[1]}-{stack}" if capture.resources else ""
    return {(v.rule, v.name if v.type != "pulumi:pulumi:Stack" else root, v.level) for v in evaluate_capture(capture)}


def engine_registrations(stack: Stack) -> set[Registration]:
    """Every resource in the stack's state (providers aside): type, name and parent."""
    found = set()
    for resource in stack.resources():
        if resource["type"].startswith("pulumi:providers:") or resource["type"] == "pulumi:pulumi:Stack":
            continue
        found.add((resource["type"], urn_name(resource["urn"]), parent_id(resource.get("parent", ""))))
    return found


def offline_registrations(config: dict[str, Any], stack: str) -> set[Registration]:
    capture = run_program(PROJECT_ROOT / "__main__.py", config, stack=stack)
    return {(r.type, r.name, parent_id(r.parent or "")) for r in capture.resources}
