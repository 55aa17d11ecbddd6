"""Least privilege, proven on the server: each workload reads exactly its own secret and nothing else."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import hvac
import pytest

from components.deployer_policy import deployer_policy
from sandbox import stacks

# Values a test seeds with the root token; each workload must see only its own.
SEEDED = {
    "secret/data/db": {"username": "db-user-value", "password": "db-password-value"},
    "secret/data/other-team": {"token": "not-for-these-workloads"},
}
# role -> (namespace, service account, its own path, its key)
DEV_WORKLOADS = {
    "my-role": ("myapp", "myapp", "secret/data/myapp", "apikey"),
    "k8s-role": ("db", "db-client", "secret/data/db", "username"),
}

Login = Callable[[str, str, str], str]  # (role, namespace, service account) -> a Vault token


def deployer_token(root: hvac.Client, config: Mapping[str, Any]) -> str:
    """A token with only the documented deployer policy of the stack ``config`` (`pulumi up` / `destroy` with it)."""
    root.sys.create_or_update_acl_policy("deployer", deployer_policy(stacks.platform(dict(config))))
    return str(root.auth.token.create(policies=["deployer"], no_default_policy=True, ttl="1h")["auth"]["client_token"])


def seed(root: hvac.Client, values: Mapping[str, Mapping[str, str]] = SEEDED) -> None:
    for path, data in values.items():
        root.write_data(path, data={"data": dict(data)})


def read_value(client: hvac.Client, path: str, key: str) -> str:
    return str(client.read(path)["data"]["data"][key])


def assert_least_privilege(address: str, root: hvac.Client, login: Login) -> None:
    """Every dev workload reads its own key; other paths, writes, the mount root, metadata and the
    policy API are 403."""
    all_paths = {own for _, _, own, _ in DEV_WORKLOADS.values()} | set(SEEDED)
    for role, (namespace, account, own_path, key) in DEV_WORKLOADS.items():
        workload = hvac.Client(url=address, token=login(role, namespace, account))
        assert read_value(workload, own_path, key) == read_value(root, own_path, key)
        forbidden: list[tuple[str, str, dict[str, object] | None]] = [
            *[("GET", p, None) for p in sorted(all_paths - {own_path})],
            ("POST", own_path, {"data": {key: "overwritten"}}),
            ("LIST", "secret/metadata/", None),
            ("GET", own_path.replace("/data/", "/metadata/"), None),
            ("GET", "sys/policies/acl", None),
            ("POST", "sys/policies/acl/escalate", {"policy": 'path "*" { capabilities = ["sudo"] }'}),
        ]
        for method, path, body in forbidden:
            with pytest.raises(hvac.exceptions.Forbidden):
                workload.adapter.request(method, f"/v1/{path}", json=body)
        assert read_value(root, own_path, key) != "overwritten"


def assert_impostors_refused(login: Login) -> None:
    """A pod of another namespace or service account cannot assume a workload's role."""
    for role, (namespace, account, _, _) in DEV_WORKLOADS.items():
        impostors = [("elsewhere", account), (namespace, "default")] + [
            (n, a) for r, (n, a, _, _) in DEV_WORKLOADS.items() if r != role
        ]
        for impostor in impostors:
            with pytest.raises((hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden)):
                login(role, *impostor)
