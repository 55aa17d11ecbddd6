"""The rule table: every rule of the pack, as data (name, target, level, config, source) and as RULES.md."""

from __future__ import annotations

import json
from typing import Any

from . import charts, csi, database, external_secrets, kubernetes, stack, vault, vault_secrets_operator
from .core import Rule

GROUPS: tuple[tuple[str, tuple[Rule, ...]], ...] = (
    ("Vault roles, policies, auth, audit, raw endpoints and the provider (`policies/vault.py`)", vault.RULES),
    ("Vault database secrets (`policies/database.py`)", database.RULES),
    ("Stack-wide and Pulumi hygiene (`policies/stack.py`)", stack.RULES),
    ("External Secrets Operator (`policies/external_secrets.py`)", external_secrets.RULES),
    ("Secrets Store CSI driver (`policies/csi.py`)", csi.RULES),
    ("Vault Secrets Operator (`policies/vault_secrets_operator.py`)", vault_secrets_operator.RULES),
    ("Kubernetes workloads and objects (`policies/kubernetes.py`)", kubernetes.RULES),
    ("Helm charts (`policies/charts.py`)", charts.RULES),
)
RULES: tuple[Rule, ...] = tuple(rule for _title, rules in GROUPS for rule in rules)

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
            "why": r.why,
            "remediation": r.remediation,
        }
        for r in RULES
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


PREAMBLE = """\
A rule reads each value the way the program that consumes it does: Vault strips a leading `/` from policy
paths and expands `+` segments and a trailing `*`; the CSI provider's parameters, the injector's annotations and
Vault's audit options are Go `strconv.ParseBool` booleans (`1 t T TRUE true True` / `0 f F FALSE false False`);
Helm charts read values with Go template truth (the string `"false"` is true), layered as Helm layers them
(chart defaults, `valueYamlFiles`, `values`). Every rule takes any JSON value in any property without raising.

**Previews and unknowns.** In `pulumi preview`, the outputs of resources not created yet are unknown (the
engine sends them as `04da6b54-80e4-46f7-96ec-b56ff0331ba9`). A rule that cannot judge a resource because of
an unknown reports one advisory `can't run policy '<rule>' ... during preview: ... cannot check during preview:
<what>` (the policy SDK's own form for this case) and judges every other resource, and every known value of
that resource, normally; an unknown never produces a mandatory violation.

**Messages** name the rule, the resource and the fix; they never carry a secret value (any value of the
resource's secret fields is masked as `[secret]`).
"""


def render_rules_markdown() -> str:
    """RULES.md: every rule with what it checks, why it fires, what it reads and its fix (generated; a test checks)."""
    mandatory = sum(r.level.value == "mandatory" for r in RULES)
    lines = [
        "# Policy pack rules",
        "",
        "<!-- Generated from the rules in policies/ by `python -m policies.catalog > policies/RULES.md`. -->",
        "",
        f"The `secrets-platform` CrossGuard pack: {len(RULES)} rules, {mandatory} mandatory "
        "(a breach exposes secrets) and the rest advisory. Run it with "
        "`pulumi preview --policy-pack policies`; override a level or a threshold with "
        '`--policy-pack-config` (`{"<rule>": {"enforcementLevel": "advisory", "<key>": <value>}}`).',
        "",
        PREAMBLE,
    ]
    for title, rules in GROUPS:
        lines += [f"## {title}", ""]
        for r in rules:
            source = f"[{r.source}]({r.url})" if r.url else r.source
            lines += [
                f"### `{r.name}` ({r.level.value}, {r.severity.value})",
                "",
                r.description,
                "",
                f"- **Why it fires:** {r.why}",
                f"- **Reads:** {r.target}",
                f"- **Config:** {config_summary(r)}",
                f"- **Fix:** {r.remediation}",
                f"- **Source:** {source}",
                "",
            ]
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
