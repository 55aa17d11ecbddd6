"""Fixtures of the policy tests: small Pulumi programs captured under the mock engine.

``capture(program)`` runs a program with ``run_program`` and a monitor that also records each
registration's ``propertyDependencies`` (what the engine hands the analyzer besides the inputs and
outputs). ``cases.CASES`` holds, for every rule, programs that fail it and programs that pass it.
``violations`` runs the pack's direct evaluation (what the offline plan runs); ``servicer_violations``
runs the policy SDK's analyzer servicer (what ``pulumi preview --policy-pack`` runs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pulumi

from planner.engine import Capture, CaptureMonitor, run_program
from policies.evaluate import evaluate_capture
from policies.runner import run_pack
from policies.verdicts import Violation


class RecordingMonitor(CaptureMonitor):
    """A capture monitor that also keeps the property dependencies the engine passes on to analyzers."""

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        before = len(self.captured)
        response = super().RegisterResource(request)
        if len(self.captured) > before:
            self.captured[-1].property_dependencies = {  # type: ignore[attr-defined]
                key: list(deps.urns) for key, deps in request.propertyDependencies.items()
            }
        return response


def capture(program: Callable[[], Any]) -> Capture:
    return run_program(program, monitor=RecordingMonitor())


def violations(program: Callable[[], Any], config: Mapping[str, Any] | None = None) -> list[Violation]:
    return evaluate_capture(capture(program), config)


def servicer_violations(program: Callable[[], Any], config: Mapping[str, Any] | None = None) -> list[Violation]:
    return run_pack(capture(program), config)


def rules_violated(program: Callable[[], Any], config: Mapping[str, Any] | None = None) -> set[str]:
    return {v.rule for v in violations(program, config)}


def mandatory_rules(program: Callable[[], Any], config: Mapping[str, Any] | None = None) -> set[str]:
    return {v.rule for v in violations(program, config) if v.mandatory}


def unknown(value: Any = "") -> pulumi.Output[Any]:
    """An output a preview does not know yet (an output of a resource not created): the SDK sends the engine's
    unknown sentinel for it, as for any output of a resource a fresh stack has not created."""
    loop = asyncio.get_event_loop()
    known: asyncio.Future[bool] = loop.create_future()
    known.set_result(False)
    future: asyncio.Future[Any] = loop.create_future()
    future.set_result(value)
    secret: asyncio.Future[bool] = loop.create_future()
    secret.set_result(False)
    return pulumi.Output(set(), future, known, secret)
