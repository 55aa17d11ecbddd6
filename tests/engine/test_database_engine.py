"""Dynamic and static database credentials through `pulumi up`: the real engine and provider configure
OpenBao's database engine for a live PostgreSQL, the admin password set with `pulumi config set
--secret`; a workload then uses what it reads. Revocation, expiry, renewal up to max_ttl, static and
root rotation, a PostgreSQL outage, an OpenBao restart, and no plaintext secret anywhere the engine
writes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import hvac
import pytest

from sandbox import stacks
from sandbox.engine import PulumiCli, Stack
from sandbox.issuer import ServiceAccountIssuer
from sandbox.servers import OpenBaoServer
from tests.live.postgres import PostgresServer, require_postgres

CREATE = [
    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
    'GRANT SELECT ON orders TO "{{name}}";',
]
REVOKE = ['REVOKE ALL ON orders FROM "{{name}}";', 'DROP ROLE IF EXISTS "{{name}}";']
STATIC_USER = "orders_static"
STATIC_INITIAL_PASSWORD = "initial-static-password"


@pytest.fixture
def pg() -> Iterator[PostgresServer]:
    with PostgresServer(require_postgres()) as server:
        server.query("CREATE TABLE orders (id int); INSERT INTO orders VALUES (1), (2);")
        server.query(f"CREATE ROLE {STATIC_USER} WITH LOGIN PASSWORD '{STATIC_INITIAL_PASSWORD}';")
        server.query(f"GRANT SELECT ON orders TO {STATIC_USER};")
        yield server


@pytest.fixture
def issuer() -> ServiceAccountIssuer:
    return ServiceAccountIssuer()


def database_stack(pg: PostgresServer, issuer: ServiceAccountIssuer, **database: Any) -> dict[str, Any]:
    """jwt auth, one workload reading a dynamic and a static role and a generated KV secret. The
    admin password is not in it: the test sets it with `pulumi config set --secret`."""
    return {
        stacks.key("vault"): {"address": "https://vault.example.com"},
        stacks.key("cluster"): {
            "name": "test",
            "apiHost": "https://kubernetes.example.com",
            "authMethod": "jwt",
            "authMount": "jwt",
            "issuer": issuer.issuer,
            "jwtValidationPubkeys": [issuer.public_key_pem],
        },
        stacks.key("kv"): [{"mount": "kv", "generated": [{"path": "orders", "keys": ["apikey"]}]}],
        stacks.key("databases"): [
            {
                "name": "orders",
                "plugin": "postgresql",
                "connectionUrl": pg.connection_url,
                "username": "postgres",
                "roles": [
                    {
                        "name": "orders-read",
                        "creationStatements": CREATE,
                        "revocationStatements": REVOKE,
                        "defaultTtl": database.get("default_ttl", "30s"),
                        "maxTtl": database.get("max_ttl", "90s"),
                    },
                    {"name": "orders-admin", "creationStatements": CREATE, "revocationStatements": REVOKE},
                ],
                "staticRoles": [
                    {"name": "orders-static", "username": STATIC_USER, "rotationPeriod": database.get("rotation", "1h")}
                ],
                "rotateRoot": database.get("rotate_root", False),
            }
        ],
        stacks.key("workloads"): [
            {
                "name": "orders",
                "namespace": "shop",
                "serviceAccount": "orders",
                "secrets": [{"path": "kv/data/orders", "key": "apikey"}],
                "databaseCredentials": [
                    {"mount": "database", "role": "orders-read", "delivery": database.get("delivery", "none")},
                    {"mount": "database", "role": "orders-static", "static": True},
                ],
            }
        ],
    }


def deploy(
    cli: PulumiCli, bao: OpenBaoServer, pg: PostgresServer, config: dict[str, Any], audit: list[dict[str, str]]
) -> Stack:
    """``config`` deployed to ``bao`` (its audit devices ``audit`` in the server's configuration), the
    admin password set with `pulumi config set --secret`."""
    stack = cli.stack("db", stacks.on_openbao(stacks.against(config, bao), audit))
    stack.set_secret(f"{stacks.key('databases')}[0].password", pg.admin_password, path=True)
    stack.cli.extra_env["VAULT_TOKEN"] = bao.root_token
    stack.up()
    return stack


Deploy = Callable[..., Stack]


@pytest.fixture
def deploy_with(
    cli: PulumiCli,
    openbao: OpenBaoServer,
    pg: PostgresServer,
    issuer: ServiceAccountIssuer,
    audit_devices: list[dict[str, str]],
) -> Deploy:
    """``deploy_with(**database)``: the database stack (``database_stack`` options) deployed with `pulumi up`."""
    return lambda **database: deploy(cli, openbao, pg, database_stack(pg, issuer, **database), audit_devices)


def login(bao: OpenBaoServer, issuer: ServiceAccountIssuer) -> hvac.Client:
    token = issuer.issue("shop", "orders", ["vault"])
    answer = hvac.Client(url=bao.address).auth.jwt.jwt_login("orders", token, path="jwt")
    return hvac.Client(url=bao.address, token=answer["auth"]["client_token"])


def test_dynamic_credentials_work_until_revoked_and_no_secret_is_in_plain_text(
    deploy_with: Deploy,
    openbao: OpenBaoServer,
    pg: PostgresServer,
    issuer: ServiceAccountIssuer,
    audit_log: Any,
) -> None:
    stack = deploy_with()
    stack.preview("--expect-no-changes")
    workload = login(openbao, issuer)

    lease = workload.read("database/creds/orders-read")
    user, password = lease["data"]["username"], lease["data"]["password"]
    assert lease["lease_duration"] == 30 and lease["renewable"] is True
    assert pg.query("SELECT count(*) FROM orders", user=user, password=password) == "2"

    for path in ("database/creds/orders-admin", "database/config/orders", "database/roles/orders-read"):
        with pytest.raises(hvac.exceptions.Forbidden):
            workload.adapter.get(f"/v1/{path}")

    openbao.client().sys.revoke_lease(lease["lease_id"])
    assert not pg.can_login(user, password)
    assert pg.query(f"SELECT count(*) FROM pg_roles WHERE rolname = '{user}'") == "0"

    # The admin password: encrypted in the stack file, a secret in the state, in no log or output.
    apikey = openbao.client().read("kv/data/orders")["data"]["data"]["apikey"]
    stack_file = stack.config_file.read_text()
    assert "secure:" in stack_file and pg.admin_password not in stack_file
    state = json.dumps(stack.state())
    outputs = json.dumps(stack.outputs())
    for value in (pg.admin_password, apikey, password):
        assert value not in state
        assert value not in outputs
        assert value not in stack.cli.log.read_text()
        assert value not in audit_log.read_text()  # OpenBao's audit device HMACs every secret
    connection = next(
        r for r in stack.resources() if r["type"] == "vault:database/secretBackendConnection:SecretBackendConnection"
    )
    assert "ciphertext" in json.dumps(connection["inputs"]["postgresql"])  # stored encrypted, as a secret


def test_dynamic_credentials_expire_with_their_ttl(
    deploy_with: Deploy,
    openbao: OpenBaoServer,
    pg: PostgresServer,
    issuer: ServiceAccountIssuer,
) -> None:
    deploy_with(default_ttl="3s", max_ttl="3s")
    lease = login(openbao, issuer).read("database/creds/orders-read")
    user, password = lease["data"]["username"], lease["data"]["password"]
    assert pg.can_login(user, password)
    deadline = time.monotonic() + 20
    while pg.can_login(user, password) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not pg.can_login(user, password), "the credential outlived its TTL"


def test_renewal_extends_a_lease_up_to_max_ttl_and_no_further(
    deploy_with: Deploy,
    openbao: OpenBaoServer,
    pg: PostgresServer,
    issuer: ServiceAccountIssuer,
) -> None:
    deploy_with(default_ttl="10s", max_ttl="20s")
    workload = login(openbao, issuer)
    issued = time.monotonic()
    lease = workload.read("database/creds/orders-read")
    assert lease["lease_duration"] == 10

    renewed = workload.sys.renew_lease(lease["lease_id"], increment=15)
    elapsed = time.monotonic() - issued
    assert 10 < renewed["lease_duration"] <= 15
    assert renewed["lease_duration"] + elapsed <= 20 + 1

    capped = workload.sys.renew_lease(lease["lease_id"], increment=3600)
    elapsed = time.monotonic() - issued
    assert capped["lease_duration"] + elapsed <= 20 + 1
    assert any("max" in w.lower() for w in capped.get("warnings") or []), capped.get("warnings")


def test_static_and_root_rotation_and_a_second_up_does_not_reset_the_admin_password(
    deploy_with: Deploy,
    openbao: OpenBaoServer,
    pg: PostgresServer,
    issuer: ServiceAccountIssuer,
) -> None:
    stack = deploy_with(rotation="5s", rotate_root=True)
    workload = login(openbao, issuer)
    assert not pg.can_login(STATIC_USER, STATIC_INITIAL_PASSWORD)  # Vault took the user over
    assert not pg.can_login("postgres", pg.admin_password)  # only Vault knows the admin password now

    first = workload.read("database/static-creds/orders-static")["data"]
    assert first["username"] == STATIC_USER and first["rotation_period"] == 5
    assert pg.can_login(STATIC_USER, first["password"])
    deadline = time.monotonic() + 30
    current = first
    while current["password"] == first["password"] and time.monotonic() < deadline:
        time.sleep(1)
        current = workload.read("database/static-creds/orders-static")["data"]
    assert current["password"] != first["password"], "no automatic rotation within 30s of a 5s period"
    assert pg.can_login(STATIC_USER, current["password"])
    assert not pg.can_login(STATIC_USER, first["password"])

    # After rotate-root the stack's password is stale; a second preview and up must not send it again.
    stack.preview("--expect-no-changes")
    stack.up()
    lease = workload.read("database/creds/orders-read")
    assert pg.can_login(lease["data"]["username"], lease["data"]["password"])


def test_postgres_down_is_a_clear_error_and_recovery_needs_nothing(
    deploy_with: Deploy,
    openbao: OpenBaoServer,
    pg: PostgresServer,
    issuer: ServiceAccountIssuer,
) -> None:
    stack = deploy_with()
    workload = login(openbao, issuer)
    pg.stop()
    with pytest.raises(hvac.exceptions.InternalServerError) as down:
        workload.read("database/creds/orders-read")
    message = str(down.value).lower()
    assert "connect" in message or "refused" in message, message
    assert pg.admin_password not in str(down.value)
    pg.start()
    lease = workload.read("database/creds/orders-read")
    assert pg.can_login(lease["data"]["username"], lease["data"]["password"])
    stack.preview("--expect-no-changes")


def test_openbao_restart_loses_nothing_and_the_stack_has_nothing_to_do(
    deploy_with: Deploy,
    openbao: OpenBaoServer,
    pg: PostgresServer,
    issuer: ServiceAccountIssuer,
) -> None:
    stack = deploy_with()
    apikey = openbao.client().read("kv/data/orders")["data"]["data"]["apikey"]

    openbao.restart()
    with pytest.raises(hvac.exceptions.VaultDown):
        login(openbao, issuer)
    openbao.unseal()
    workload = login(openbao, issuer)
    assert workload.read("kv/data/orders")["data"]["data"]["apikey"] == apikey
    lease = workload.read("database/creds/orders-read")
    assert pg.can_login(lease["data"]["username"], lease["data"]["password"])
    stack.preview("--expect-no-changes")


def test_through_the_vault_secrets_operator_the_workload_revokes_its_own_leases_and_no_other(
    cli: PulumiCli,
    openbao: OpenBaoServer,
    pg: PostgresServer,
    issuer: ServiceAccountIssuer,
    audit_devices: list[dict[str, str]],
    tmp_path: Any,
) -> None:
    """`revoke: true` on a VaultDynamicSecret: the operator revokes the lease with the workload's token when the
    object goes. The workload's policy allows exactly that (sys/leases/revoke for leases of its own role): the
    lease and its database user are gone; a lease of another role, or revoke-prefix, is refused."""
    config = database_stack(pg, issuer, delivery="vault-secrets-operator")
    config[stacks.key("delivery")] = {"vaultSecretsOperator": {"install": False}}  # installed outside the stack
    config[stacks.key("renderYamlToDirectory")] = str(tmp_path / "rendered")
    deploy(cli, openbao, pg, config, audit_devices)
    workload = login(openbao, issuer)
    lease = workload.read("database/creds/orders-read")
    user, password = lease["data"]["username"], lease["data"]["password"]
    assert pg.can_login(user, password)

    others = openbao.client().read("database/creds/orders-admin")  # a lease of another role
    for refused in (
        lambda: workload.write("sys/leases/revoke", lease_id=others["lease_id"]),
        lambda: workload.write("sys/leases/revoke-prefix/database/creds/orders-read"),
        lambda: workload.write("sys/leases/revoke", lease_id=lease["lease_id"], sync=True),  # another parameter
    ):
        with pytest.raises(hvac.exceptions.Forbidden):
            refused()
    assert pg.can_login(others["data"]["username"], others["data"]["password"])

    workload.write("sys/leases/revoke", lease_id=lease["lease_id"])  # what the operator sends (as the workload)
    assert not pg.can_login(user, password)
    assert pg.query(f"SELECT count(*) FROM pg_roles WHERE rolname = '{user}'") == "0"
    rendered = {p.name for p in (tmp_path / "rendered").rglob("*.yaml")}
    assert any("vaultdynamicsecret" in name.lower() for name in rendered), rendered
