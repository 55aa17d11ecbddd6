"""The edge: component args (or stack config) become the frozen model here, and only here.

Stack config (``Pulumi.<stack>.yaml``) uses the camelCase names of the component schema
(``serviceAccount``); Python args use snake_case (``service_account``). ``from_config`` maps
the first onto the second (refusing plain-text secrets); each ``validate_*`` turns one
component's args into its model, refusing unknown keys and bad values with a ``SpecError``
that names the field in schema (camelCase) form, the one a user sees in YAML and in every
non-Python SDK. A field left out is not passed to the model, so its default applies; every
rule the builders rely on (object names, file names, lifetimes) is checked here, so nothing
downstream re-checks.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
import typing
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from enum import Enum
from typing import Any, TypeVar

import pulumi

from . import validation as v
from .args import (
    SECRET_FIELDS,
    AgentInjectorArgs,
    AuditDeviceArgs,
    AuthMethod,
    ClusterArgs,
    CsiArgs,
    DatabaseArgs,
    DatabaseCredentialArgs,
    DatabasePlugin,
    DatabaseRoleArgs,
    DatabaseSecretsArgs,
    DatabaseStaticRoleArgs,
    Delivery,
    DeliveryArgs,
    ExternalSecretsArgs,
    ExternalSecretsOperatorArgs,
    GeneratedSecretArgs,
    InstallMethod,
    JwtAuthArgs,
    KubernetesAuthArgs,
    KvMountArgs,
    KvStoreArgs,
    LegacyOperator,
    ReviewerMode,
    SecretRefArgs,
    SecretsPlatformArgs,
    SecretsStoreCsiArgs,
    VaultAgentInjectorArgs,
    VaultArgs,
    VaultSecretsOperatorArgs,
    VaultServerKind,
    WorkloadAccessArgs,
    WorkloadArgs,
)
from .durations import format_duration
from .model import (
    API_SERVER_AUDIENCE,
    DEFAULT_AUDIENCE,
    DEFAULT_AUTH_METHOD,
    AgentInjectorInstall,
    AgentInjectorSettings,
    AuditDevice,
    AuthBinding,
    Cluster,
    CsiInstall,
    CsiSettings,
    Database,
    DatabaseCredential,
    DatabaseRole,
    DatabaseStaticRole,
    DeliverySettings,
    ExternalSecretsSettings,
    GeneratedSecret,
    JwtAuthSpec,
    KubernetesAuthSpec,
    KvMount,
    KvStoreSpec,
    PlatformSpec,
    SecretRef,
    VaultSecretsOperatorSettings,
    VaultServer,
    Workload,
    mount_slug,
)
from .validation import SpecError

M = TypeVar("M")

MAX_TOKEN_TTL_SECONDS = 24 * 3600
MAX_LEASE_SECONDS = 32 * 86400
MIN_REFRESH_SECONDS = 10
# External Secrets refreshes a credential at two thirds of its lease, and never more often than every 10s.
MIN_ESO_CREDENTIAL_LIFETIME = MIN_REFRESH_SECONDS * 3 // 2
# vault-k8s names each injected file's annotation `agent-inject-template-<name>`: a qualified name of <= 63.
_AGENT_TEMPLATE_KEY = "agent-inject-template-"
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_KV_DATA_PATH = re.compile(r"^(?P<mount>.+?)/data/(?P<key_path>.+)$")
CREDENTIAL_KEYS = ("username", "password")
"""The keys of a database engine's ``creds/<role>`` and ``static-creds/<role>`` response."""

# Size limits, refused before anything else is read: a stack beyond them would take tens of minutes to
# plan (the benchmark's 5,000 workloads, 25,000 entries, plan in about three) and is better split.
MAX_WORKLOADS = 10_000
MAX_SECRETS_PER_WORKLOAD = 10_000
MAX_KV_MOUNTS = 1_000
MAX_CLUSTERS = 100
MAX_ENTRIES = 60_000
SIZE_LIMITS = (
    f"at most {MAX_WORKLOADS:,} workloads, {MAX_SECRETS_PER_WORKLOAD:,} secrets and database credentials per "
    f"workload, {MAX_KV_MOUNTS:,} KV mounts and {MAX_ENTRIES:,} entries in all (workloads, their secrets and "
    "credentials, generated keys, database roles); split a larger platform into several stacks"
)


@functools.cache  # a stack file repeats a few dozen key names thousands of times
def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@functools.cache
def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


class _Fields:
    """One args mapping under validation: its keys checked against the args type, its fields named in schema form."""

    def __init__(self, field: str, value: object, cls: type) -> None:
        names = tuple(cls.__annotations__)
        if not isinstance(value, Mapping):
            raise SpecError(field, value, "a mapping")
        for key in value:
            if key not in names:
                known = tuple(camel(n) for n in names)
                raise SpecError(_join(field, camel(str(key))), camel(str(key)), _known_keys(camel(str(key)), known))
        self.base = field
        self.args = value

    def name(self, key: str) -> str:
        return _join(self.base, camel(key))

    def get(self, key: str) -> Any:
        return self.args.get(key)

    def given(self, key: str) -> bool:
        return self.args.get(key) is not None

    def opt(self, key: str, check: Callable[[str, Any], Any]) -> Any:
        """``check(field, value)`` of a given field; None (the model's default applies) when it is left out."""
        raw = self.args.get(key)
        return None if raw is None else check(self.name(key), raw)

    def req(self, key: str, check: Callable[[str, Any], Any]) -> Any:
        return check(self.name(key), self.args.get(key))

    def items(self, key: str, check: Callable[[str, Any], M], *, most: int | None = None) -> tuple[M, ...]:
        """Each entry of a list field, checked as ``<field>[i]``; a left-out list is empty."""
        raw = self.args.get(key)
        entries = [] if raw is None else v.sequence(self.name(key), raw)
        if most is not None and len(entries) > most:
            raise SpecError(self.name(key), f"{len(entries):,} entries", SIZE_LIMITS)
        return tuple(check(f"{self.name(key)}[{i}]", entry) for i, entry in enumerate(entries))


def _join(base: str, name: str) -> str:
    return f"{base}.{name}" if base else name


def _known_keys(key: str, known: Iterable[str]) -> str:
    options = tuple(known)
    close = difflib.get_close_matches(key, options, n=1, cutoff=0.75)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return "a known key: " + ", ".join(options) + hint


def _given(cls: Callable[..., M], **fields: Any) -> M:
    """The model with the fields the user gave; a None field is left out, so the model's own default applies."""
    return cls(**{k: x for k, x in fields.items() if x is not None})


def _enum(enum: type[Enum]) -> Callable[[str, Any], Any]:
    def check(field: str, value: object) -> Any:
        raw = value.value if isinstance(value, Enum) else value
        return enum(v.choice(field, raw, tuple(str(m.value) for m in enum)))  # type: ignore[call-overload]

    return check


def _duration(*, minimum: int = 1, maximum: int | None = None) -> Callable[[str, Any], int]:
    return lambda field, value: v.duration_seconds(field, value, minimum=minimum, maximum=maximum)


def _integer(minimum: int, maximum: int) -> Callable[[str, Any], int]:
    return lambda field, value: v.integer(field, value, minimum=minimum, maximum=maximum)


def _pem_text(field: str, value: object) -> Any:
    return v.when_known(field, value, v.pem)


def _url_text(field: str, value: object) -> Any:
    return v.when_known(field, value, v.url)


def _unique(
    items: Iterable[Any], field: str, name: str, key: Callable[[Any], Any], within: Callable[[Any], str] | None = None
) -> None:
    """Refuse a repeated ``key``; with ``within``, only among the items it puts in the same place (a cluster)."""
    seen: dict[Any, int] = {}
    for i, item in enumerate(items):
        k = key(item)
        place = within(item) if within else None
        if (place, k) in seen:
            where = f" in cluster {place}" if place else ""
            raise SpecError(f"{field}[{i}].{name}", k, f"a value not already used by {field}[{seen[place, k]}]{where}")
        seen[place, k] = i


# --- workloads ----------------------------------------------------------------------------------


def validate_secret_ref(field: str, raw: object) -> SecretRef:
    args = _Fields(field, raw, SecretRefArgs)
    kv_path = "a KV v2 data path '<mount>/data/<path>', e.g. 'secret/data/myapp'"
    path = args.req("path", lambda f, x: v.require_str(f, x, kv_path))
    match = _KV_DATA_PATH.match(path)
    if not match:
        raise SpecError(args.name("path"), path, kv_path)
    try:
        mount = v.mount_path(args.name("path"), match["mount"])
        key_path = v.kv_key_path(args.name("path"), match["key_path"])
    except SpecError as error:
        raise SpecError(error.field, path, error.allowed) from None
    return _given(
        SecretRef,
        mount=mount,
        key_path=key_path,
        key=args.req("key", v.secret_key),
        name=args.opt("name", v.secret_key),
        delivery=args.opt("delivery", _enum(Delivery)),
    )


def validate_database_credential(field: str, raw: object) -> DatabaseCredential:
    args = _Fields(field, raw, DatabaseCredentialArgs)
    return _given(
        DatabaseCredential,
        mount=args.req("mount", v.mount_path),
        role=args.req("role", v.vault_name),
        static=args.opt("static", v.boolean),
        name=args.opt("name", v.secret_key),
        delivery=args.opt("delivery", _enum(Delivery)),
    )


def validate_workload(field: str, raw: object) -> Workload:
    args = _Fields(field, raw, WorkloadArgs)
    token_ttl = _duration(minimum=60, maximum=MAX_TOKEN_TTL_SECONDS)
    workload = _given(
        Workload,
        name=args.req("name", v.dns_label),
        namespace=args.req("namespace", v.dns_label),
        service_account=args.req("service_account", v.dns_subdomain),
        role=args.opt("role", v.vault_name),
        secrets=args.items("secrets", validate_secret_ref, most=MAX_SECRETS_PER_WORKLOAD),
        database_credentials=args.items(
            "database_credentials", validate_database_credential, most=MAX_SECRETS_PER_WORKLOAD
        ),
        token_ttl=args.opt("token_ttl", token_ttl),
        token_max_ttl=args.opt("token_max_ttl", token_ttl),
        create_service_account=args.opt("create_service_account", v.boolean),
        refresh_interval=args.opt("refresh_interval", _duration(minimum=MIN_REFRESH_SECONDS, maximum=86400)),
        secret_name=args.opt("secret_name", v.dns_subdomain),
        secret_provider_class=args.opt("secret_provider_class", v.dns_subdomain),
        cluster_store_namespaces=args.items("cluster_store_namespaces", v.dns_label),
        deployment=args.opt("deployment", v.dns_subdomain),
        cluster=args.opt("cluster", v.dns_label),
    )
    if not workload.secrets and not workload.database_credentials:
        raise SpecError(args.name("secrets"), [], "at least one secret or databaseCredentials entry")
    if len(workload.secrets) + len(workload.database_credentials) > MAX_SECRETS_PER_WORKLOAD:
        raise SpecError(args.name("secrets"), f"{len(workload.paths):,} entries", SIZE_LIMITS)
    if workload.token_max_ttl < workload.token_ttl:
        raise SpecError(
            args.name("token_max_ttl"),
            args.get("token_max_ttl") or format_duration(workload.token_max_ttl),
            f"at least tokenTtl ({format_duration(workload.token_ttl)})",
        )
    _check_delivered_names(args, workload)
    return workload


def _check_delivered_names(args: _Fields, w: Workload) -> None:
    """The names each delivery derives from a workload's secrets: files, annotation keys, Kubernetes objects."""
    secrets = [(f"{args.name('secrets')}[{i}].name", s) for i, s in enumerate(w.secrets)]
    credentials = [(f"{args.name('database_credentials')}[{i}].name", c) for i, c in enumerate(w.database_credentials)]
    seen: dict[str, str] = {}
    for field, secret in secrets:
        if secret.name in seen:
            raise SpecError(
                field, secret.name, f"a name not used by another secret of the workload ({seen[secret.name]})"
            )
        seen[secret.name] = field

    # Vault Agent injector: one file and one annotation per value; the injector lowercases file names.
    files: dict[str, str] = {}
    for field, item in secrets + credentials:  # type: ignore[operator]
        if item.delivery is not Delivery.AGENT_INJECTOR:
            continue
        key = f"{_AGENT_TEMPLATE_KEY}{item.name}"
        if len(key) > 63 or not _QUALIFIED_NAME.match(key):
            raise SpecError(
                field,
                item.name,
                "at most 41 characters, ending alphanumeric (it names the annotation agent-inject-template-<name>)",
            )
        if item.name.lower() in files:
            raise SpecError(
                field, item.name, f"a file name not used by another value of the pod ({files[item.name.lower()]})"
            )
        files[item.name.lower()] = field

    # CSI: one file per secret, two per credential (<name>-username, <name>-password), in one volume.
    objects: dict[str, str] = {}
    for field, item in secrets + credentials:  # type: ignore[operator]
        if item.delivery is not Delivery.CSI:
            continue
        names = [item.name] if isinstance(item, SecretRef) else [f"{item.name}-{k}" for k in CREDENTIAL_KEYS]
        for name in names:
            if name in objects:
                raise SpecError(
                    field,
                    name,
                    f"a file name used once in the volume (also {objects[name]}; a credential adds "
                    "<name>-username and <name>-password)",
                )
            objects[name] = field

    # External Secrets: one SecretStore and ExternalSecret per KV mount, a generator per credential.
    slugs: dict[str, str] = {}
    for _, secret in secrets:
        if secret.delivery is Delivery.EXTERNAL_SECRETS:
            other = slugs.setdefault(mount_slug(secret.mount), secret.mount)
            if other != secret.mount:
                raise SpecError(
                    args.name("secrets"),
                    [other, secret.mount],
                    "KV mounts whose names differ after lowercasing and '/'/'_' -> '-' (they name the SecretStores)",
                )
    for mount in slugs.values():
        v.dns_subdomain(args.name("secret_name"), w.target_name(mount, len(slugs)))
    for field, credential in credentials:
        if credential.delivery is Delivery.EXTERNAL_SECRETS:
            v.dns_subdomain(field, credential.name)
            v.dns_subdomain(field, w.generator_name(credential))


# --- the cluster, Vault and auth -----------------------------------------------------------------


def _kubernetes_auth(fields: Mapping[str, str], raw: Mapping[str, Any], path: str | None) -> KubernetesAuthSpec:
    """A kubernetes auth mount; ``fields`` names each model field as the caller's schema does."""
    reviewer = None if raw.get("reviewer") is None else _enum(ReviewerMode)(fields["reviewer"], raw["reviewer"])
    ca = raw.get("kubernetes_ca_cert")
    if ca is None and reviewer is not ReviewerMode.VAULT_POD_TOKEN:
        raise SpecError(
            fields["kubernetes_ca_cert"],
            None,
            "a PEM CA certificate of the API server (unless reviewer is vault-pod-token)",
        )
    namespace = raw.get("reviewer_namespace")
    return _given(
        KubernetesAuthSpec,
        kubernetes_host=v.url(fields["kubernetes_host"], raw.get("kubernetes_host")),
        path=path,
        kubernetes_ca_cert=None if ca is None else _pem_text(fields["kubernetes_ca_cert"], ca),
        reviewer=reviewer,
        reviewer_namespace=None if namespace is None else v.dns_label(fields["reviewer_namespace"], namespace),
    )


def _jwt_auth(fields: Mapping[str, str], raw: Mapping[str, Any], path: str | None) -> JwtAuthSpec:
    issuer = v.url(fields["issuer"], raw.get("issuer"))
    keys = raw.get("validation_pubkeys") or []
    pubkeys = tuple(
        v.pem(f"{fields['validation_pubkeys']}[{i}]", k)
        for i, k in enumerate(v.sequence(fields["validation_pubkeys"], keys))
    )
    ca = raw.get("discovery_ca_cert")
    if not pubkeys and ca is None:
        raise SpecError(
            fields["discovery_ca_cert"], None, "the CA of the issuer's OIDC discovery endpoint, or validation keys"
        )
    return _given(
        JwtAuthSpec,
        issuer=issuer,
        path=path,
        discovery_ca_cert=None if ca is None else _pem_text(fields["discovery_ca_cert"], ca),
        validation_pubkeys=pubkeys,
    )


def validate_cluster(field: str, raw: object, *, listed: bool = False) -> Cluster:
    """One cluster; ``listed``: an entry of ``clusters`` (its mount defaults to ``<method>-<name>``)."""
    args = _Fields(field, raw, ClusterArgs)
    name = args.req("name", v.dns_label)
    method = args.opt("auth_method", _enum(AuthMethod)) or DEFAULT_AUTH_METHOD
    path = args.opt("auth_mount", v.mount_path) or (f"{method.value}-{name}" if listed else None)
    auth: KubernetesAuthSpec | JwtAuthSpec
    if method is AuthMethod.KUBERNETES:
        if args.given("jwt_validation_pubkeys"):
            raise SpecError(args.name("jwt_validation_pubkeys"), "[...]", "no validation keys with kubernetes auth")
        names = {
            "kubernetes_host": args.name("api_host"),
            "kubernetes_ca_cert": args.name("ca_cert"),
            "reviewer": args.name("reviewer"),
            "reviewer_namespace": args.name("reviewer_namespace"),
        }
        values = {"kubernetes_host": args.get("api_host"), "kubernetes_ca_cert": args.get("ca_cert")}
        auth = _kubernetes_auth(names, {**values, "reviewer": args.get("reviewer")}, path)
    else:
        if args.given("reviewer"):
            raise SpecError(
                args.name("reviewer"), args.get("reviewer"), "no reviewer with jwt auth (it does no TokenReview)"
            )
        v.url(args.name("api_host"), args.get("api_host"))
        names = {
            "issuer": args.name("issuer"),
            "discovery_ca_cert": args.name("ca_cert"),
            "validation_pubkeys": args.name("jwt_validation_pubkeys"),
        }
        values = {
            "issuer": args.get("issuer"),
            "discovery_ca_cert": args.get("ca_cert"),
            "validation_pubkeys": args.get("jwt_validation_pubkeys"),
        }
        auth = _jwt_auth(names, values, path)
    audience = args.opt("audience", v.audience)
    if (
        isinstance(auth, KubernetesAuthSpec)
        and auth.reviewer is ReviewerMode.CLIENT_JWT
        and not (audience or DEFAULT_AUDIENCE).startswith("https://")
    ):
        # Vault sends the pod's token as the TokenReview's own credential: the API server authenticates it only
        # for one of its own audiences (its issuer URL, e.g. https://kubernetes.default.svc), so a token bound to
        # an audience of Vault's own is refused (401).
        raise SpecError(
            args.name("reviewer"),
            auth.reviewer.value,
            f"vault-pod-token or reviewer-service-account with audience {audience or DEFAULT_AUDIENCE!r}: with "
            f"client-jwt the API server reviews each pod's token as its credential and accepts it only for its "
            f"own audience (its issuer, e.g. {API_SERVER_AUDIENCE}), which binds nothing",
        )
    return _given(
        Cluster,
        name=name,
        api_host=args.req("api_host", v.url),
        auth=auth,
        audience=audience,
        kubeconfig_context=args.opt("kubeconfig_context", v.kubeconfig_context),
        resource_suffix=f"-{name}" if listed else None,
    )


def validate_vault(field: str, raw: object) -> VaultServer:
    args = _Fields(field, raw, VaultArgs)
    return _given(
        VaultServer,
        address=args.req("address", _url_text),
        ca_cert=args.opt("ca_cert", _pem_text),
        kind=args.opt("server", _enum(VaultServerKind)),
    )


def validate_kubernetes_auth(raw: object) -> KubernetesAuthSpec:
    args = _Fields("", raw, KubernetesAuthArgs)
    names = {k: args.name(k) for k in KubernetesAuthArgs.__annotations__}
    return _kubernetes_auth(names, args.args, args.opt("path", v.mount_path))


def validate_jwt_auth(raw: object) -> JwtAuthSpec:
    args = _Fields("", raw, JwtAuthArgs)
    names = {k: args.name(k) for k in JwtAuthArgs.__annotations__}
    return _jwt_auth(names, args.args, args.opt("path", v.mount_path))


def validate_workload_access(raw: object) -> tuple[Workload, AuthBinding]:
    args = _Fields("", raw, WorkloadAccessArgs)
    mount = args.get("auth_mount")
    binding = _given(
        AuthBinding,
        mount=v.when_known(args.name("auth_mount"), mount, v.mount_path),
        method=args.req("auth_method", _enum(AuthMethod)),
        audience=args.opt("audience", v.audience),
        grant_auth_delegator=args.opt("grant_auth_delegator", v.boolean),
    )
    return args.req("workload", validate_workload), binding


# --- secret sources ------------------------------------------------------------------------------


def validate_generated(field: str, raw: object) -> GeneratedSecret:
    args = _Fields(field, raw, GeneratedSecretArgs)
    keys = args.items("keys", v.secret_key)
    if not keys or len(set(keys)) != len(keys):
        raise SpecError(args.name("keys"), list(keys), "a non-empty list of distinct keys")
    return _given(
        GeneratedSecret,
        path=args.req("path", v.kv_key_path),
        keys=keys,
        length=args.opt("length", _integer(16, 128)),
        special=args.opt("special", v.boolean),
        rotate_every=args.opt("rotate_every", _duration(minimum=3600, maximum=366 * 86400)),
    )


def validate_kv_mount(field: str, raw: object) -> KvMount:
    args = _Fields(field, raw, KvMountArgs)
    generated = args.items("generated", validate_generated)
    _unique(generated, args.name("generated"), "path", lambda g: g.path)
    kv = _given(
        KvMount,
        mount=args.req("mount", v.mount_path),
        max_versions=args.opt("max_versions", _integer(2, 100)),
        cas_required=args.opt("cas_required", v.boolean),
        delete_version_after=args.opt("delete_version_after", _duration()),
        generated=generated,
    )
    if kv.cas_required and kv.generated:
        raise SpecError(
            args.name("cas_required"),
            True,
            "false when the stack generates secrets into the mount (each write needs cas)",
        )
    return kv


def validate_kv_store(raw: object) -> KvStoreSpec:
    args = _Fields("", raw, KvStoreArgs)
    return _given(KvStoreSpec, kv=args.req("kv", validate_kv_mount), clock=args.opt("clock", _integer(0, 2**40)))


def validate_connection_url(field: str, value: object) -> str:
    text = v.require_str(field, value, "a URL with {{username}} and {{password}} placeholders")
    if (
        "{{username}}" not in text
        or "{{password}}" not in text
        or any(c.isspace() or ord(c) < 32 for c in text)
        or len(text) > 2048
    ):
        raise SpecError(
            field,
            "<connection URL>",
            "a URL with {{username}} and {{password}} placeholders and no literal credentials or spaces",
        )
    return text


def validate_database_role(field: str, raw: object) -> DatabaseRole:
    args = _Fields(field, raw, DatabaseRoleArgs)
    lease = _duration(maximum=MAX_LEASE_SECONDS)
    role = _given(
        DatabaseRole,
        name=args.req("name", v.vault_name),
        creation_statements=args.req("creation_statements", v.statements),
        revocation_statements=args.opt("revocation_statements", v.statements),
        default_ttl=args.opt("default_ttl", lease),
        max_ttl=args.opt("max_ttl", lease),
    )
    if role.max_ttl < role.default_ttl:
        raise SpecError(
            args.name("max_ttl"),
            args.get("max_ttl") or format_duration(role.max_ttl),
            f"at least defaultTtl ({format_duration(role.default_ttl)})",
        )
    return role


def validate_static_role(field: str, raw: object) -> DatabaseStaticRole:
    args = _Fields(field, raw, DatabaseStaticRoleArgs)
    return _given(
        DatabaseStaticRole,
        name=args.req("name", v.vault_name),
        username=args.req("username", v.vault_name),
        rotation_period=args.opt("rotation_period", _duration(minimum=5)),
    )


def _password(field: str, value: object) -> pulumi.Output[str]:
    if value is None or (isinstance(value, str) and not value):
        raise SpecError(field, None, "the admin password, as a secret config value")
    return pulumi.Output.secret(value)  # type: ignore[arg-type]


def validate_database(field: str, raw: object) -> Database:
    args = _Fields(field, raw, DatabaseArgs)
    roles = args.items("roles", validate_database_role)
    static_roles = args.items("static_roles", validate_static_role)
    _unique(roles + static_roles, args.name("roles"), "name", lambda r: r.name)  # type: ignore[operator]
    return _given(
        Database,
        name=args.req("name", v.dns_label),
        plugin=args.req("plugin", _enum(DatabasePlugin)),
        connection_url=args.req("connection_url", validate_connection_url),
        username=args.req("username", v.vault_name),
        password=args.req("password", _password),
        mount=args.opt("mount", v.mount_path),
        verify_connection=args.opt("verify_connection", v.boolean),
        rotate_root=args.opt("rotate_root", v.boolean),
        roles=roles,
        static_roles=static_roles,
    )


def validate_database_secrets(raw: object) -> Database:
    return _Fields("", raw, DatabaseSecretsArgs).req("database", validate_database)


# --- delivery ------------------------------------------------------------------------------------


def _external_secrets(args: _Fields) -> ExternalSecretsSettings:
    return _given(
        ExternalSecretsSettings,
        namespace=args.opt("namespace", v.dns_label),
        cluster_wide=args.opt("cluster_wide", v.boolean),
        install_method=args.opt("install_method", _enum(InstallMethod)),
        install=args.opt("install", v.boolean),
        legacy=args.opt("legacy", _enum(LegacyOperator)),
    )


def _csi(args: _Fields) -> CsiSettings:
    return _given(
        CsiSettings,
        namespace=args.opt("namespace", v.dns_label),
        rotation_poll_interval=args.opt(
            "rotation_poll_interval", _duration(minimum=MIN_REFRESH_SECONDS, maximum=86400)
        ),
        sync_secret=args.opt("sync_secret", v.boolean),
        install_method=args.opt("install_method", _enum(InstallMethod)),
        install=args.opt("install", v.boolean),
    )


def _agent_injector(args: _Fields) -> AgentInjectorSettings:
    return _given(
        AgentInjectorSettings,
        namespace=args.opt("namespace", v.dns_label),
        pre_populate_only=args.opt("pre_populate_only", v.boolean),
        install_method=args.opt("install_method", _enum(InstallMethod)),
        install=args.opt("install", v.boolean),
    )


def _vault_secrets_operator(args: _Fields) -> VaultSecretsOperatorSettings:
    return _given(
        VaultSecretsOperatorSettings,
        namespace=args.opt("namespace", v.dns_label),
        renewal_percent=args.opt("renewal_percent", _integer(1, 90)),
        install_method=args.opt("install_method", _enum(InstallMethod)),
        install=args.opt("install", v.boolean),
    )


def validate_delivery(field: str, raw: object) -> DeliverySettings:
    args = _Fields(field, raw, DeliveryArgs)
    return _given(
        DeliverySettings,
        external_secrets=args.opt(
            "external_secrets", lambda f, x: _external_secrets(_Fields(f, x, ExternalSecretsArgs))
        ),
        csi=args.opt("csi", lambda f, x: _csi(_Fields(f, x, CsiArgs))),
        agent_injector=args.opt("agent_injector", lambda f, x: _agent_injector(_Fields(f, x, AgentInjectorArgs))),
        vault_secrets_operator=args.opt(
            "vault_secrets_operator",
            lambda f, x: _vault_secrets_operator(_Fields(f, x, VaultSecretsOperatorArgs)),
        ),
    )


def validate_external_secrets_operator(raw: object) -> ExternalSecretsSettings:
    return _external_secrets(_Fields("", raw, ExternalSecretsOperatorArgs))


def validate_vault_secrets_operator(raw: object) -> VaultSecretsOperatorSettings:
    return _vault_secrets_operator(_Fields("", raw, VaultSecretsOperatorArgs))


def validate_secrets_store_csi(raw: object) -> CsiInstall:
    args = _Fields("", raw, SecretsStoreCsiArgs)
    return CsiInstall(vault_address=args.req("vault_address", _url_text), settings=_csi(args))


def validate_vault_agent_injector(raw: object) -> AgentInjectorInstall:
    args = _Fields("", raw, VaultAgentInjectorArgs)
    return AgentInjectorInstall(
        vault_address=args.req("vault_address", _url_text),
        auth_path=args.req("auth_path", v.mount_path),
        settings=_agent_injector(args),
    )


def validate_audit_device(field: str, raw: object) -> AuditDevice:
    args = _Fields(field, raw, AuditDeviceArgs)
    kind = args.req("type", lambda f, x: v.choice(f, x, ("file", "socket", "syslog")))
    target = args.req("target", lambda f, x: v.require_str(f, x, "a file path, host:port or tag"))
    if not target or any(c.isspace() or ord(c) < 32 for c in target) or len(target) > 512:
        raise SpecError(args.name("target"), target, "a file path, host:port or tag without spaces")
    if kind == "file" and not (target.startswith("/") or target == "stdout"):
        raise SpecError(args.name("target"), target, "an absolute file path, or stdout")
    return _given(AuditDevice, type=kind, target=target, path=args.opt("path", v.mount_path))


# --- the platform --------------------------------------------------------------------------------


def _check_size(args: _Fields) -> None:
    """Refuse a stack beyond the size limits before validating any entry (counting is cheap, planning is not)."""

    def entries(value: Any, key: str) -> list[Any]:
        found = value.get(key) if isinstance(value, Mapping) else None
        return list(found) if isinstance(found, list | tuple) else []

    workloads = entries(args.args, "workloads")
    total = len(workloads) + sum(
        len(entries(w, "secrets")) + len(entries(w, "database_credentials")) for w in workloads
    )
    for kv in entries(args.args, "kv"):
        total += 1 + sum(len(entries(g, "keys")) for g in entries(kv, "generated"))
    total += sum(len(entries(d, "roles")) + len(entries(d, "static_roles")) for d in entries(args.args, "databases"))
    if total > MAX_ENTRIES:
        raise SpecError("workloads", f"{total:,} entries", SIZE_LIMITS)


REQUIRED = {
    "vault": "the Vault server pods reach (address, caCert)",
    "workloads": "the list of workloads and the secrets each reads",
}
CLUSTER_REQUIRED = "the cluster and how its workloads log in (name, apiHost, caCert, ...), or a list of clusters"


def _clusters(args: _Fields) -> tuple[Cluster, ...]:
    """``cluster`` (one cluster, the names stacks already have) or ``clusters`` (each its own mount), never both."""
    if args.given("cluster") and args.given("clusters"):
        raise SpecError("clusters", "[...]", "either cluster or clusters, not both (cluster is a list of one)")
    if args.given("cluster"):
        return (args.req("cluster", validate_cluster),)
    if not args.given("clusters"):
        raise SpecError("cluster", None, CLUSTER_REQUIRED)
    clusters = args.items("clusters", lambda f, x: validate_cluster(f, x, listed=True), most=MAX_CLUSTERS)
    if not clusters:
        raise SpecError("clusters", [], "at least one cluster")
    _unique(clusters, "clusters", "name", lambda c: c.name)
    _unique(clusters, "clusters", "authMount", lambda c: c.auth_mount)
    return clusters


def _place_workloads(workloads: tuple[Workload, ...], clusters: tuple[Cluster, ...]) -> tuple[Workload, ...]:
    """Each workload with its cluster: the one it names, or the only one."""
    names = [c.name for c in clusters]
    placed = []
    for i, w in enumerate(workloads):
        if not w.cluster and len(clusters) > 1:
            raise SpecError(f"workloads[{i}].cluster", None, f"one of {', '.join(names)} (there are several clusters)")
        if w.cluster and w.cluster not in names:
            raise SpecError(f"workloads[{i}].cluster", w.cluster, f"one of {', '.join(names)}")
        placed.append(w if w.cluster else dataclasses.replace(w, cluster=names[0]))
    return tuple(placed)


def validate_platform(raw: object) -> PlatformSpec:
    """The validated model of a whole platform; raises ``SpecError`` on the first bad field."""
    args = _Fields("", raw, SecretsPlatformArgs)
    for required, what in REQUIRED.items():
        if not args.given(required):
            raise SpecError(required, None, what)
    _check_size(args)
    clusters = _clusters(args)
    workloads = _place_workloads(args.items("workloads", validate_workload, most=MAX_WORKLOADS), clusters)
    _unique(workloads, "workloads", "name", lambda w: w.name)
    # Roles and identities are per auth mount: the same service account in two clusters is two identities.
    in_cluster = (lambda w: w.cluster) if len(clusters) > 1 else None
    _unique(workloads, "workloads", "role", lambda w: w.role, in_cluster)
    _unique(workloads, "workloads", "serviceAccount", lambda w: (w.namespace, w.service_account), in_cluster)
    kv = args.items("kv", validate_kv_mount, most=MAX_KV_MOUNTS)
    _unique(kv, "kv", "mount", lambda m: m.mount)
    databases = args.items("databases", validate_database)
    _unique(databases, "databases", "mount", lambda d: d.mount)
    audit_devices = args.items("audit_devices", validate_audit_device)
    _unique(audit_devices, "auditDevices", "path", lambda d: d.path)
    delivery = args.opt("delivery", validate_delivery) or DeliverySettings()
    spec = PlatformSpec(
        vault=args.req("vault", validate_vault),
        clusters=clusters,
        workloads=workloads,
        kv=kv,
        databases=databases,
        delivery=delivery,
        audit_devices=audit_devices,
    )
    _check_references(spec)
    _check_agent_reads(spec)
    return spec


def _check_agent_reads(spec: PlatformSpec) -> None:
    """OpenBao Agent (through 2.7) takes a KV v2 version with a `deletion_time` for a deleted one, and a mount's
    `delete_version_after` sets one, future or not, on every version: its templates then never render
    (consul-template before 0.37; shown by the cluster tier). Vault Agent from 1.15.6 reads them."""
    if spec.vault.kind is not VaultServerKind.OPENBAO:
        return
    injected = {s.mount for w in spec.workloads for s in w.secrets_for(Delivery.AGENT_INJECTOR)}
    for i, kv in enumerate(spec.kv):
        if kv.delete_version_after and kv.mount in injected:
            raise SpecError(
                f"kv[{i}].deleteVersionAfter",
                format_duration(kv.delete_version_after),
                f"0 on a mount agent-injector deliveries read with vault.server openbao (OpenBao Agent treats "
                f"every version of {kv.mount!r} as deleted when the mount sets a deletion time)",
            )


def _check_references(spec: PlatformSpec) -> None:
    """What a workload asks of the rest of the platform: declared database roles, cluster-wide stores."""
    roles = spec.roles_by_path
    for i, workload in enumerate(spec.workloads):
        for j, credential in enumerate(workload.database_credentials):
            field = f"workloads[{i}].databaseCredentials[{j}]"
            role = roles.get(credential.api_path)
            if role is None:
                raise SpecError(
                    field,
                    credential.api_path,
                    "a role declared under databases[] (roles for creds/, staticRoles for static-creds/)",
                )
            lifetime = role.rotation_period if isinstance(role, DatabaseStaticRole) else role.default_ttl
            if credential.delivery is Delivery.EXTERNAL_SECRETS and lifetime < MIN_ESO_CREDENTIAL_LIFETIME:
                raise SpecError(
                    f"{field}.delivery",
                    credential.delivery.value,
                    f"a role whose lease or rotation is at least {MIN_ESO_CREDENTIAL_LIFETIME}s (External Secrets "
                    f"refreshes at two thirds of it, never under {MIN_REFRESH_SECONDS}s)",
                )
        if workload.cluster_store_namespaces and not spec.delivery.external_secrets.cluster_wide:
            raise SpecError(
                f"workloads[{i}].clusterStoreNamespaces",
                list(workload.cluster_store_namespaces),
                "only with delivery.externalSecrets.clusterWide: true (ClusterSecretStores are off otherwise)",
            )


# --- stack config --------------------------------------------------------------------------------

CONFIG_KEYS = tuple(camel(k) for k in SecretsPlatformArgs.__annotations__)
STACK_OPTIONS = ("renderYamlToDirectory",)
"""Keys of the stack itself, not of the platform: write Kubernetes manifests to this directory instead."""


def check_config_keys(keys: Iterable[str], project: str) -> None:
    """Refuse unknown keys in the project's namespace, and namespaces one typo away from it (never ignored)."""
    known = (*CONFIG_KEYS, *STACK_OPTIONS)
    for key in keys:
        namespace, sep, name = key.partition(":")
        if not sep:
            continue
        if namespace == project and name not in known:
            raise SpecError(key, name, _known_keys(name, known))
        if namespace != project and difflib.SequenceMatcher(None, namespace, project).ratio() >= 0.8:
            raise SpecError(
                key, namespace, f"the project's namespace {project}: (did you mean {project}:{name}?); it is not read"
            )


def from_config(config: Mapping[str, Any], secret_keys: Collection[str] = ()) -> dict[str, Any]:
    """SecretsPlatform args from the project's stack config: camelCase keys to snake_case, recursively.

    ``secret_keys`` are the config keys Pulumi holds as secrets (``pulumi config set --secret``, a
    ``secure:`` value anywhere inside). A field the schema marks secret must be in one of them (a
    plain-text password in the stack file is refused, without showing it) and becomes a Pulumi secret.
    """
    for key in config:
        if key not in CONFIG_KEYS:
            raise SpecError(str(key), key, _known_keys(str(key), CONFIG_KEYS))
    args = {snake(k): snake_keys(x) for k, x in config.items()}
    for key, value in args.items():
        for field, container, name in secret_fields(SecretsPlatformArgs.__annotations__[key], value, camel(key)):
            if camel(key) not in secret_keys:
                raise SpecError(
                    field,
                    "<plain text>",
                    f"a secret, set with pulumi config set --secret --path '{field}' (a secure: value in the file)",
                )
            container[name] = pulumi.Output.secret(container[name])
    return args


def _holds_secret_fields(typ: Any) -> bool:
    """Whether a value of this args type can hold a field ``SECRET_FIELDS`` marks (the walk skips the rest)."""
    found = _SECRET_REACH.get(typ)
    if found is None:
        _SECRET_REACH[typ] = False  # a recursive type: not through itself
        args = typing.get_args(typ)
        if typing.is_typeddict(typ):
            found = typ in SECRET_FIELDS or any(_holds_secret_fields(t) for t in typ.__annotations__.values())
        else:
            found = any(_holds_secret_fields(t) for t in args)
        _SECRET_REACH[typ] = found
    return found


_SECRET_REACH: dict[Any, bool] = {}


def secret_fields(typ: Any, value: Any, field: str) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(field, the mapping holding it, its key) of every given field that ``SECRET_FIELDS`` marks secret."""
    if not _holds_secret_fields(typ):
        return
    origin = typing.get_origin(typ)
    if origin in (typing.NotRequired, typing.Required):
        yield from secret_fields(typing.get_args(typ)[0], value, field)
    elif origin is list and isinstance(value, list):
        for i, item in enumerate(value):
            yield from secret_fields(typing.get_args(typ)[0], item, f"{field}[{i}]")
    elif typing.is_typeddict(typ) and isinstance(value, dict):
        secret = SECRET_FIELDS.get(typ, ())
        for key, item in value.items():
            if key in secret and item is not None:
                yield _join(field, camel(key)), value, key
            elif key in typ.__annotations__:
                yield from secret_fields(typ.__annotations__[key], item, _join(field, camel(key)))


def snake_keys(value: Any) -> Any:
    """Every mapping key from camelCase (stack config, other SDKs) to snake_case (Python args)."""
    if isinstance(value, Mapping):
        return {snake(k) if isinstance(k, str) else k: snake_keys(x) for k, x in value.items()}
    if isinstance(value, list):
        return [snake_keys(x) for x in value]
    return value
