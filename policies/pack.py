"""The pack's identity and its policies: shared by ``__main__`` (served to the engine) and ``runner`` (in-process)."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, Policy

from .adapters import to_policy
from .catalog import RULES
from .verdicts import PACK_NAME

# The SDK's fallback for a policy without a level; every rule here sets its own.
ENFORCEMENT_LEVEL = EnforcementLevel.ADVISORY
DESCRIPTION = (
    "Security rules for the secrets plane: Vault auth roles, policies, auth config and audit; External Secrets; "
    "the Secrets Store CSI driver; the Vault Secrets Operator; workloads; Pulumi secret hygiene."
)
DISPLAY_NAME = "Secrets platform"


def build_policies() -> list[Policy]:
    return [to_policy(rule) for rule in RULES]


def pack_arguments() -> dict[str, Any]:
    """Keyword arguments of ``PolicyPack(...)``."""
    return {
        "name": PACK_NAME,
        "policies": build_policies(),
        "enforcement_level": ENFORCEMENT_LEVEL,
        "description": DESCRIPTION,
        "display_name": DISPLAY_NAME,
    }
