"""Rules over Vault's database secrets engine: dynamic and static roles, and the connections Vault holds."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl

from .core import Level, Problem, Resource, Severity, cannot_check, int_param, lifetime_problems, resource_rule
from .values import (
    has_unknown,
    is_set,
    is_unknown,
    items,
    mapping,
    strings,
    url_password,
    url_query,
)
from .vault import MOUNT_DEFAULT_TTL

ROLE = "vault:database/secretBackendRole:SecretBackendRole"
STATIC_ROLE = "vault:database/secretBackendStaticRole:SecretBackendStaticRole"
CONNECTION = "vault:database/secretBackendConnection:SecretBackendConnection"
MOUNT = "vault:database/secretsMount:SecretsMount"
# The plugin blocks of a connection (SecretsMount holds lists of the same blocks, pluralised).
POSTGRES_PLUGINS = ("postgresql", "redshift")
MYSQL_PLUGINS = ("mysql", "mysqlRds", "mysqlAurora", "mysqlLegacy")
PLUGINS = (
    *POSTGRES_PLUGINS, *MYSQL_PLUGINS, "mssql", "oracle", "hana", "mongodb", "snowflake", "elasticsearch",
    "cassandra", "couchbase", "influxdb", "redis", "redisElasticache", "mongodbatlas",
)  # fmt: skip
# Role attributes and grants that make a generated user an administrator of the database server.
_SUPERUSER = re.compile(
    r"\b(SUPERUSER|CREATEROLE|BYPASSRLS|REPLICATION|SUPER|SYSADMIN|CONTROL\s+SERVER|rds_superuser|cloudsqlsuperuser"
    r"|azure_pg_admin|pg_execute_server_program|pg_write_server_files|pg_read_server_files)\b"
    r"|\bON\s+\*\.\*|\bWITH\s+GRANT\s+OPTION\b|\bWITH\s+ADMIN\s+OPTION\b",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`")
_TEMPLATE = re.compile(r"^\{\{\s*\w+\s*\}\}$")
# libpq/pgx sslmodes that may send the connection in plain text (prefer is pgx's default when unset).
PLAINTEXT_SSLMODES = frozenset({"disable", "allow", "prefer"})
# go-sql-driver/mysql `tls` values that may send it in plain text (unset means no TLS).
PLAINTEXT_MYSQL_TLS = frozenset({"false", "preferred"})
EXPLICIT_PLAINTEXT = {"sslmode": "disable", "tls": "false", "ssl": "false", "encrypt": "disable"}

VAULT_DATABASE = "https://developer.hashicorp.com/vault/docs/secrets/databases"


@resource_rule(
    "vault-database-role-revocation",
    description="Every dynamic database role says how Vault drops the users it creates (`revocation_statements`).",
    why=(
        "Without revocation statements Vault falls back to the plugin's default, which knows nothing of what the "
        "creation statements granted: PostgreSQL's revokes table and sequence privileges in the schemas it finds "
        "grants in and in `public`, `CONNECT` on the current database, then runs `DROP ROLE`, which fails while "
        "the user owns anything (a table it created through a granted role) or holds other privileges "
        "(functions, other databases, default privileges); the lease is then not revoked and the user keeps "
        "working. Explicit statements (`REASSIGN OWNED`, `DROP OWNED`, `DROP ROLE`) undo what the role grants."
    ),
    level=Level.MANDATORY,
    remediation='add `revocation_statements` undoing the creation statements (e.g. `DROP ROLE IF EXISTS "{{name}}"`).',
    source="Vault database secrets engine API (`revocation_statements`); Vault PostgreSQL plugin (default revocation)",
    types=(ROLE,),
    severity=Severity.HIGH,
    url=f"{VAULT_DATABASE}/postgresql",
)
def role_revocation(role: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    statements = role.get("revocationStatements")
    if is_unknown(statements):
        yield cannot_check("revocationStatements")
    elif not any(s.strip() for s in strings(statements)):
        yield Problem("revocationStatements is empty: users Vault creates may outlive their lease.")


@resource_rule(
    "vault-database-credential-lifetime",
    description=(
        "Database credentials Vault issues are short-lived: dynamic roles set `default_ttl` and `max_ttl` within "
        "`maxLeaseTtlSeconds`, static roles rotate within `maxRotationPeriodSeconds`."
    ),
    why=(
        "A dynamic role's `default_ttl` or `max_ttl` of 0 means the mount's, 768h (32 days) unless tuned: a "
        "leaked database user works that long. A static role's password is valid until its next rotation."
    ),
    level=Level.MANDATORY,
    remediation="set `default_ttl` and `max_ttl` (e.g. 1h, 8h) and a static role's `rotation_period` under the caps.",
    source="Vault database secrets engine API (`default_ttl`, `max_ttl`, `rotation_period`)",
    types=(ROLE, STATIC_ROLE),
    params=(
        int_param("maxLeaseTtlSeconds", 86400, "The longest default_ttl / max_ttl of a dynamic role.", minimum=1),
        int_param("maxRotationPeriodSeconds", 604800, "The longest rotation_period of a static role.", minimum=1),
    ),
    severity=Severity.MEDIUM,
    url=VAULT_DATABASE,
)
def credential_lifetime(role: Resource, config: Mapping[str, Any]) -> Iterator[Problem]:
    if role.type == STATIC_ROLE:
        if is_set(role.get("rotationSchedule")):
            return  # rotated on a cron schedule rather than a period
        yield from lifetime_problems(
            role, "rotationPeriod", int(config["maxRotationPeriodSeconds"]), "the password is never rotated"
        )
        return
    cap = int(config["maxLeaseTtlSeconds"])
    for field in ("defaultTtl", "maxTtl"):
        yield from lifetime_problems(role, field, cap, MOUNT_DEFAULT_TTL)


def _unquoted(statement: str) -> str:
    """A statement with its string literals and quoted identifiers blanked out (a password is not a privilege)."""
    return _QUOTED.sub("''", statement)


@resource_rule(
    "vault-database-role-no-superuser",
    description="No dynamic database role creates administrators (SUPERUSER, CREATEROLE, global or grantable grants).",
    why=(
        "Every lease creates a new user with exactly what the creation statements grant: `SUPERUSER`, "
        "`CREATEROLE`, `BYPASSRLS` or `REPLICATION` (PostgreSQL), membership of the cloud superuser roles or the "
        "server-file roles, `ON *.*`, `SUPER` or `WITH GRANT OPTION` (MySQL), `sysadmin` or `CONTROL SERVER` "
        "(SQL Server) make each lease an administrator that can create users Vault never revokes. Words inside "
        "string literals and quoted identifiers do not count."
    ),
    level=Level.MANDATORY,
    remediation="grant the role only the privileges the workload uses on its own schema or tables.",
    source="Vault database secrets engine (creation statements run for every lease); PostgreSQL role attributes",
    types=(ROLE, STATIC_ROLE),
    severity=Severity.CRITICAL,
    url=VAULT_DATABASE,
)
def role_no_superuser(role: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    field = "rotationStatements" if role.type == STATIC_ROLE else "creationStatements"
    statements = role.get(field)
    if has_unknown(statements):
        yield cannot_check(field)
    for i, statement in enumerate(strings(statements)):
        match = _SUPERUSER.search(_unquoted(statement))
        if match:
            yield Problem(f"{field}[{i}] grants {' '.join(match.group(0).upper().split())}.")


def connection_blocks(resource: Resource) -> Iterator[tuple[str, Any]]:
    """``(plugin field, block)`` for each plugin block of a connection or a secrets mount."""
    for plugin in PLUGINS:
        if resource.type == CONNECTION:
            block = resource.get(plugin)
            if block is not None:
                yield plugin, block
        else:
            for i, block in enumerate(items(resource.get(f"{plugin}s"))):
                yield f"{plugin}s[{i}]", block


def _dsn_settings(url: str) -> dict[str, str]:
    """``key=value`` settings of a connection string: URL or Go DSN query parameters, or a libpq keyword DSN."""
    if "://" in url:
        return {k.lower(): v for k, v in url_query(url)}
    if "?" in url:  # go-sql-driver/mysql: user:password@tcp(host:3306)/db?tls=true
        return {k.lower(): v for k, v in parse_qsl(url.split("?", 1)[1], keep_blank_values=True)}
    return {k.lower(): v.strip("'") for k, v in re.findall(r"(\w+)\s*=\s*('[^']*'|\S+)", url)}


def dsn_password(url: str) -> str | None:
    """The password a connection string carries: a URL's userinfo, a Go DSN's ``user:password@``, or ``password=``."""
    if "://" in url:
        return url_password(url)
    go_dsn = _GO_DSN_USERINFO.match(url)
    if go_dsn:
        return go_dsn.group(1) or None
    return _dsn_settings(url).get("password") or None


_GO_DSN_USERINFO = re.compile(r"^[^:@/\s]*:([^@]*)@\w*\(")


def plaintext_transport(plugin: str, url: str, block: Mapping[str, Any]) -> str | None:
    """Why a connection may travel in plain text, or None."""
    settings = _dsn_settings(url)
    if plugin.startswith(POSTGRES_PLUGINS):
        mode = settings.get("sslmode")
        if mode is None:
            return "sslmode is not set (pgx's default, prefer, falls back to plain text)"
        if mode in PLAINTEXT_SSLMODES:
            return f"sslmode={mode} may send it in plain text"
        return None
    if plugin.startswith(MYSQL_PLUGINS):
        tls = settings.get("tls")
        if tls is None and not is_set(block.get("tlsCa")) and not is_set(block.get("tlsCertificateKey")):
            return "tls is not set and no tls_ca is given (the MySQL driver's default is no TLS)"
        if tls in PLAINTEXT_MYSQL_TLS:
            return f"tls={tls} may send it in plain text"
        return None
    for key, value in EXPLICIT_PLAINTEXT.items():
        if settings.get(key, "").lower() == value:
            return f"{key}={value} sends it in plain text"
    return None


@resource_rule(
    "vault-database-connection-tls",
    description="Vault reaches each database over TLS: no `sslmode=disable|allow|prefer`, no MySQL without `tls`.",
    why=(
        "Vault logs in to the database with its admin credentials and creates every lease's password over this "
        "connection. PostgreSQL (pgx) tries TLS without verifying it and falls back to plain text unless "
        "`sslmode` is `require`, `verify-ca` or `verify-full` (unset is `prefer`); the MySQL driver uses no TLS "
        "unless `tls` or the plugin's `tls_ca` say so."
    ),
    level=Level.MANDATORY,
    remediation="add `sslmode=verify-full` (PostgreSQL) or `tls=true` with `tls_ca` (MySQL) to the connection.",
    source="Vault PostgreSQL and MySQL database plugins (connection_url); libpq sslmode; go-sql-driver/mysql tls",
    types=(CONNECTION, MOUNT),
    severity=Severity.HIGH,
    url=f"{VAULT_DATABASE}/postgresql",
)
def connection_tls(resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    for plugin, block in connection_blocks(resource):
        url = block if is_unknown(block) else mapping(block).get("connectionUrl")
        if is_unknown(url):
            yield cannot_check(f"{plugin}.connectionUrl")
        elif isinstance(url, str) and (why := plaintext_transport(plugin, url, mapping(block))):
            yield Problem(f"{plugin}.connectionUrl: {why}.")


@resource_rule(
    "vault-database-connection-no-literal-password",
    description="A database connection URL carries `{{username}}:{{password}}` templates, never a literal password.",
    why=(
        "Vault returns `connection_url` to anyone who may read the connection's config (it redacts only the "
        "`password` field) and the stack stores it in plain text; Vault fills `{{password}}` from the password "
        "field, which it keeps secret and can rotate (`rotate-root`)."
    ),
    level=Level.MANDATORY,
    remediation=(
        "write `postgresql://{{username}}:{{password}}@host/db` and pass the password as the plugin's `password` "
        "(a Pulumi secret)."
    ),
    source="Vault database secrets engine API (`connection_url` templates; `password` is never returned)",
    types=(CONNECTION, MOUNT),
    severity=Severity.CRITICAL,
    url=VAULT_DATABASE,
)
def connection_no_literal_password(resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    for plugin, block in connection_blocks(resource):
        url = None if is_unknown(block) else mapping(block).get("connectionUrl")
        password = dsn_password(url) if isinstance(url, str) else None
        if password and not _TEMPLATE.match(password):
            yield Problem(f"{plugin}.connectionUrl holds a literal password.")


RULES = (
    role_revocation,
    credential_lifetime,
    role_no_superuser,
    connection_tls,
    connection_no_literal_password,
)
