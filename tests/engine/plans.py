"""The offline plan and the engine, side by side: what each registers and what the policy pack says of it."""

from __future__ import annotations

import json
from typing import Any

from planner.engine import PROJECT_ROOT, run_program
from policies.evaluate import evaluate_capture
from sandbox.engine import Stack

PACK = PROJECT_ROOT / "policies"
Verdict = tuple[str, str, str]  # (rule, resource name, level)
# How the policy SDK words a rule that cannot judge a value the engine does not know yet (advisory).
CANNOT_CHECK = "can't run policy"
Registration = tuple[str, str, str]  # (type, name, parent type::name)


def urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1] if urn else ""


def urn_type(urn: str) -> str:
    """The resource's own type: the last of the URN's `$`-joined parent types."""
    return urn.split("::")[2].rsplit("$", 1)[-1] if urn.count("::") >= 3 else ""


def parent_id(parent: str) -> str:
    """A parent as ``type::name``; '' for the root stack (or none)."""
    return "" if not parent or urn_type(parent) == "pulumi:pulumi:Stack" else f"{urn_type(parent)}::{urn_name(parent)}"


def engine_verdicts(stack: Stack, *extra: str, unknowns: bool = False) -> tuple[set[Verdict], int]:
    """The pack's verdicts in `pulumi preview --policy-pack policies` (the engine's streamed JSON events),
    and the preview's exit code; without ``unknowns``, the advisories that a value is not known yet (a
    fresh stack's preview) are left out, since the offline plan knows every value."""
    result = stack.preview(
        "--policy-pack", str(PACK), "--json", *extra, check=False, env={"PULUMI_ENABLE_STREAMING_JSON_PREVIEW": "true"}
    )
    verdicts = set()
    for line in result.stdout.splitlines():
        if not line.startswith("{"):
            continue
        event = json.loads(line).get("policyEvent")
        if event and (unknowns or CANNOT_CHECK not in event.get("message", "")):
            level = event["enforcementLevel"].lower()
            verdicts.add((event["policyName"], urn_name(event.get("resourceUrn", "")), level))
    if not verdicts and result.returncode != 0:
        raise AssertionError(f"the preview failed without a verdict:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return verdicts, result.returncode


def offline_verdicts(config: dict[str, Any], stack: str, policy_config: dict[str, Any] | None = None) -> set[Verdict]:
    """The same stack file through the offline planner's mock engine and the pack's direct evaluation
    (`secure:` values, which the planner never decrypts, as secrets of a stand-in value)."""
    secret_keys = [key for key, value in config.items() if "'secure'" in repr(value)]
    plain = {key: _without_secure(value) for key, value in config.items()}
    capture = run_program(PROJECT_ROOT / "__main__.py", plain, stack=stack, secret_keys=secret_keys)
    root = f"{capture.resources[0].urn.split('::')[1]}-{stack}" if capture.resources else ""
    verdicts = evaluate_capture(capture, policy_config)
    return {(v.rule, v.name if v.type != "pulumi:pulumi:Stack" else root, v.level) for v in verdicts}


def _without_secure(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return "secret-not-decrypted"
        return {k: _without_secure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secure(v) for v in value]
    return value


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
