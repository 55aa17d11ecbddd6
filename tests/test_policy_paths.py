"""The pack's two paths agree: the direct evaluation (the offline plan) and the policy SDK's analyzer servicer.

``pulumi preview --policy-pack policies`` drives the servicer (``Analyze`` per resource with its inputs,
``AnalyzeStack`` with every resource's outputs); the offline plan evaluates the rule functions directly over
the capture. Both must give the same violations, levels, resources and messages, in the same order, for
every fixture, for the dev and full stacks, for a broken stack and for a preview where nothing is known yet.
The direct path decodes each resource once and its stack rules are linear.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest

import policies.evaluate as evaluate_module
from planner.engine import PROJECT_ROOT, Capture, run_program
from planner.stack_file import load_stack_config
from policies import stack as stack_rules
from policies.credentials import SecretIndex
from policies.evaluate import evaluate_capture, evaluate_resources
from policies.inputs import PackResource
from policies.runner import run_pack
from policies.verdicts import Violation
from tests.policy_fixtures import RecordingMonitor, capture
from tests.policy_fixtures.cases import CASES
from tests.test_planner_policy import broken_stack

FULL = PROJECT_ROOT / "examples" / "Pulumi.full.yaml"
FULL_POLICY = PROJECT_ROOT / "examples" / "Pulumi.full.policy.json"


def _programs() -> list[Any]:
    return [
        pytest.param(program, id=f"{rule}-{kind}-{i}")
        for rule, case in CASES.items()
        for kind, programs in (("fails", case.fails), ("passes", case.passes))
        for i, program in enumerate(programs)
    ]


def assert_same(captured: Capture, config: dict[str, Any] | None = None) -> list[Violation]:
    direct, served = evaluate_capture(captured, config), run_pack(captured, config)
    assert direct == served
    return direct


@pytest.mark.parametrize("program", _programs())
def test_both_paths_agree_on_every_fixture(program: Callable[[], Any]) -> None:
    assert_same(capture(program))


def stack_capture(path: Path, monitor: RecordingMonitor | None = None) -> Capture:
    config, secret_keys = load_stack_config(path)
    return run_program(
        PROJECT_ROOT / "__main__.py",
        config,
        stack=path.name.split(".")[1],
        secret_keys=secret_keys,
        monitor=monitor or RecordingMonitor(),
    )


def test_both_paths_agree_on_the_dev_and_full_stacks(tmp_path: Path) -> None:
    assert assert_same(stack_capture(PROJECT_ROOT / "Pulumi.dev.yaml")) == []
    full_policy = json.loads(FULL_POLICY.read_text())
    assert assert_same(stack_capture(FULL), full_policy) == []
    assert {v.rule for v in assert_same(stack_capture(FULL))} == set(full_policy)  # what its policy config allows
    broken = assert_same(stack_capture(broken_stack(tmp_path)))
    assert any(v.mandatory for v in broken)


def fresh_stack(captured: Capture) -> Capture:
    """The capture as a first preview sees it: every input that comes from another resource, and every output a
    provider computes, is unknown (the SDK sends the engine's unknown sentinel for them)."""
    unknown = pulumi.output.Unknown()
    for resource in captured.resources:
        fed = getattr(resource, "property_dependencies", {}) or {}
        resource.inputs = {k: unknown if fed.get(k) else v for k, v in resource.inputs.items()}
        computed = {k: unknown for k in (resource.outputs or {}) if k not in resource.inputs}
        resource.outputs = {**(resource.outputs or {}), **computed, **{k: unknown for k in fed if fed[k]}}
    captured.outputs = {k: unknown for k in captured.outputs}
    return captured


@pytest.mark.parametrize("path", [PROJECT_ROOT / "Pulumi.dev.yaml", FULL], ids=["dev", "full"])
def test_a_fresh_stack_preview_agrees_and_has_no_mandatory_violation(path: Path) -> None:
    captured = fresh_stack(stack_capture(path))
    unknowns = sum(isinstance(v, pulumi.output.Unknown) for r in captured.resources for v in r.inputs.values())
    # The components pass names they know as plain values; what still comes from another resource is unknown.
    assert unknowns >= 1
    config = json.loads(FULL_POLICY.read_text()) if path == FULL else None
    found = assert_same(captured, config)
    assert [v.message for v in found if v.mandatory] == []
    assert found and all(v.message.startswith("can't run policy '") for v in found)


def test_the_engine_interface_takes_a_list_of_resources() -> None:
    """What the lead's engine test feeds: resources with type, URN, inputs, outputs, parent and options."""
    root = "urn:pulumi:ci::secrets-platform::pulumi:pulumi:Stack::secrets-platform-ci"
    role = PackResource(
        type="vault:kubernetes/authBackendRole:AuthBackendRole",
        name="app-role",
        urn="urn:pulumi:ci::secrets-platform::vault:kubernetes/authBackendRole:AuthBackendRole::app-role",
        inputs={"backend": "kubernetes", "roleName": "app", "boundServiceAccountNames": ["*"], "tokenTtl": 900},
        outputs={"backend": "kubernetes", "roleName": "app", "boundServiceAccountNames": ["*"], "tokenTtl": 900},
        parent=root,
    )
    stack = PackResource("pulumi:pulumi:Stack", "secrets-platform-ci", root, {}, {"authMount": "kubernetes"})
    found = evaluate_resources([stack, role])
    assert evaluate_resources([role], stack_outputs={"authMount": "kubernetes"}) == found
    rules = {(v.rule, v.name) for v in found if v.mandatory}
    assert ("vault-role-no-glob-bindings", "app-role") in rules
    assert ("vault-audit-device-present", "secrets-platform-ci") in rules


def test_the_direct_path_decodes_each_resource_once(monkeypatch: pytest.MonkeyPatch) -> None:
    captured = stack_capture(FULL)
    calls: list[int] = []
    real = evaluate_module.decode_properties

    def counting(properties: Any) -> dict[str, Any]:
        calls.append(1)
        return real(properties)

    monkeypatch.setattr(evaluate_module, "decode_properties", counting)
    evaluate_capture(captured)
    stack = len(captured.resources) + 1
    assert len(calls) == 2 * stack, "inputs once (Analyze) and outputs once (AnalyzeStack), whatever the rule count"


def test_secret_search_in_outputs_costs_the_same_for_10_or_1000_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """no-secret-in-stack-outputs compared every output leaf with every secret value; now each leaf is scanned once,
    at a cost that does not depend on how many secrets the stack holds."""
    searched: list[str] = []
    real = SecretIndex.found_in

    def counting(self: SecretIndex, text: str) -> bool:
        searched.append(text)
        return real(self, text)

    monkeypatch.setattr(SecretIndex, "found_in", counting)

    def program(secrets: int) -> Callable[[], None]:
        def run() -> None:
            import pulumi_kubernetes as k8s

            for i in range(secrets):
                k8s.core.v1.Secret(f"s{i}", string_data={"k": f"value-{i:06d}-of-the-stack"})
            pulumi.export("settings", {f"key{i}": f"https://svc-{i}.example.com/path" for i in range(200)})

        return run

    for secrets in (10, 1000):
        searched.clear()
        judged = evaluate_capture(capture(program(secrets)))
        assert not [v for v in judged if v.rule == stack_rules.no_secret_in_outputs.name]
        assert len(searched) == 200, "one search per output leaf"

    probes: list[int] = []
    match_at = SecretIndex._match_at

    def counting_probes(self: SecretIndex, text: str, i: int) -> str | None:
        probes.append(1)
        return match_at(self, text, i)

    monkeypatch.setattr(SecretIndex, "_match_at", counting_probes)

    def cost(secrets: int) -> int:
        probes.clear()
        index = SecretIndex(f"value-{i:06d}-of-the-stack" for i in range(secrets))
        assert not any(real(index, leaf) for leaf in searched)
        return len(probes)

    assert cost(10) == cost(1000)
