"""Renders a captured plan: a text tree, JSON, and files (policies as HCL, Kubernetes objects as YAML)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from .access import POLICY, WorkloadAccessView
from .engine import Capture
from .policy import summary

CHART_TYPES = ("kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Release")


def plan_text(capture: Capture, workloads: list[WorkloadAccessView], violations: list[dict[str, Any]]) -> str:
    """The resource tree, each workload's access and deliveries, generated secrets' rotations, the violations."""
    lines = [f"Resources ({sum(r.custom for r in capture.resources)} resources, components in between):"]
    children: dict[str | None, list[int]] = {}
    urns = {r.urn for r in capture.resources}
    for i, r in enumerate(capture.resources):
        children.setdefault(r.parent if r.parent in urns else None, []).append(i)

    def walk(parent: str | None, depth: int) -> None:
        for i in children.get(parent, []):
            r = capture.resources[i]
            lines.append(f"{'  ' * (depth + 1)}{r.type}  {r.name}")
            walk(r.urn, depth + 1)

    walk(None, 0)
    lines.append("")
    lines.append("Workload access:")
    for w in workloads:
        lines.append(f"  {w.name}  ({w.namespace}/{w.serviceAccount})")
        lines.append(f"    auth mount: {w.authMount}   role: {w.role}   token ttl: {w.tokenTtl}s, max {w.tokenMaxTtl}s")
        lines.append(f"    policies:   {', '.join(w.policies)}")
        for path, caps in w.access.items():
            lines.append(f"    {path}: {', '.join(caps)}")
        for d in w.deliveries:
            stale = "never refreshed" if d["stalenessSeconds"] is None else f"stale <= {d['stalenessSeconds']}s"
            lease = ""
            if d.get("leaseTtlSeconds") is not None:
                lease = f", lease {d['leaseTtlSeconds']}s (max {d['leaseMaxTtlSeconds']}s), renewed by {d['renewedBy']}"
            elif d.get("rotationPeriodSeconds") is not None:
                lease = f", password rotated every {d['rotationPeriodSeconds']}s, re-read by {d['renewedBy']}"
            lines.append(f"    -> {d['name']} via {d['delivery']}: {d['path']}, {stale}{lease}")
    rotations = capture.outputs.get("nextRotations") or {}
    if rotations:
        lines += ["", "Generated secrets (rotated by the first `pulumi up` after):"]
        lines += [f"  {path}: {when}" for path, when in sorted(rotations.items())]
    lines += ["", *violations_text(violations)]
    return "\n".join(lines) + "\n"


def violations_text(violations: list[dict[str, Any]]) -> list[str]:
    """The pack's summary, then one line per violation: level, then the message (rule, resource, problem, fix)."""
    return [summary(violations)] + [f"  {v['level'].upper():<9} {v['message']}" for v in violations]


def plan_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def _file_name(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9_.-]", "-", p) for p in parts if p)


def write_files(capture: Capture, out: Path) -> list[Path]:
    """Vault policies as ``policies/<name>.hcl``; Kubernetes objects as ``kubernetes/<kind>_<ns>_<name>.yaml``."""
    written: list[Path] = []
    for r in capture.resources:
        inputs = r.masked_inputs
        if r.type == POLICY:
            path = out / "policies" / f"{_file_name(str(inputs.get('name', r.name)))}.hcl"
            content = str(inputs.get("policy", ""))
        elif r.type in CHART_TYPES:
            path = out / "charts" / f"{_file_name(r.name)}.values.yaml"
            chart = {k: inputs.get(k) for k in ("chart", "version", "namespace", "repositoryOpts")}
            content = yaml.safe_dump({"chart": chart, "values": inputs.get("values", {})}, sort_keys=False)
        elif r.custom and r.type.startswith("kubernetes:") and "kind" in inputs and "apiVersion" in inputs:
            meta = inputs.get("metadata") or {}
            path = (
                out
                / "kubernetes"
                / (_file_name(inputs["kind"], str(meta.get("namespace", "")), str(meta.get("name", r.name))) + ".yaml")
            )
            content = yaml.safe_dump(kubernetes_object(inputs), sort_keys=False)
        else:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        written.append(path)
    return written


def kubernetes_object(inputs: dict[str, Any]) -> dict[str, Any]:
    """A manifest in the usual key order from a Kubernetes resource's engine inputs."""
    head: dict[str, Any] = {k: inputs[k] for k in ("apiVersion", "kind", "metadata") if k in inputs}
    return {**head, **{k: v for k, v in inputs.items() if k not in head}}
