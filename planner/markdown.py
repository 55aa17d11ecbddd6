"""GitHub-flavoured markdown for a pull-request comment: the plan's access table and its violations.

Pure functions over the JSON plan (``plan.plan_document``). Every cell goes through ``cell``:
pipes are escaped, newlines become ``<br>`` and HTML-significant characters are entities, so a
value can neither end a cell nor a row, nor inject markup into the comment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .policy import summary
from .wording import delivery_label, identity, lifetime, resource_count, token


def cell(value: Any) -> str:
    """Text for a table cell: HTML-escaped, pipes and backslashes escaped, newlines as ``<br>``."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\\", "&#92;")
    text = text.replace("|", "\\|")
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def code(value: Any) -> str:
    """Inline code for a cell (entities would show verbatim in a code span, so only what breaks the table goes)."""
    text = "" if value is None else str(value)
    text = " ".join(text.replace("`", "'").split("\n")).replace("\r", " ").replace("|", "\\|")
    return f"`{text}`" if text else ""


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A markdown table; cells are taken as already escaped (use ``cell``/``code``)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def deliveries_by_path(workload: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for delivery in workload.get("deliveries") or []:
        grouped.setdefault(str(delivery.get("path")), []).append(delivery)
    return grouped


def access_rows(workloads: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    rows = []
    for w in workloads:
        who, lease = identity(w), token(w)
        by_path = deliveries_by_path(w)
        access = w.get("access") or {}
        if not access:
            rows.append([code(w.get("name")), code(who), code(w.get("role")), "-", "-", "-", cell(lease)])
        for path, capabilities in access.items():
            delivered = by_path.get(path, [])
            rows.append(
                [
                    code(w.get("name")),
                    code(who),
                    code(w.get("role")),
                    code(path),
                    cell(", ".join(capabilities)),
                    "<br>".join(cell(delivery_label(d)) for d in delivered) or "none (the app reads Vault)",
                    "<br>".join(cell(f"{lease}; {lifetime(d)}") for d in delivered) or cell(lease),
                ]
            )
    return rows


def violation_rows(violations: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    rows = []
    for v in violations:
        level = f"**{v['level']}**" if v["level"] == "mandatory" else cell(v["level"])
        resource = code(v.get("resource"))
        if v.get("type"):
            resource += f" ({cell(v['type'])})"
        rows.append([level, code(v.get("rule")), resource, cell(v.get("detail") or v.get("message"))])
    return rows


def violations_markdown(violations: Sequence[Mapping[str, Any]], heading: str = "###") -> list[str]:
    lines = [f"{heading} {cell(summary(violations))}", ""]
    if violations:
        lines += table(("level", "rule", "resource", "problem and fix"), violation_rows(violations))
        lines.append("")
    return lines


def plan_markdown(document: Mapping[str, Any]) -> str:
    """The plan as a pull-request comment: who may read what (and how), then the policy violations."""
    workloads = document.get("workloads") or []
    violations = document.get("violations") or []
    resources = document.get("resources") or []
    stack = document.get("stack") or "?"
    lines = [
        f"## Offline plan of stack `{cell(stack)}`",
        "",
        f"{len(workloads)} workload(s), {resource_count(resources)}.",
        "",
        "### Workload access",
        "",
    ]
    lines += table(
        ("workload", "namespace/service account", "Vault role", "path", "capabilities", "delivery", "lifetime"),
        access_rows(workloads),
    )
    lines.append("")
    lines += violations_markdown(violations)
    return "\n".join(lines)
