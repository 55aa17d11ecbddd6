"""Renders the plan document (``plan.plan_document``): a text tree, JSON, and the files a user takes away.

Every renderer here, like ``markdown`` and ``html``, reads the same plan document; the shared
words (lifetimes, durations, counts) come from ``wording``. Files: Vault policies as HCL,
Kubernetes objects as YAML manifests (multi-line strings as literal blocks), and chart values
that ``helm -f`` reads as they are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .access import POLICY
from .policy import summary
from .wording import delivery_label, duration, identity, lifetime, resource_count

CHART_TYPES = ("kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Release")
KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"


def plan_text(document: Mapping[str, Any]) -> str:
    """The resource tree, each workload's access and deliveries, generated secrets' rotations, the violations."""
    resources: list[Mapping[str, Any]] = list(document.get("resources") or [])
    lines = [f"Resources: {resource_count(resources)}:"]
    urns = {r.get("urn") for r in resources}
    children: dict[str | None, list[Mapping[str, Any]]] = {}
    for r in resources:
        children.setdefault(r.get("parent") if r.get("parent") in urns else None, []).append(r)

    def walk(parent: str | None, depth: int) -> None:
        for r in children.get(parent, []):
            lines.append(f"{'  ' * (depth + 1)}{r['type']}  {r['name']}")
            walk(r.get("urn"), depth + 1)

    walk(None, 0)
    lines += ["", "Workload access:"]
    for w in document.get("workloads") or []:
        lines.append(f"  {w['name']}  ({identity(w)})")
        lines.append(
            f"    auth mount: {w['authMount']}   role: {w['role']}   "
            f"token ttl: {duration(w.get('tokenTtl'))}, max {duration(w.get('tokenMaxTtl'))}"
        )
        lines.append(f"    policies:   {', '.join(w['policies'])}")
        lines += [f"    {path}: {', '.join(caps)}" for path, caps in w["access"].items()]
        lines += [f"    -> {delivery_label(d)}: {d['path']}, {lifetime(d)}" for d in w.get("deliveries") or []]
    rotations = next_rotations(document)
    if rotations:
        lines += ["", "Generated secrets (rotated by the first `pulumi up` after):"]
        lines += [f"  {path}: {when}" for path, when in rotations.items()]
    lines += ["", *violations_text(document.get("violations") or [])]
    return "\n".join(lines) + "\n"


def next_rotations(document: Mapping[str, Any]) -> dict[str, str]:
    """``<mount>/<path>`` of each rotating generated secret to its next rotation, sorted by path."""
    rotations = (document.get("outputs") or {}).get("nextRotations") or {}
    return dict(sorted(rotations.items())) if isinstance(rotations, Mapping) else {}


def violations_text(violations: Sequence[Mapping[str, Any]]) -> list[str]:
    """The pack's summary, then one line per violation: level, then the message (rule, resource, problem, fix)."""
    return [summary(violations)] + [f"  {v['level'].upper():<9} {v['message']}" for v in violations]


def plan_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


# --- files ----------------------------------------------------------------------------------------


class _ManifestDumper(yaml.SafeDumper):
    """YAML as a person writes it: multi-line strings (a SecretProviderClass's ``objects``) as literal blocks."""


def _string(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_ManifestDumper.add_representer(str, _string)


def manifest_yaml(document: Any) -> str:
    return yaml.dump(document, Dumper=_ManifestDumper, sort_keys=False, allow_unicode=True)


def _file_name(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9_.-]", "-", p) for p in parts if p)


def plan_files(document: Mapping[str, Any]) -> dict[str, str]:
    """Relative path -> content of every file ``--out`` writes, from the plan's (masked) resources.

    ``policies/<name>.hcl``; ``kubernetes/<kind>_<namespace>_<name>.yaml``; ``charts/<resource>.values.yaml``,
    only the values (``helm -f`` reads it), the chart, version and namespace in its first comment lines.
    """
    files: dict[str, str] = {}
    clusters = _cluster_folders(document)
    for r in document.get("resources") or []:
        inputs: Mapping[str, Any] = r.get("inputs") or {}
        if r["type"] == POLICY:
            files[f"policies/{_file_name(str(inputs.get('name', r['name'])))}.hcl"] = str(inputs.get("policy", ""))
        elif r["type"] in CHART_TYPES:
            name = f"{_file_name(r['name'])}.values.yaml"
            files[f"charts/{clusters(r)}{name}"] = chart_values_file(inputs, name)
        elif r.get("custom") and r["type"].startswith("kubernetes:") and "kind" in inputs and "apiVersion" in inputs:
            meta = inputs.get("metadata") or {}
            name = _file_name(inputs["kind"], str(meta.get("namespace", "")), str(meta.get("name", r["name"])))
            files[f"kubernetes/{clusters(r)}{name}.yaml"] = manifest_yaml(kubernetes_object(inputs))
    return dict(sorted(files.items()))


def _cluster_folders(document: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], str]:
    """The sub-folder (``<context>/``) of a Kubernetes resource when the stack has several Kubernetes providers,
    each named by its kubeconfig context (else its resource name); ``""`` with one provider, as before. A chart's
    objects inherit the provider of their component: the nearest ancestor with one decides."""
    resources = document.get("resources") or []
    labels = {
        str(r["urn"]): _file_name(str((r.get("inputs") or {}).get("context") or r["name"]))
        for r in resources
        if r["type"] == KUBERNETES_PROVIDER
    }
    if len(labels) < 2:
        return lambda _r: ""
    by_urn = {str(r["urn"]): r for r in resources}

    def folder(r: Mapping[str, Any]) -> str:
        node: Mapping[str, Any] | None = r
        while node is not None:
            provider = str(node.get("provider") or "")
            urn = next((u for u in labels if provider.startswith(f"{u}::")), None)
            if urn is not None:
                return f"{labels[urn]}/"
            node = by_urn.get(str(node.get("parent") or ""))
        return ""

    return folder


def chart_values_file(inputs: Mapping[str, Any], file_name: str) -> str:
    repo = (inputs.get("repositoryOpts") or {}).get("repo", "")
    release, chart, version, namespace = (inputs.get(k, "") for k in ("name", "chart", "version", "namespace"))
    header = (
        f"# Values of the {chart} chart {version} ({repo}), release {release} in namespace {namespace}:\n"
        f"#   helm upgrade --install {release} {chart} --repo {repo} --version {version} -n {namespace} "
        f"-f {file_name}\n"
    )
    return header + manifest_yaml(inputs.get("values") or {})


def write_files(document: Mapping[str, Any], out: Path) -> list[Path]:
    """Write ``plan_files`` under ``out``; raises OSError when it cannot."""
    written = []
    for relative, content in plan_files(document).items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def kubernetes_object(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A manifest in the usual key order from a Kubernetes resource's engine inputs."""
    head: dict[str, Any] = {k: inputs[k] for k in ("apiVersion", "kind", "metadata") if k in inputs}
    return {**head, **{k: v for k, v in inputs.items() if k not in head}}
