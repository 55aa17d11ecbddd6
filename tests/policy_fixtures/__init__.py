"""Fixtures of the policy tests: small Pulumi programs captured under the mock engine.

``capture(program)`` runs a program with ``run_program`` and a monitor that also records each
registration's ``additionalSecretOutputs`` and ``propertyDependencies`` (what the engine hands the
analyzer besides the inputs). ``cases.CASES`` holds, for every rule, programs that fail it and
programs that pass it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from planner.engine import Capture, CaptureMonitor, run_program
from policies.runner import Violation, run_pack


class RecordingMonitor(CaptureMonitor):
    """A capture monitor that also keeps the options the engine passes on to analyzers."""

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        before = len(self.captured)
        response = super().RegisterResource(request)
        if len(self.captured) > before:
            resource = self.captured[-1]
            resource.additional_secret_outputs = list(request.additionalSecretOutputs)  # type: ignore[attr-defined]
            resource.property_dependencies = {  # type: ignore[attr-defined]
                key: list(deps.urns) for key, deps in request.propertyDependencies.items()
            }
        return response


def capture(program: Callable[[], Any]) -> Capture:
    return run_program(program, monitor=RecordingMonitor())


def violations(program: Callable[[], Any], config: Mapping[str, Any] | None = None) -> list[Violation]:
    return run_pack(capture(program), config)


def rules_violated(program: Callable[[], Any], config: Mapping[str, Any] | None = None) -> set[str]:
    return {v.rule for v in violations(program, config)}
