"""What a change to the stack does to access: a pure comparison of two JSON plans, and its renderings.

``diff_plans(base, head)`` compares two plan documents (``plan.plan_document``; a plan from an
older planner may lack keys and is read as empty there) and returns plain data:

- ``grants``: one entry per (workload, Vault path) whose capabilities differ, with the
  capabilities ``added`` and ``removed``, ``before`` and ``after``, and the deliveries of that
  path (head's, or base's for a removed grant);
- ``deliveries``: delivered values added or removed, keyed by (workload, path, name, delivery);
- ``lifetimes``: a changed token TTL or max TTL, staleness, lease TTL or max, or rotation period;
- ``workloads``: workloads added or removed, and identity changes (cluster, namespace, service
  account, auth mount, role);
- ``violations``: policy violations new in head, and those resolved;
- ``resources``: resources added, removed or changed (by type and name; inputs compared masked);
- ``widened`` and ``reasons``: access widened when a (workload, path, capability) is added (a new
  workload with any grant included, an existing grant gaining a capability), or when a workload
  with grants is bound to another identity (another service account, or the same names in another
  cluster, now gets its grants).
  A new delivery of an existing grant, a longer lifetime or a new violation is reported, not widening.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .markdown import cell, code, table, violation_rows
from .wording import delivery_label, duration

IDENTITY_FIELDS = ("cluster", "namespace", "serviceAccount", "authMount", "role")
TOKEN_FIELDS = ("tokenTtl", "tokenMaxTtl")
DELIVERY_LIFETIMES = ("stalenessSeconds", "leaseTtlSeconds", "leaseMaxTtlSeconds", "rotationPeriodSeconds")
FIELD_LABELS = {
    "tokenTtl": "token TTL",
    "tokenMaxTtl": "token max TTL",
    "stalenessSeconds": "staleness",
    "leaseTtlSeconds": "lease TTL",
    "leaseMaxTtlSeconds": "lease max TTL",
    "rotationPeriodSeconds": "rotation period",
}


def _workloads(plan: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(w["name"]): w for w in plan.get("workloads") or []}


def _deliveries(workload: Mapping[str, Any] | None) -> dict[tuple[str, str, str], Mapping[str, Any]]:
    """(path, name, delivery) -> the delivered value."""
    found: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for d in (workload or {}).get("deliveries") or []:
        found[(str(d.get("path")), str(d.get("name")), str(d.get("delivery")))] = d
    return found


def _delivery_refs(deliveries: Mapping[tuple[str, str, str], Mapping[str, Any]], path: str) -> list[dict[str, str]]:
    return [{"name": name, "delivery": how} for (p, name, how) in sorted(deliveries) if p == path]


def _violation_key(v: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (str(v.get("rule")), str(v.get("type")), str(v.get("resource")), str(v.get("message")))


def _resource_key(r: Mapping[str, Any]) -> tuple[str, str]:
    return (str(r.get("type")), str(r.get("name")))


def diff_plans(base: Mapping[str, Any], head: Mapping[str, Any]) -> dict[str, Any]:
    """Every difference between two plans that a reviewer of access needs (see the module docstring)."""
    before, after = _workloads(base), _workloads(head)
    grants: list[dict[str, Any]] = []
    deliveries: dict[str, list[dict[str, Any]]] = {"added": [], "removed": []}
    lifetimes: list[dict[str, Any]] = []
    identity: list[dict[str, Any]] = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        old_access: Mapping[str, Sequence[str]] = (old or {}).get("access") or {}
        new_access: Mapping[str, Sequence[str]] = (new or {}).get("access") or {}
        old_deliveries, new_deliveries = _deliveries(old), _deliveries(new)
        for path in sorted(set(old_access) | set(new_access)):
            was, now = set(old_access.get(path, ())), set(new_access.get(path, ()))
            if was != now:
                grants.append(
                    {
                        "workload": name,
                        "path": path,
                        "added": sorted(now - was),
                        "removed": sorted(was - now),
                        "before": sorted(was),
                        "after": sorted(now),
                        "deliveries": _delivery_refs(new_deliveries if now else old_deliveries, path),
                    }
                )
        for key in sorted(set(old_deliveries) | set(new_deliveries)):
            path, value, how = key
            entry = {"workload": name, "path": path, "name": value, "delivery": how}
            if key not in old_deliveries:
                deliveries["added"].append(entry)
            elif key not in new_deliveries:
                deliveries["removed"].append(entry)
            else:
                for field in DELIVERY_LIFETIMES:
                    was_value, now_value = old_deliveries[key].get(field), new_deliveries[key].get(field)
                    if was_value != now_value:
                        lifetimes.append({**entry, "field": field, "before": was_value, "after": now_value})
        if old is not None and new is not None:
            for field in TOKEN_FIELDS:
                if old.get(field) != new.get(field):
                    lifetimes.append(
                        {"workload": name, "path": None, "name": None, "delivery": None, "field": field,
                         "before": old.get(field), "after": new.get(field)}
                    )  # fmt: skip
            for field in IDENTITY_FIELDS:
                if old.get(field) != new.get(field):
                    identity.append(
                        {"workload": name, "field": field, "before": old.get(field), "after": new.get(field)}
                    )

    old_violations = {_violation_key(v): v for v in base.get("violations") or []}
    new_violations = {_violation_key(v): v for v in head.get("violations") or []}
    old_resources = {_resource_key(r): r for r in base.get("resources") or []}
    new_resources = {_resource_key(r): r for r in head.get("resources") or []}
    resources = {
        "added": [{"type": t, "name": n} for t, n in sorted(set(new_resources) - set(old_resources))],
        "removed": [{"type": t, "name": n} for t, n in sorted(set(old_resources) - set(new_resources))],
        "changed": [
            {"type": t, "name": n}
            for t, n in sorted(set(old_resources) & set(new_resources))
            if old_resources[(t, n)].get("inputs") != new_resources[(t, n)].get("inputs")
        ],
    }
    added_workloads = sorted(set(after) - set(before))
    reasons = [
        f"{g['workload']} gains {', '.join(g['added'])} on {g['path']}"
        + (" (new workload)" if g["workload"] in added_workloads else "")
        for g in grants
        if g["added"]
    ]
    reasons += [
        f"{c['workload']}: {c['field']} {c['before']} -> {c['after']}: another identity gets its grants"
        for c in identity
        if after[c["workload"]].get("access")
    ]
    return {
        "widened": bool(reasons),
        "reasons": reasons,
        "workloads": {
            "added": added_workloads,
            "removed": sorted(set(before) - set(after)),
            "identityChanged": identity,
        },
        "grants": grants,
        "deliveries": deliveries,
        "lifetimes": lifetimes,
        "violations": {
            "new": [new_violations[k] for k in new_violations if k not in old_violations],
            "resolved": [old_violations[k] for k in old_violations if k not in new_violations],
        },
        "resources": resources,
    }


def is_empty(diff: Mapping[str, Any]) -> bool:
    return not (
        diff["grants"]
        or diff["deliveries"]["added"]
        or diff["deliveries"]["removed"]
        or diff["lifetimes"]
        or diff["workloads"]["added"]
        or diff["workloads"]["removed"]
        or diff["workloads"]["identityChanged"]
        or diff["violations"]["new"]
        or diff["violations"]["resolved"]
        or any(diff["resources"].values())
    )


# --- renderings ------------------------------------------------------------------------------------


def _grant_kind(grant: Mapping[str, Any]) -> str:
    if not grant["before"]:
        return "added"
    if not grant["after"]:
        return "removed"
    return "widened" if grant["added"] and not grant["removed"] else "narrowed" if not grant["added"] else "changed"


def _deliveries_text(grant: Mapping[str, Any]) -> str:
    return ", ".join(delivery_label(d) for d in grant["deliveries"]) or "none (the app reads Vault)"


def _seconds(value: Any) -> str:
    return "unset" if value is None else duration(value)


def _lifetime_subject(change: Mapping[str, Any]) -> str:
    if change["path"] is None:
        return str(change["workload"])
    return f"{change['workload']} {change['path']} ({delivery_label(change)})"


def headline(diff: Mapping[str, Any]) -> str:
    if diff["widened"]:
        return f"Access widened: {len(diff['reasons'])} change(s) need a security review."
    if is_empty(diff):
        return "No changes."
    return "Access not widened."


def diff_text(diff: Mapping[str, Any], base_label: str, head_label: str) -> str:
    lines = [f"Plan diff: {base_label} -> {head_label}", headline(diff)]
    lines += [f"  ! {reason}" for reason in diff["reasons"]]
    workloads = diff["workloads"]
    if workloads["added"] or workloads["removed"] or workloads["identityChanged"]:
        lines += ["", "Workloads:"]
        lines += [f"  + {name}" for name in workloads["added"]]
        lines += [f"  - {name}" for name in workloads["removed"]]
        lines += [
            f"  ~ {c['workload']}: {c['field']} {c['before']} -> {c['after']}" for c in workloads["identityChanged"]
        ]
    if diff["grants"]:
        lines += ["", "Grants (workload, Vault path, capabilities, delivery):"]
        marks = {"added": "+", "removed": "-", "widened": "+", "narrowed": "-", "changed": "~"}
        for g in diff["grants"]:
            kind = _grant_kind(g)
            change = ", ".join([f"+{c}" for c in g["added"]] + [f"-{c}" for c in g["removed"]])
            now = ", ".join(g["after"]) or "none"
            lines.append(
                f"  {marks[kind]} {g['workload']}  {g['path']}: {change}  [{kind}; now {now}]"
                f"  via {_deliveries_text(g)}"
            )
    if diff["deliveries"]["added"] or diff["deliveries"]["removed"]:
        lines += ["", "Deliveries:"]
        for mark, key in (("+", "added"), ("-", "removed")):
            lines += [
                f"  {mark} {d['workload']}  {d['path']} via {d['delivery']} -> {d['name']}"
                for d in diff["deliveries"][key]
            ]
    if diff["lifetimes"]:
        lines += ["", "Credential lifetimes and staleness:"]
        lines += [
            f"  ~ {_lifetime_subject(c)}: {FIELD_LABELS[c['field']]} {_seconds(c['before'])} -> {_seconds(c['after'])}"
            for c in diff["lifetimes"]
        ]
    new, resolved = diff["violations"]["new"], diff["violations"]["resolved"]
    lines += ["", f"Policy: {len(new)} new violation(s), {len(resolved)} resolved."]
    lines += [f"  + {v['level'].upper():<9} {v['message']}" for v in new]
    lines += [f"  - {v['level'].upper():<9} {v['message']}" for v in resolved]
    res = diff["resources"]
    lines += [
        "",
        f"Resources: {len(res['added'])} added, {len(res['removed'])} removed, {len(res['changed'])} changed.",
    ]
    for mark, key in (("+", "added"), ("-", "removed"), ("~", "changed")):
        lines += [f"  {mark} {r['type']}  {r['name']}" for r in res[key]]
    return "\n".join(lines) + "\n"


def diff_markdown(diff: Mapping[str, Any], base_label: str, head_label: str) -> str:
    """A pull-request comment: the verdict, grant changes, lifetimes, new violations, resources (folded)."""
    icon = "⚠️" if diff["widened"] else "✅"
    lines = [
        f"## {icon} Access diff: `{cell(base_label)}` → `{cell(head_label)}`",
        "",
        f"**{cell(headline(diff))}**",
        "",
    ]
    lines += [f"- {cell(reason)}" for reason in diff["reasons"]]
    if diff["reasons"]:
        lines.append("")
    workloads = diff["workloads"]
    if workloads["added"] or workloads["removed"] or workloads["identityChanged"]:
        lines += ["### Workloads", ""]
        rows = [["added", code(n), ""] for n in workloads["added"]]
        rows += [["removed", code(n), ""] for n in workloads["removed"]]
        rows += [
            ["identity changed", code(c["workload"]), cell(f"{c['field']}: {c['before']} → {c['after']}")]
            for c in workloads["identityChanged"]
        ]
        lines += [*table(("change", "workload", "detail"), rows), ""]
    if diff["grants"]:
        lines += ["### Grants", ""]
        rows = [
            [
                f"**{_grant_kind(g)}**" if g["added"] else _grant_kind(g),
                code(g["workload"]),
                code(g["path"]),
                cell(", ".join([f"+{c}" for c in g["added"]] + [f"-{c}" for c in g["removed"]])),
                cell(", ".join(g["after"]) or "none"),
                cell(_deliveries_text(g)),
            ]
            for g in diff["grants"]
        ]
        lines += [*table(("change", "workload", "path", "capabilities", "now", "delivery"), rows), ""]
    if diff["deliveries"]["added"] or diff["deliveries"]["removed"]:
        lines += ["### Deliveries", ""]
        rows = [
            [key, code(d["workload"]), code(d["path"]), cell(f"{d['delivery']} → {d['name']}")]
            for key in ("added", "removed")
            for d in diff["deliveries"][key]
        ]
        lines += [*table(("change", "workload", "path", "delivery"), rows), ""]
    if diff["lifetimes"]:
        lines += ["### Credential lifetimes and staleness", ""]
        rows = [
            [
                cell(_lifetime_subject(c)),
                cell(FIELD_LABELS[c["field"]]),
                cell(_seconds(c["before"])),
                cell(_seconds(c["after"])),
            ]
            for c in diff["lifetimes"]
        ]
        lines += [*table(("what", "lifetime", "before", "after"), rows), ""]
    new, resolved = diff["violations"]["new"], diff["violations"]["resolved"]
    lines += [f"### Policy: {len(new)} new violation(s), {len(resolved)} resolved", ""]
    if new:
        lines += [*table(("level", "rule", "resource", "problem and fix"), violation_rows(new)), ""]
    if resolved:
        lines += ["Resolved: " + ", ".join(f"{code(v['rule'])} on {code(v['resource'])}" for v in resolved), ""]
    res = diff["resources"]
    lines += [
        f"### Resources: {len(res['added'])} added, {len(res['removed'])} removed, {len(res['changed'])} changed",
        "",
    ]
    rows = [[key, code(r["type"]), code(r["name"])] for key in ("added", "removed", "changed") for r in res[key]]
    if rows:
        lines += [
            "<details><summary>resources</summary>",
            "",
            *table(("change", "type", "name"), rows),
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines)
