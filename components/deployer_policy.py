"""The deployer's Vault policy: exactly what `pulumi up` and `pulumi destroy` of a stack need.

Read off the audit log of a root-token `up` and `destroy` through the real engine and
terraform-provider-vault: the provider creates a child token and looks itself up, then manages the
stack's auth mounts, their config and roles, its policies, its KV v2 and database mounts, their
connections and roles, and writes generated KV values. It never needs to read a workload's secret
values: generated values are written with ``disable_read`` (so the provider does not read them
back), and no rule grants ``read`` on a KV data path or on database credentials.
"""

from __future__ import annotations

from .model import PlatformSpec
from .policy_document import PolicyRule, render_policy, rule


def deployer_rules(spec: PlatformSpec) -> tuple[PolicyRule, ...]:
    """The rules of the deployer policy for ``spec``, one stanza per path the provider touches."""
    rules = [
        # The provider runs on a child token of the one it is given, and reads its own token.
        rule("auth/token/create", "update"),
        rule("auth/token/lookup-self", "read"),
    ]
    for auth in (c.auth_mount for c in spec.clusters):
        rules += [
            rule(f"sys/auth/{auth}", "create", "read", "update", "delete", "sudo"),
            rule(f"sys/mounts/auth/{auth}", "read"),
            rule(f"sys/mounts/auth/{auth}/tune", "read", "update"),
            rule(f"auth/{auth}/config", "create", "read", "update"),
            rule(f"auth/{auth}/role/*", "create", "read", "update", "delete"),
        ]
    rules += [rule(f"sys/policies/acl/{w.policy_name}", "create", "read", "update", "delete") for w in spec.workloads]
    for kv in spec.kv:
        rules += [
            rule(f"sys/mounts/{kv.mount}", "create", "read", "update", "delete"),
            rule(f"{kv.mount}/config", "read", "update"),
        ]
        for generated in kv.generated:
            # Write the generated value, never read it back.
            rules.append(rule(f"{kv.mount}/data/{generated.path}", "create", "update", "delete"))
    for db in spec.databases:
        rules += [
            rule(f"sys/mounts/{db.mount}", "create", "read", "update", "delete"),
            rule(f"{db.mount}/config/{db.name}", "create", "read", "update", "delete"),
            rule(f"{db.mount}/roles/*", "create", "read", "update", "delete"),
            rule(f"{db.mount}/static-roles/*", "create", "read", "update", "delete"),
        ]
        if db.rotate_root:
            rules.append(rule(f"{db.mount}/rotate-root/{db.name}", "update"))
    return tuple(rules)


def deployer_policy(spec: PlatformSpec) -> str:
    """The deployer policy's HCL."""
    return render_policy(deployer_rules(spec), comment="The deployer of this stack (pulumi up / destroy).")
