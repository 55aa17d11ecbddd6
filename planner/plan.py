"""One offline plan: the stack run under the mock engine, the policy pack over it, the access read back.

``build_plan`` is the imperative shell shared by the CLI, the diff (for the current stack) and
the benchmark; ``plan_document`` turns a plan into plain data, the one plan model: the JSON plan
is it as it is, and the text, markdown and HTML renderings, the ``--out`` files and the diff all
read it. It is the same on every run (the capture is in canonical order; see ``engine``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .access import WorkloadAccessView, resource_owners, workload_access
from .engine import PROJECT_ROOT, Capture, mask_secrets, run_program
from .policy import run_policies, violation_dicts
from .progress import Progress
from .remedies import in_stack_terms
from .stack_file import check_engine_config_size, load_stack_config

PLAN_FORMAT = "secrets-platform-plan/1"
STEPS = 4  # read the stack file, run the stack, run the policy pack, render


@dataclass
class Plan:
    stack: str
    path: Path
    capture: Capture
    workloads: list[WorkloadAccessView]
    violations: list[Any] = field(default_factory=list)
    """``policies.runner.Violation``s, mandatory first."""
    owners: dict[str, str] = field(default_factory=dict)
    """URN -> the workload owning that resource (for attributing violations)."""

    @property
    def mandatory(self) -> bool:
        return any(v.level == "mandatory" for v in self.violations)


def stack_name(path: Path) -> str:
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")


def build_plan(
    path: Path,
    policy_config: Mapping[str, Any] | None = None,
    *,
    progress: Progress | None = None,
    program: Path = PROJECT_ROOT / "__main__.py",
    policy: bool = True,
    engine_limit: bool = True,
) -> Plan:
    """Run the stack file ``path`` through the program and the pack. Raises ``SpecError`` for bad config.

    ``engine_limit=False`` plans a stack larger than the engine can pass to a program (the benchmarks measure
    the components at sizes a program composing them reaches)."""
    progress = progress or Progress()
    progress.step("reading the stack file")
    config, secret_keys = load_stack_config(path)
    if engine_limit:
        check_engine_config_size(path, config)
    stack = stack_name(path)
    workloads_declared = config.get("secrets-platform:workloads")
    count = len(workloads_declared) if isinstance(workloads_declared, list) else 0
    progress.step(f"running the stack ({count} workloads): resources registered")
    capture = run_program(
        program, config, stack=stack, secret_keys=secret_keys, on_register=lambda _resource: progress.advance()
    )
    progress.step(f"policy pack over {len(capture.resources)} resources")
    violations = run_policies(capture, policy_config) if policy else []
    progress.step("reading back access and rendering")
    workloads = workload_access(capture)
    owners = resource_owners(capture, workloads) if violations else {}
    return Plan(stack=stack, path=path, capture=capture, workloads=workloads, violations=violations, owners=owners)


def plan_document(plan: Plan) -> dict[str, Any]:
    """The JSON plan: workloads' effective access, violations, every resource with masked inputs, the exports.

    It carries everything ``python -m planner diff`` compares, so a plan written earlier can be a diff's base.
    """
    capture = plan.capture
    return {
        "format": PLAN_FORMAT,
        "stack": plan.stack,
        "workloads": [w.as_dict() for w in plan.workloads],
        "violations": in_stack_terms(violation_dicts(plan.violations, plan.owners)),
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "custom": r.custom,
                "dependsOn": r.dependencies,
                "provider": r.provider,
                "inputs": r.masked_inputs,
            }
            for r in capture.resources
        ],
        "outputs": mask_secrets(capture.outputs),
    }
