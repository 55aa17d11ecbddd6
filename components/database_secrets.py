"""DatabaseSecrets: Vault's database engine for one database: dynamic roles, rotated static roles.

Dynamic roles give each lease its own database user, dropped on revocation or
expiry; static roles rotate an existing user's password every
``rotationPeriod``. The admin password comes from stack config and stays a
Pulumi secret; with ``rotateRoot`` Vault replaces it after setup so that only
Vault knows it.
"""

from typing import Any

import pulumi
import pulumi_vault as vault

from .args import DatabasePlugin, DatabaseSecretsArgs
from .component import Component
from .model import Database, DatabaseRole, DatabaseStaticRole
from .spec import validate_database_secrets

PLUGIN_NAMES = {
    DatabasePlugin.POSTGRESQL: "postgresql-database-plugin",
    DatabasePlugin.MYSQL: "mysql-database-plugin",
}

# --- pure builders -------------------------------------------------------------


def mount_inputs(db: Database) -> dict[str, Any]:
    return {"path": db.mount, "type": "database", "description": f"database engine for {db.name}, managed by vaultk8s"}


def connection_inputs(db: Database) -> dict[str, Any]:
    """Inputs of ``vault.database.SecretBackendConnection``; the plugin block carries the password, a secret."""
    return {
        "name": db.name,
        "plugin_name": PLUGIN_NAMES[db.plugin],
        "verify_connection": db.verify_connection,
        "allowed_roles": [r.name for r in db.roles] + [r.name for r in db.static_roles],
        db.plugin.value: {"connection_url": db.connection_url, "username": db.username, "password": db.password},
    }


def role_inputs(db: Database, role: DatabaseRole) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "name": role.name,
        "db_name": db.name,
        "creation_statements": list(role.creation_statements),
        "default_ttl": role.default_ttl,
        "max_ttl": role.max_ttl,
    }
    if role.revocation_statements:
        inputs["revocation_statements"] = list(role.revocation_statements)
    return inputs


def static_role_inputs(db: Database, role: DatabaseStaticRole) -> dict[str, Any]:
    return {"name": role.name, "db_name": db.name, "username": role.username, "rotation_period": role.rotation_period}


def rotate_root_inputs(db: Database) -> dict[str, Any]:
    """A one-shot write to ``<mount>/rotate-root/<name>``: never read back, never undone."""
    return {
        "path": f"{db.mount}/rotate-root/{db.name}",
        "data_json": "{}",
        "disable_read": True,
        "disable_delete": True,
    }


# --- component -----------------------------------------------------------------


class DatabaseSecrets(Component):
    """A database engine mount, its connection, dynamic roles and rotated static roles."""

    mount: pulumi.Output[str]
    """The engine's mount path."""
    credential_paths: pulumi.Output[list[str]]
    """The paths workloads read credentials from (`creds/<role>`, `static-creds/<role>`)."""

    def __init__(self, name: str, args: DatabaseSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        self._build(name, validate_database_secrets(args), opts)

    def _build(self, name: str, model: Database, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__("vaultk8s:index:DatabaseSecrets", name, {}, opts)
        db = model
        mount = vault.Mount(f"{name}-mount", **mount_inputs(db), opts=pulumi.ResourceOptions(parent=self))
        connection = vault.database.SecretBackendConnection(
            f"{name}-connection",
            backend=db.mount,
            **connection_inputs(db),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[mount]),
        )
        after_connection = pulumi.ResourceOptions(parent=self, depends_on=[connection])
        roles: list[pulumi.Resource] = [
            vault.database.SecretBackendRole(
                f"{name}-role-{r.name}", backend=db.mount, **role_inputs(db, r), opts=after_connection
            )
            for r in db.roles
        ]
        roles += [
            vault.database.SecretBackendStaticRole(
                f"{name}-static-role-{r.name}", backend=db.mount, **static_role_inputs(db, r), opts=after_connection
            )
            for r in db.static_roles
        ]
        if db.rotate_root:
            vault.generic.Endpoint(
                f"{name}-rotate-root",
                **rotate_root_inputs(db),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[connection, *roles]),
            )
        self.mount = pulumi.Output.from_input(db.mount)
        self.credential_paths = pulumi.Output.from_input(sorted(db.roles_by_path))
        self.register_outputs({"mount": self.mount, "credential_paths": self.credential_paths})
