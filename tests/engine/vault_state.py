"""What a stack left on the server, read back with hvac: auth mounts, roles, policies, mounts."""

from __future__ import annotations

from typing import Any

import hvac

# What a freshly initialised server already has; `destroy` must leave exactly this.
BUILTIN_AUTH = {"token/"}
BUILTIN_POLICIES = {"default", "root"}
BUILTIN_MOUNTS = {"cubbyhole/", "identity/", "sys/"}


def server_state(client: hvac.Client) -> dict[str, Any]:
    """Every auth mount with its roles, every ACL policy, every secrets mount."""
    auth = {}
    for path, mount in client.sys.list_auth_methods()["data"].items():
        roles: list[str] = []
        if mount["type"] in ("kubernetes", "jwt"):
            try:
                roles = sorted(client.list(f"auth/{path}role")["data"]["keys"])
            except (hvac.exceptions.InvalidPath, TypeError):
                roles = []
        auth[path] = {"type": mount["type"], "roles": roles}
    return {
        "auth": auth,
        "policies": set(client.sys.list_acl_policies()["data"]["keys"]),
        "mounts": {path: m["type"] for path, m in client.sys.list_mounted_secrets_engines()["data"].items()},
    }


def left_by_stack(client: hvac.Client) -> dict[str, Any]:
    """What the server holds beyond a fresh server's built-ins (empty after `destroy`)."""
    state = server_state(client)
    return {
        "auth": {k: v for k, v in state["auth"].items() if k not in BUILTIN_AUTH},
        "policies": state["policies"] - BUILTIN_POLICIES,
        "mounts": {k: v for k, v in state["mounts"].items() if k not in BUILTIN_MOUNTS},
    }


def role(client: hvac.Client, mount: str, name: str) -> dict[str, Any]:
    return dict(client.read(f"auth/{mount}/role/{name}")["data"])


def policy(client: hvac.Client, name: str) -> str:
    return str(client.sys.read_acl_policy(name)["data"]["policy"])
