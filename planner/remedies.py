"""Fixes in the stack file's own words, for the violations a stack file can cause.

The pack's remediations speak to any Pulumi program (``token_ttl``, ``vault.Audit(...)``); a
reader of this plan edits ``Pulumi.<stack>.yaml``. For each rule the stack's settings can
break, ``stack_fix`` says which key to change (and how to allow it through ``--policy-config``
where the rule has an allowance); the plan shows it in place of the pack's fix. Rules the
stack's components never break (globs in bindings, root policies, ...) keep the pack's words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from components.durations import format_duration
from components.model import Workload

from .engine import project_name


def _key(name: str) -> str:
    return f"`{project_name()}:{name}`"


def _of_workload(violation: Mapping[str, Any]) -> str:
    who = f"workload `{violation['workload']}`" if violation.get("workload") else "the workload"
    return f"of {who} under {_key('workloads')}"


def _default(field: str) -> str:
    """A workload duration's default, from its one home (the model)."""
    return format_duration(getattr(Workload, field))


def _allow(rule: str, setting: str) -> str:
    return f'or allow it with `--policy-config` `{{"{rule}": {{"{setting}": true}}}}` after review'


STACK_FIXES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "vault-audit-device-present": lambda _: (
        f"add {_key('auditDevices')}, e.g. `[{{type: file, target: /vault/audit/audit.log}}]`"
    ),
    "vault-audit-devices-redundant": lambda _: (
        f"add a second device of another type to {_key('auditDevices')}, e.g. `{{type: socket, target: host:port}}`"
    ),
    "eso-store-https-ca": lambda _: f"set `caCert` (Vault's CA) and an https:// `address` under {_key('vault')}",
    "vault-auth-no-long-lived-reviewer-token": lambda _: (
        f"set `reviewer: vault-pod-token` under {_key('cluster')} where Vault runs in the cluster, or "
        f"`authMethod: jwt` (no reviewer at all); with Vault outside the cluster and kubernetes auth, "
        + _allow("vault-auth-no-long-lived-reviewer-token", "allowLongLivedReviewerToken")
    ),
    "eso-chart-cluster-wide-off": lambda _: (
        f"set `externalSecrets.clusterWide: false` under {_key('delivery')}, "
        + _allow("eso-chart-cluster-wide-off", "allowClusterWideFeatures")
    ),
    "csi-sync-secret-allowed": lambda _: (
        f"set `csi.syncSecret: false` under {_key('delivery')} and read the mounted files, "
        + _allow("csi-sync-secret-allowed", "allowSyncSecret")
    ),
    "vault-role-token-ttl-cap": lambda v: (
        f"lower `tokenTtl` {_of_workload(v)} to the cap or below (default {_default('token_ttl')})"
    ),
    "vault-role-token-max-ttl-cap": lambda v: (
        f"lower `tokenMaxTtl` {_of_workload(v)} to the cap or below (default {_default('token_max_ttl')})"
    ),
    "eso-refresh-interval-bounds": lambda v: (
        f"set `refreshInterval` {_of_workload(v)} within the bounds (default {_default('refresh_interval')})"
    ),
}


def stack_fix(violation: Mapping[str, Any]) -> str | None:
    fix = STACK_FIXES.get(str(violation.get("rule")))
    return fix(violation) if fix is not None else None


def in_stack_terms(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The violations with the fix each message ends with (``Fix: ...``) in the stack file's terms, where known."""
    rewritten = []
    for violation in violations:
        fix = stack_fix(violation)
        if fix is not None:
            violation = {
                **violation,
                "fix": fix,
                "message": _with_fix(str(violation["message"]), fix),
                "detail": _with_fix(str(violation.get("detail") or ""), fix),
            }
        rewritten.append(violation)
    return rewritten


def _with_fix(text: str, fix: str) -> str:
    head, found, _ = text.partition(" Fix: ")
    return f"{head} Fix: {fix}." if found else f"{text} Fix: {fix}."
