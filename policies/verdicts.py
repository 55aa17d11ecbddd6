"""The pack's verdicts as plain data, in one order, and rendered for the plan (text, markdown)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

PACK_NAME = "secrets-platform"
PACK_VERSION = "0.0.1"
"""The version the policy SDK puts in its messages (``PolicyPack`` always serves 0.0.1)."""


def preview_message(rule: str, detail: str) -> str:
    """The policy SDK's message for a policy that raised ``UnknownValueError`` (``_PolicyAnalyzerServicer``)."""
    return f"can't run policy '{rule}' from policy pack '{PACK_NAME}@v{PACK_VERSION}' during preview: {detail}"


def on_resource(urn: str) -> Callable[[str], str]:
    """How the engine attributes a resource rule's diagnostics: to the resource analyzed, whatever they say."""
    return lambda _urn: urn


@dataclass(frozen=True)
class Violation:
    """One diagnostic of the pack: the rule, its level, the resource, and the message (problem and fix)."""

    rule: str
    level: str
    urn: str
    name: str
    type: str
    message: str

    @property
    def mandatory(self) -> bool:
        return self.level == "mandatory"

    @property
    def detail(self) -> str:
        """The message without its ``[rule] resource:`` lead (both have columns of their own in a table)."""
        lead = f"[{self.rule}] "
        if self.message.startswith(lead):
            return self.message[len(lead) :].partition(": ")[2] or self.message
        return self.message


def ordered(violations: Iterable[Violation]) -> list[Violation]:
    """Mandatory first, then by rule, resource and message: the same order however the verdicts were reached."""
    return sorted(violations, key=lambda v: (not v.mandatory, v.rule, v.urn, v.message))


def summary(violations: Sequence[Violation]) -> str:
    mandatory = sum(v.mandatory for v in violations)
    if not violations:
        return "Policy pack secrets-platform: no violations."
    return (
        f"Policy pack secrets-platform: {mandatory} mandatory and {len(violations) - mandatory} advisory violation(s)."
    )


def render_text(violations: Sequence[Violation]) -> str:
    """One line per violation, mandatory first: level, then the message (rule, resource, problem, fix)."""
    lines = [summary(violations)]
    lines += [f"  {v.level.upper():<9} {v.message}" for v in violations]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def render_markdown(violations: Sequence[Violation]) -> str:
    """A table for a pull-request comment: level, rule, resource, problem and fix."""
    lines = [f"### {summary(violations)}", ""]
    if not violations:
        return "\n".join(lines)
    lines += ["| level | rule | resource | problem and fix |", "|---|---|---|---|"]
    for v in violations:
        level = f"**{v.level}**" if v.mandatory else v.level
        resource = f"`{_cell(v.name)}` ({_cell(v.type)})" if v.type else f"`{_cell(v.name)}`"
        lines.append(f"| {level} | `{v.rule}` | {resource} | {_cell(v.detail)} |")
    return "\n".join(lines) + "\n"
