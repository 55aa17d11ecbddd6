"""Integration tier: dynamic and static database credentials, rotation and renewal, on live servers.

OpenBao (`bao server -dev`, or a file-storage server for the restart test) and a
throwaway PostgreSQL cluster, both on loopback. The stack's resources are
captured under the mock engine and applied to OpenBao; a workload logs in with
a service-account JWT and uses what it reads against PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components import KvStore
from planner.engine import RANDOM_PASSWORD, Capture, run_program
from tests.conftest import plan
from tests.live.jwt_issuer import ServiceAccountIssuer
from tests.live.openbao import OpenBaoDevServer, OpenBaoFileServer, VaultClient, VaultError, require_bao
from tests.live.postgres import PostgresServer, require_postgres
from tests.live.vault_apply import apply_vault_resources

CREATE = [
    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
    'GRANT SELECT ON orders TO "{{name}}";',
]
REVOKE = ['REVOKE ALL ON orders FROM "{{name}}";', 'DROP ROLE IF EXISTS "{{name}}";']
STATIC_USER = "orders_static"


@pytest.fixture
def pg() -> Iterator[PostgresServer]:
    with PostgresServer(require_postgres()) as server:
        server.psql("CREATE TABLE orders (id int); INSERT INTO orders VALUES (1), (2);")
        server.psql(f"CREATE ROLE {STATIC_USER} WITH LOGIN PASSWORD 'initial-static-password';")
        server.psql(f"GRANT SELECT ON orders TO {STATIC_USER};")
        yield server


@pytest.fixture
def bao() -> Iterator[OpenBaoDevServer]:
    with OpenBaoDevServer(require_bao()) as server:
        yield server


@pytest.fixture
def issuer() -> ServiceAccountIssuer:
    return ServiceAccountIssuer()


def stack_config(pg: PostgresServer, issuer: ServiceAccountIssuer, **database: Any) -> dict[str, Any]:
    """A stack with jwt auth, one workload reading a dynamic and a static role, and a generated KV secret."""
    return {
        "secrets-platform:vault": {"address": "https://vault.example.com"},
        "secrets-platform:cluster": {
            "name": "test",
            "apiHost": "https://kubernetes.example.com",
            "authMethod": "jwt",
            "issuer": issuer.issuer,
            "jwtValidationPubkeys": [issuer.public_key_pem],
        },
        "secrets-platform:kv": [{"mount": "kv", "generated": [{"path": "orders", "keys": ["apikey"]}]}],
        "secrets-platform:databases": [
            {
                "name": "orders",
                "plugin": "postgresql",
                "connectionUrl": pg.connection_url,
                "username": "postgres",
                "password": pg.admin_password,
                "roles": [
                    {
                        "name": "orders-read",
                        "creationStatements": CREATE,
                        "revocationStatements": REVOKE,
                        "defaultTtl": database.get("default_ttl", "30s"),
                        "maxTtl": database.get("max_ttl", "90s"),
                    },
                    {"name": "orders-admin", "creationStatements": CREATE},
                ],
                "staticRoles": [
                    {"name": "orders-static", "username": STATIC_USER, "rotationPeriod": database.get("rotation", "1h")}
                ],
                "rotateRoot": database.get("rotate_root", False),
            }
        ],
        "secrets-platform:workloads": [
            {
                "name": "orders",
                "namespace": "shop",
                "serviceAccount": "orders",
                "secrets": [{"path": "kv/data/orders", "key": "apikey"}],
                "databaseCredentials": [
                    {"mount": "database", "role": "orders-read"},
                    {"mount": "database", "role": "orders-static", "static": True},
                ],
            }
        ],
    }


MOUNTS = {"vault:index/authBackend:AuthBackend", "vault:jwt/authBackend:AuthBackend", "vault:index/mount:Mount"}


def deploy(root: VaultClient, capture: Capture) -> None:
    apply_vault_resources(root, capture.resources)


def redeploy(root: VaultClient, capture: Capture) -> None:
    """What an update writes again: every configuration, role and policy (mounts exist; KV data is unchanged)."""
    apply_vault_resources(
        root, [r for r in capture.resources if r.type not in MOUNTS and r.type != "vault:kv/secretV2:SecretV2"]
    )


def registered(capture: Capture) -> list[tuple[str, str, str]]:
    """Every resource's type, name and inputs (secrets masked), in a stable order."""
    return sorted((r.type, r.name, repr(r.masked_inputs)) for r in capture.resources)


def login(root: VaultClient, issuer: ServiceAccountIssuer) -> VaultClient:
    return root.with_token(root.login("jwt", "orders", issuer.issue("shop", "orders", ["vault"])))


def test_dynamic_credentials_work_until_revoked(
    bao: OpenBaoDevServer, pg: PostgresServer, issuer: ServiceAccountIssuer
) -> None:
    root = bao.client()
    deploy(root, plan(stack_config(pg, issuer)))
    workload = login(root, issuer)

    lease = workload.read("database/creds/orders-read")
    user, password = lease["data"]["username"], lease["data"]["password"]
    assert lease["lease_duration"] == 30 and lease["renewable"] is True
    assert pg.psql("SELECT count(*) FROM orders", user=user, password=password) == "2"

    # Least privilege: the workload cannot use a role its policy does not name, nor the engine's config.
    for path in ("database/creds/orders-admin", "database/config/orders", "database/roles/orders-read"):
        with pytest.raises(VaultError) as denied:
            workload.read(path)
        assert denied.value.status == 403, path

    root.write("sys/leases/revoke", {"lease_id": lease["lease_id"]})
    assert not pg.can_login(user, password)
    assert pg.psql(f"SELECT count(*) FROM pg_roles WHERE rolname = '{user}'") == "0"  # the user is gone


def test_dynamic_credentials_expire_with_their_ttl(
    bao: OpenBaoDevServer, pg: PostgresServer, issuer: ServiceAccountIssuer
) -> None:
    root = bao.client()
    deploy(root, plan(stack_config(pg, issuer, default_ttl="3s", max_ttl="3s")))
    lease = login(root, issuer).read("database/creds/orders-read")
    user, password = lease["data"]["username"], lease["data"]["password"]
    assert pg.can_login(user, password)
    deadline = time.monotonic() + 20
    while pg.can_login(user, password) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not pg.can_login(user, password), "the credential outlived its TTL"


def test_renewal_extends_a_lease_up_to_max_ttl_and_no_further(
    bao: OpenBaoDevServer, pg: PostgresServer, issuer: ServiceAccountIssuer
) -> None:
    root = bao.client()
    deploy(root, plan(stack_config(pg, issuer, default_ttl="10s", max_ttl="20s")))
    workload = login(root, issuer)
    issued = time.monotonic()
    lease = workload.read("database/creds/orders-read")
    assert lease["lease_duration"] == 10

    renewed = workload.write("sys/leases/renew", {"lease_id": lease["lease_id"], "increment": 15})
    elapsed = time.monotonic() - issued
    assert 10 < renewed["lease_duration"] <= 15  # extended past the default TTL
    assert renewed["lease_duration"] + elapsed <= 20 + 1

    capped = workload.write("sys/leases/renew", {"lease_id": lease["lease_id"], "increment": 3600})
    elapsed = time.monotonic() - issued
    assert capped["lease_duration"] + elapsed <= 20 + 1  # never past max_ttl
    assert any("max" in w.lower() for w in capped.get("warnings") or []), capped.get("warnings")


def test_static_role_password_rotates(bao: OpenBaoDevServer, pg: PostgresServer, issuer: ServiceAccountIssuer) -> None:
    root = bao.client()
    deploy(root, plan(stack_config(pg, issuer, rotation="5s")))
    workload = login(root, issuer)
    assert not pg.can_login(STATIC_USER, "initial-static-password")  # Vault took the user over on import

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


def test_root_rotation_leaves_only_vault_knowing_the_admin_password(
    bao: OpenBaoDevServer, pg: PostgresServer, issuer: ServiceAccountIssuer
) -> None:
    root = bao.client()
    deploy(root, plan(stack_config(pg, issuer, rotate_root=True)))
    assert not pg.can_login("postgres", pg.admin_password)
    lease = login(root, issuer).read("database/creds/orders-read")
    assert pg.can_login(lease["data"]["username"], lease["data"]["password"])


def kv_plan(clock: int) -> Capture:
    return run_program(
        lambda: KvStore(
            "kv",
            {
                "kv": {"mount": "kv", "generated": [{"path": "orders", "keys": ["apikey"], "rotate_every": "30d"}]},
                "clock": clock,
            },
        )
    )


def keepers(capture: Capture) -> list[Any]:
    return [r.inputs for r in capture.of_type(RANDOM_PASSWORD)]


def test_kv_rotation_keeps_the_previous_version_readable(bao: OpenBaoDevServer) -> None:
    day = 86400
    start = 1_800_000_000 - 1_800_000_000 % (30 * day)  # the first second of a 30-day period
    first = kv_plan(start + day)
    # A preview later in the same period registers identical inputs: no diff, no new value.
    assert keepers(kv_plan(start + 29 * day)) == keepers(first)
    rotated = kv_plan(start + 31 * day)
    assert keepers(rotated) != keepers(first)

    root = bao.client()
    apply_vault_resources(root, first.resources)
    before = root.read("kv/data/orders")["data"]
    apply_vault_resources(root, [r for r in rotated.resources if r.type == "vault:kv/secretV2:SecretV2"])
    after = root.read("kv/data/orders")["data"]
    assert after["metadata"]["version"] == before["metadata"]["version"] + 1
    assert after["data"]["apikey"] != before["data"]["apikey"]
    previous = root.read(f"kv/data/orders?version={before['metadata']['version']}")["data"]
    assert previous["data"] == before["data"]
    assert root.read("kv/config")["data"]["max_versions"] == 10


def test_postgres_down_is_a_clear_error_and_recovery_needs_nothing(
    bao: OpenBaoDevServer, pg: PostgresServer, issuer: ServiceAccountIssuer
) -> None:
    root = bao.client()
    capture = plan(stack_config(pg, issuer))
    deploy(root, capture)
    workload = login(root, issuer)

    pg.stop()
    with pytest.raises(VaultError) as down:
        workload.read("database/creds/orders-read")
    assert down.value.status == 500
    assert "connect" in str(down.value).lower() or "refused" in str(down.value).lower(), str(down.value)
    assert pg.admin_password not in str(down.value)

    pg.start()
    lease = workload.read("database/creds/orders-read")
    assert pg.can_login(lease["data"]["username"], lease["data"]["password"])
    # Writing the same configuration again (what `pulumi up` would do had anything drifted) is harmless.
    redeploy(root, capture)
    assert pg.can_login(lease["data"]["username"], lease["data"]["password"])


def test_openbao_restart_between_apply_and_use(
    pg: PostgresServer, issuer: ServiceAccountIssuer, tmp_path: Path
) -> None:
    require_bao()
    with OpenBaoFileServer() as bao:
        bao.initialise()
        root = bao.client()
        root.write("sys/mounts/secret", {"type": "kv", "options": {"version": "2"}})
        capture = plan(stack_config(pg, issuer))
        deploy(root, capture)
        apikey = root.read("kv/data/orders")["data"]["data"]["apikey"]

        bao.restart()
        with pytest.raises(VaultError) as sealed:
            login(root, issuer)
        assert sealed.value.status == 503 and "sealed" in str(sealed.value).lower()

        bao.unseal()
        workload = login(root, issuer)
        assert workload.read("kv/data/orders")["data"]["data"]["apikey"] == apikey  # nothing lost
        lease = workload.read("database/creds/orders-read")
        assert pg.can_login(lease["data"]["username"], lease["data"]["password"])

        # A second plan of the same stack registers the same inputs (secrets aside): `pulumi up` has nothing to do.
        again = plan(stack_config(pg, issuer))
        assert registered(again) == registered(capture)
        redeploy(root, again)
        assert workload.read("kv/data/orders")["data"]["data"]["apikey"] == apikey
