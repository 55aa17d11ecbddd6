"""GitHub-flavoured markdown for a pull-request comment: the plan's access table and its violations.

Pure functions over the JSON plan (``plan.plan_document``). Every cell goes through ``cell``:
pipes are escaped, newlines become ``<br>`` and HTML-significant characters are entities, so a
value can neither end a cell nor a row, nor inject markup into the comment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .policy import summary


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


def human_seconds(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "—"
    whole = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole >= size and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def lifetime(delivery: Mapping[str, Any]) -> str:
    """Staleness and lease or rotation of one delivered value, e.g. ``stale ≤ 5m; lease 1h (max 8h)``."""
    stale = delivery.get("stalenessSeconds")
    parts = ["never refreshed" if stale is None else f"stale ≤ {human_seconds(stale)}"]
    if delivery.get("leaseTtlSeconds") is not None:
        ttl, most = human_seconds(delivery["leaseTtlSeconds"]), human_seconds(delivery.get("leaseMaxTtlSeconds"))
        parts.append(f"lease {ttl} (max {most})")
    elif delivery.get("rotationPeriodSeconds") is not None:
        parts.append(f"rotated every {human_seconds(delivery['rotationPeriodSeconds'])}")
    return "; ".join(parts)


def deliveries_by_path(workload: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for delivery in workload.get("deliveries") or []:
        grouped.setdefault(str(delivery.get("path")), []).append(delivery)
    return grouped


def delivery_label(delivery: Mapping[str, Any]) -> str:
    return f"{delivery.get('delivery')} → {delivery.get('name')}"


def access_rows(workloads: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    rows = []
    for w in workloads:
        identity = f"{w.get('namespace')}/{w.get('serviceAccount')}"
        token = f"{human_seconds(w.get('tokenTtl'))} (max {human_seconds(w.get('tokenMaxTtl'))})"
        by_path = deliveries_by_path(w)
        access = w.get("access") or {}
        if not access:
            rows.append([code(w.get("name")), code(identity), code(w.get("role")), "—", "—", "—", cell(token)])
        for path, capabilities in access.items():
            delivered = by_path.get(path, [])
            rows.append(
                [
                    code(w.get("name")),
                    code(identity),
                    code(w.get("role")),
                    code(path),
                    cell(", ".join(capabilities)),
                    "<br>".join(cell(delivery_label(d)) for d in delivered) or "none (the app reads Vault)",
                    "<br>".join(cell(f"token {token}; {lifetime(d)}") for d in delivered) or cell(f"token {token}"),
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
        f"{len(workloads)} workload(s), {sum(1 for r in resources if r.get('custom'))} resource(s).",
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
