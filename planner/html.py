"""The access-matrix page: one self-contained HTML file (no external CSS, script, font or image).

``access_matrix_html(document)`` is a pure function of the JSON plan (``plan.plan_document``):
a grid of workloads (rows) against Vault paths (columns); each cell shows the capabilities,
the deliveries (how the value reaches the pod, under which name) and the lifetimes (worst-case
staleness, lease or rotation; the token TTL is on the row), colored by the strongest capability.
The policy violations stand beside the grid, and a workload owning a violated resource is marked.

The page is rendered in full on the server side; its small script only adds a filter and row and
column highlighting, and finally sets ``document.body.dataset.ready = "ok"`` (a script error
leaves it unset and sets ``data-error``), which the headless-browser test reads back.

A grid larger than ``MAX_GRID_CELLS`` would be a page of mostly empty cells; it is drawn as one
row per workload listing its paths instead, and the page says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from .markdown import deliveries_by_path
from .policy import summary
from .render import next_rotations
from .wording import delivery_label, identity, lifetime, token

MAX_GRID_CELLS = 200_000
WRITE_CAPABILITIES = frozenset({"create", "update", "patch", "delete", "recover"})
CAPABILITY_CLASSES = (  # strongest first
    ("deny", "cap-deny"),
    ("sudo", "cap-sudo"),
    ("write", "cap-write"),
    ("list", "cap-list"),
    ("read", "cap-read"),
)
LEGEND = (
    ("cap-read", "read"),
    ("cap-list", "list"),
    ("cap-write", "create / update / patch / delete"),
    ("cap-sudo", "sudo"),
    ("cap-deny", "deny"),
    ("cap-other", "other (subscribe, ...)"),
)

STYLE = """
:root { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 14px; color: #1f2328; }
body { margin: 16px; }
h1 { font-size: 20px; margin: 0 0 4px; }
.meta { color: #59636e; margin: 0 0 12px; }
.layout { display: flex; gap: 16px; align-items: flex-start; }
main { flex: 3 1 0; min-width: 0; overflow: auto; max-height: 85vh; border: 1px solid #d1d9e0; }
aside { flex: 2 1 0; min-width: 280px; max-height: 85vh; overflow: auto; }
table { border-collapse: collapse; }
#matrix th, #matrix td { border: 1px solid #d1d9e0; padding: 4px 6px; vertical-align: top; }
#matrix thead th { position: sticky; top: 0; background: #f6f8fa; z-index: 2; font-weight: 600; }
#matrix thead th.path { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; }
#matrix tbody th { position: sticky; left: 0; background: #fff; z-index: 1; text-align: left; white-space: nowrap; }
#matrix td.empty { background: #fff; }
.cap-read { background: #dafbe1; }
.cap-list { background: #ddf4ff; }
.cap-write { background: #fff1c2; }
.cap-sudo { background: #fbdfff; }
.cap-deny { background: #ffd8d3; }
.cap-other { background: #eaeef2; }
.caps { font-weight: 600; }
.delivery, .lifetime, .identity { display: block; color: #59636e; font-size: 12px; white-space: nowrap; }
.badge { display: inline-block; margin-left: 6px; padding: 0 6px; border-radius: 8px; background: #cf222e;
  color: #fff; font-size: 11px; }
tr.hl th, tr.hl td, td.hl, th.hl { outline: 2px solid #0969da; outline-offset: -2px; }
.legend span { display: inline-block; padding: 2px 8px; margin: 0 4px 4px 0; border: 1px solid #d1d9e0; }
#violations th, #violations td {
  border-bottom: 1px solid #d1d9e0; padding: 4px; text-align: left; vertical-align: top;
}
.mandatory { color: #cf222e; font-weight: 600; }
.advisory { color: #9a6700; }
.note { background: #fff8c5; padding: 6px 8px; border: 1px solid #d4a72c; }
input[type=search] { width: 320px; padding: 4px; margin-bottom: 8px; }
code { font-size: 12px; }
"""

SCRIPT = """
(function () {
  "use strict";
  window.addEventListener("error", function (event) {
    document.body.dataset.error = String(event.message || "script error");
  });
  var matrix = document.getElementById("matrix");
  var rows = Array.prototype.slice.call(matrix.querySelectorAll("tbody tr[data-workload]"));
  var expected = parseInt(document.body.dataset.workloads, 10);
  if (rows.length !== expected) {
    throw new Error("rendered " + rows.length + " workload rows, expected " + expected);
  }
  var filter = document.getElementById("filter");
  var shown = document.getElementById("shown");
  function apply() {
    var needle = filter.value.trim().toLowerCase();
    var count = 0;
    rows.forEach(function (row) {
      var hit = !needle || row.textContent.toLowerCase().indexOf(needle) !== -1;
      row.hidden = !hit;
      if (hit) { count += 1; }
    });
    shown.textContent = String(count);
  }
  filter.addEventListener("input", apply);
  matrix.addEventListener("mouseover", function (event) {
    var target = event.target.closest ? event.target.closest("td, th") : null;
    Array.prototype.forEach.call(matrix.querySelectorAll(".hl"), function (el) { el.classList.remove("hl"); });
    if (!target || !target.dataset.col) { return; }
    Array.prototype.forEach.call(matrix.querySelectorAll('[data-col="' + target.dataset.col + '"]'),
      function (el) { el.classList.add("hl"); });
    if (target.parentElement) { target.parentElement.classList.add("hl"); }
  });
  apply();
  document.body.dataset.ready = "ok";
})();
"""


def capability_class(capabilities: Sequence[str]) -> str:
    caps = set(capabilities)
    for capability, css in CAPABILITY_CLASSES:
        if (capability == "write" and caps & WRITE_CAPABILITIES) or capability in caps:
            return css
    return "cap-other"


def _cell(workload: Mapping[str, Any], path: str, column: int, delivered: Sequence[Mapping[str, Any]]) -> str:
    capabilities = list((workload.get("access") or {}).get(path) or [])
    if not capabilities:
        return f'<td class="empty" data-col="{column}"></td>'
    parts = [f'<span class="caps">{escape(", ".join(capabilities))}</span>']
    for d in delivered:
        parts.append(f'<span class="delivery">{escape(delivery_label(d))}</span>')
        parts.append(f'<span class="lifetime">{escape(lifetime(d))}</span>')
    if not delivered:
        parts.append('<span class="delivery">not delivered (the app reads Vault)</span>')
    title = f"{workload.get('name')} on {path}: {', '.join(capabilities)}"
    return (
        f'<td class="{capability_class(capabilities)}" data-col="{column}" title="{escape(title)}">'
        + "".join(parts)
        + "</td>"
    )


def _row_header(workload: Mapping[str, Any], violations: int) -> str:
    name = escape(str(workload.get("name")))
    badge = f'<span class="badge" title="policy violations">{violations}</span>' if violations else ""
    role = escape(f"role {workload.get('role')} on {workload.get('authMount')}")
    return (
        f'<th scope="row" class="workload">{name}{badge}<span class="identity">{escape(identity(workload))}</span>'
        f'<span class="identity">{role}</span><span class="identity">{escape(token(workload))}</span></th>'
    )


def prose(text: str) -> str:
    """Escaped text whose `backticked` spans are shown as code, not as literal backticks."""
    parts = escape(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: keep the text as it is
        return escape(text)
    return "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))


def _rotations(document: Mapping[str, Any]) -> str:
    rotations = next_rotations(document)
    if not rotations:
        return ""
    items = "".join(f"<li><code>{escape(p)}</code>: {escape(when)}</li>" for p, when in rotations.items())
    return (
        "<h2>Generated secrets</h2><p>Rotated by the first <code>pulumi up</code> after:</p>"
        f'<ul id="rotations">{items}</ul>'
    )


def _violations_table(violations: Sequence[Mapping[str, Any]]) -> str:
    if not violations:
        return "<p>No violations.</p>"
    rows = []
    for v in violations:
        level = escape(str(v.get("level")))
        workload = escape(str(v.get("workload") or ""))
        rows.append(
            f'<tr class="violation" data-rule="{escape(str(v.get("rule")))}"><td class="{level}">{level}</td>'
            f"<td><code>{escape(str(v.get('rule')))}</code></td>"
            f"<td><code>{escape(str(v.get('resource')))}</code><br><small>{escape(str(v.get('type') or ''))}</small>"
            + (f"<br><small>workload {workload}</small>" if workload else "")
            + f"</td><td>{prose(str(v.get('detail') or v.get('message')))}</td></tr>"
        )
    return (
        '<table id="violations"><thead><tr><th>level</th><th>rule</th><th>resource</th><th>problem and fix</th>'
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def access_matrix_html(document: Mapping[str, Any]) -> str:
    """The self-contained access-matrix page of a JSON plan."""
    workloads = list(document.get("workloads") or [])
    violations = list(document.get("violations") or [])
    stack = str(document.get("stack") or "?")
    paths = sorted({path for w in workloads for path in (w.get("access") or {})})
    per_workload: dict[str, int] = {}
    for v in violations:
        if v.get("workload"):
            per_workload[str(v["workload"])] = per_workload.get(str(v["workload"]), 0) + 1
    grid = len(workloads) * len(paths) <= MAX_GRID_CELLS

    body: list[str] = ['<table id="matrix"><thead><tr><th>workload</th>']
    if grid:
        body += [f'<th class="path" data-col="{i}" title="{escape(p)}">{escape(p)}</th>' for i, p in enumerate(paths)]
    else:
        body.append("<th>paths: capabilities, delivery, lifetime</th>")
    body.append("</tr></thead><tbody>")
    for w in workloads:
        by_path = deliveries_by_path(w)
        name = str(w.get("name"))
        css = ' class="violated"' if per_workload.get(name) else ""
        body.append(f'<tr data-workload="{escape(name)}"{css}>{_row_header(w, per_workload.get(name, 0))}')
        if grid:
            body += [_cell(w, p, i, by_path.get(p, [])) for i, p in enumerate(paths)]
        else:
            body.append(
                "<td>" + "".join(_list_item(w, p, by_path.get(p, [])) for p in (w.get("access") or {})) + "</td>"
            )
        body.append("</tr>")
    body.append("</tbody></table>")

    note = (
        ""
        if grid
        else f'<p class="note">{len(workloads)} workloads by {len(paths)} paths is too large a grid: one row per '
        "workload lists its paths instead.</p>"
    )
    legend = "".join(f'<span class="{css}">{escape(label)}</span>' for css, label in LEGEND)
    mandatory = sum(v.get("level") == "mandatory" for v in violations)
    title = f"Access matrix: stack {stack}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f'<body data-workloads="{len(workloads)}" data-paths="{len(paths)}" data-mandatory="{mandatory}">'
        f"<h1>{escape(title)}</h1>"
        f'<p class="meta">{len(workloads)} workload(s), {len(paths)} Vault path(s); '
        f"{escape(summary(violations))} Generated offline by <code>python -m planner --format html</code>.</p>"
        f'<p class="legend">{legend}</p>{note}'
        '<input type="search" id="filter" placeholder="filter workloads, paths, deliveries" aria-label="filter">'
        ' <span class="meta">showing <span id="shown">' + str(len(workloads)) + "</span> workload(s)</span>"
        '<div class="layout"><main>' + "".join(body) + "</main>"
        f"<aside><h2>Policy violations</h2>{_violations_table(violations)}{_rotations(document)}</aside></div>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )


def _list_item(workload: Mapping[str, Any], path: str, delivered: Sequence[Mapping[str, Any]]) -> str:
    capabilities = list((workload.get("access") or {}).get(path) or [])
    how = "; ".join(f"{delivery_label(d)}, {lifetime(d)}" for d in delivered) or "not delivered"
    return (
        f'<div class="{capability_class(capabilities)}"><code>{escape(path)}</code>: '
        f'<span class="caps">{escape(", ".join(capabilities))}</span> <small>{escape(how)}</small></div>'
    )
