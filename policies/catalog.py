"""The rule table: every rule of the pack, as data (name, target, level, config, source) and as RULES.md."""

from __future__ import annotations

import json
from typing import Any

from . import csi, external_secrets, kubernetes, stack, vault
from .core import Rule

RULES: tuple[Rule, ...] = (
    *vault.RULES,
    *stack.RULES,
    *external_secrets.RULES,
    *csi.RULES,
    *kubernetes.RULES,
)
GROUPS: tuple[tuple[str, tuple[Rule, ...]], ...] = (
    ("Vault roles, policies, auth and audit (`policies/vault.py`)", vault.RULES),
    ("Stack-wide and Pulumi hygiene (`policies/stack.py`)", stack.RULES),
    ("External Secrets Operator (`policies/external_secrets.py`)", external_secrets.RULES),
    ("Secrets Store CSI driver (`policies/csi.py`)", csi.RULES),
    ("Kubernetes workloads and objects (`policies/kubernetes.py`)", kubernetes.RULES),
)

_names = [r.name for r in RULES]
if len(set(_names)) != len(_names):
    raise RuntimeError(f"duplicate rule names: {sorted(n for n in _names if _names.count(n) > 1)}")


def by_name() -> dict[str, Rule]:
    return {r.name: r for r in RULES}


def config_summary(rule: Rule) -> str:
    return ", ".join(f"`{p.name}` = `{json.dumps(p.default)}`" for p in rule.params) or "—"


def rule_table() -> list[dict[str, Any]]:
    """One row per rule: what the README table and the tests read."""
    return [
        {
            "name": r.name,
            "scope": r.scope,
            "target": r.target,
            "level": r.level.value,
            "severity": r.severity.value,
            "config": {p.name: p.default for p in r.params},
            "source": r.source,
            "url": r.url,
            "description": r.description,
            "remediation": r.remediation,
        }
        for r in RULES
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_rules_markdown() -> str:
    """RULES.md: the rule table, generated (tests/test_policy_rules.py checks it is current)."""
    mandatory = sum(r.level.value == "mandatory" for r in RULES)
    lines = [
        "# Policy pack rules",
        "",
        "<!-- Generated from policies/catalog.py by `python -m policies.catalog > policies/RULES.md`. -->",
        "",
        f"The `secrets-platform` CrossGuard pack: {len(RULES)} rules, {mandatory} mandatory "
        "(a breach exposes secrets) and the rest advisory. Run it with "
        "`pulumi preview --policy-pack policies`; override a level or a threshold with "
        '`--policy-pack-config` (`{"<rule>": {"enforcementLevel": "advisory", "<key>": <value>}}`).',
        "",
    ]
    for title, rules in GROUPS:
        lines += [
            f"## {title}",
            "",
            "| rule | level | config (default) | reads | source | checks |",
            "|---|---|---|---|---|---|",
        ]
        for r in rules:
            source = f"[{_cell(r.source)}]({r.url})" if r.url else _cell(r.source)
            lines.append(
                f"| `{r.name}` | {r.level.value} | {_cell(config_summary(r))} | {_cell(r.target)} | {source} "
                f"| {_cell(r.description)} Fix: {_cell(r.remediation)} |"
            )
        lines.append("")
    return "\n".join(lines)


README_START = "<!-- policy-rules:start (generated: python -m policies.catalog --readme) -->"
README_END = "<!-- policy-rules:end -->"


def render_readme_table() -> str:
    """The README's rule table (level, config, source); RULES.md has the full text of each rule."""
    lines = [README_START, "", "| rule | level | config (default) | source |", "|---|---|---|---|"]
    for r in RULES:
        lines.append(f"| `{r.name}` | {r.level.value} | {_cell(config_summary(r))} | {_cell(r.source)} |")
    return "\n".join([*lines, "", README_END])


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--readme"]:
        print(render_readme_table())
        sys.exit(0)
    print(render_rules_markdown(), end="")
