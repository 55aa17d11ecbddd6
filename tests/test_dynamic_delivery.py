"""Delivering Vault database credentials (dynamic `creds/<role>`, static `static-creds/<role>`) to pods.

External Secrets (VaultDynamicSecret generator + ExternalSecret), the CSI provider's objects and the
agent injector's templates, plus the agent's login token (a projected volume with the roles' audience).
Pure builders, then the schema tier: every object against its upstream CRD or Kubernetes core schema,
strictly, with every key misspelt in turn.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml

from components import agent_injector as injector
from components import csi
from components import external_secrets as eso
from components.durations import format_duration, parse_duration
from components.model import Cluster, DatabaseCredential, Workload
from components.spec import validate_platform, validate_workload
from components.validation import SpecError
from tests.reference import require_reference, validate_core_object, validate_custom_resource
from tests.test_delivery_builders import PEM, VAULT_ADDRESS, app, jwt_cluster, kube_cluster, vault_server
from tests.test_delivery_schema import key_paths, misspell

GENERATOR = "generators.external-secrets.io/v1alpha1"


# --- samples ---------------------------------------------------------------------


def orders(delivery: str = "csi", **extra: Any) -> Workload:
    """A workload with one KV secret, a dynamic role and a static role on another mount, all delivered alike."""
    return validate_workload(
        "workload",
        {
            "name": "orders",
            "namespace": "team-c",
            "service_account": "orders-sa",
            "role": "orders-role",
            "secrets": [{"path": "secret/data/orders", "key": "apikey", "delivery": delivery}],
            "database_credentials": [
                {"mount": "database", "role": "orders-rw", "delivery": delivery},
                {"mount": "pg/main", "role": "orders-owner", "static": True, "name": "owner", "delivery": delivery},
            ],
            **extra,
        },
    )


def creds_only(delivery: str = "csi", **extra: Any) -> Workload:
    """Database credentials and no KV secret: no KV mount a SecretStore could read."""
    return validate_workload(
        "workload",
        {
            "name": "reports",
            "namespace": "team-d",
            "service_account": "reports",
            "database_credentials": [{"mount": "database", "role": "reports-ro", "delivery": delivery}],
            **extra,
        },
    )


def dynamic(w: Workload) -> DatabaseCredential:
    return next(c for c in w.database_credentials if not c.static)


def static(w: Workload) -> DatabaseCredential:
    return next(c for c in w.database_credentials if c.static)


# --- External Secrets: the generator ---------------------------------------------------


def test_generator_gets_the_dynamic_path_as_the_workload() -> None:
    w = orders()
    assert eso.vault_dynamic_secret(w, dynamic(w), vault_server(ca=False), kube_cluster()) == {
        "apiVersion": GENERATOR,
        "kind": "VaultDynamicSecret",
        "metadata": {"name": "orders-orders-rw", "namespace": "team-c"},
        "spec": {
            # The full logical path with its mount, no "/v1/" (Logical().Read adds it) and no leading "/".
            "path": "database/creds/orders-rw",
            "method": "GET",
            "provider": {
                "server": VAULT_ADDRESS,
                "auth": {
                    "kubernetes": {
                        "mountPath": "clusters/dev",
                        "role": "orders-role",
                        "serviceAccountRef": {"name": "orders-sa", "audiences": ["vault"]},
                    }
                },
            },
        },
    }


def test_generator_reads_a_static_role_the_same_way() -> None:
    w = orders()
    generator = eso.vault_dynamic_secret(w, static(w), vault_server(), jwt_cluster())
    assert generator["metadata"]["name"] == "orders-owner"
    assert generator["spec"]["path"] == "pg/main/static-creds/orders-owner"
    assert generator["spec"]["method"] == "GET"
    assert generator["spec"]["provider"]["auth"] == {
        "jwt": {
            "path": "jwt",
            "role": "orders-role",
            "kubernetesServiceAccountToken": {
                "serviceAccountRef": {"name": "orders-sa", "audiences": ["vault.example.com"]}
            },
        }
    }


@pytest.mark.parametrize("cluster", [kube_cluster(), jwt_cluster()], ids=["kubernetes", "jwt"])
def test_generator_provider_is_the_secret_store_provider_without_the_kv_mount(cluster: Cluster) -> None:
    w = orders()
    store = eso.secret_store(w, vault_server(), cluster, "secret")["spec"]["provider"]["vault"]
    generator = eso.vault_dynamic_secret(w, dynamic(w), vault_server(), cluster)["spec"]["provider"]
    assert (store.pop("path"), store.pop("version")) == ("secret", "v2")
    assert generator == store


def test_generator_needs_no_kv_mount() -> None:
    w = creds_only()
    generator = eso.vault_dynamic_secret(w, dynamic(w), vault_server(), kube_cluster())
    assert generator["spec"]["path"] == "database/creds/reports-ro"
    assert "path" not in generator["spec"]["provider"] and "version" not in generator["spec"]["provider"]


def test_an_external_secrets_credential_name_must_name_kubernetes_objects_at_the_edge() -> None:
    """The credential names the ExternalSecret and, after the workload, its generator: DNS names."""
    with pytest.raises(SpecError, match=r"^workload\.databaseCredentials\[0\]\.name: 'Orders_RW' is not allowed"):
        creds_only(
            "external-secrets",
            database_credentials=[
                {"mount": "database", "role": "r", "name": "Orders_RW", "delivery": "external-secrets"}
            ],
        )
    assert creds_only("csi", database_credentials=[{"mount": "database", "role": "r", "name": "Orders_RW"}])


# --- External Secrets: the ExternalSecret and its refresh ------------------------------


def test_dynamic_external_secret_takes_username_and_password_from_the_generator() -> None:
    w = orders(
        "external-secrets",
        database_credentials=[
            {"mount": "database", "role": "orders-rw", "name": "orders-db", "delivery": "external-secrets"}
        ],
    )
    assert eso.dynamic_external_secret(w, dynamic(w), 3600) == {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "orders-db", "namespace": "team-c"},
        "spec": {
            "refreshInterval": "40m",
            "refreshPolicy": "Periodic",
            "target": {"name": "orders-db", "creationPolicy": "Owner"},
            "dataFrom": [
                {
                    "sourceRef": {
                        "generatorRef": {
                            "apiVersion": GENERATOR,
                            "kind": "VaultDynamicSecret",
                            "name": "orders-orders-db",
                        }
                    }
                }
            ],
        },
    }


@pytest.mark.parametrize(
    ("ttl", "interval"),
    [(15, "10s"), (16, "10s"), (100, "1m6s"), (90, "1m"), (3600, "40m"), (7201, "1h20m"), (86400, "16h")],
)
def test_refresh_before_expiry_is_two_thirds_of_the_ttl_rounded_down(ttl: int, interval: str) -> None:
    assert format_duration(eso.refresh_before_expiry(ttl)) == interval


def test_refresh_before_expiry_always_lands_before_the_lease_ends() -> None:
    for ttl in [*range(15, 3000), 3600, 86400, 32 * 86400]:
        seconds = eso.refresh_before_expiry(ttl)
        assert parse_duration(format_duration(seconds)) == seconds  # the operator's format reads back
        assert 10 <= seconds < ttl
        assert seconds == ttl * 2 // 3
        assert ttl - seconds >= ttl / 3  # the margin left for the kubelet and the application


@pytest.mark.parametrize(("default_ttl", "ok"), [("14s", False), ("15s", True), ("1h", True)])
def test_a_lease_external_secrets_cannot_refresh_in_time_is_refused_at_the_edge(default_ttl: str, ok: bool) -> None:
    args = {
        "vault": {"address": VAULT_ADDRESS},
        "cluster": {"name": "c", "api_host": "https://k.example.com", "ca_cert": PEM},
        "workloads": [
            {
                "name": "w",
                "namespace": "w",
                "service_account": "w",
                "database_credentials": [{"mount": "database", "role": "r", "delivery": "external-secrets"}],
            }
        ],
        "databases": [
            {
                "name": "db",
                "plugin": "postgresql",
                "connection_url": "postgresql://{{username}}:{{password}}@db:5432/x",
                "username": "admin",
                "password": "[secret]",
                "roles": [{"name": "r", "creation_statements": ["CREATE ROLE x"], "default_ttl": default_ttl}],
            }
        ],
    }
    if ok:
        assert validate_platform(args).workloads[0].database_credentials
        return
    with pytest.raises(SpecError, match=r"^workloads\[0\]\.databaseCredentials\[0\]\.delivery: .*at least 15s"):
        validate_platform(args)


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (59, "59s"), (60, "1m"), (3600, "1h"), (4806, "1h20m6s")])
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


# --- CSI ---------------------------------------------------------------------------------


def spc_objects(spc: Mapping[str, Any]) -> list[dict[str, str]]:
    objects: list[dict[str, str]] = yaml.safe_load(spc["spec"]["parameters"]["objects"])
    return objects


def test_secret_provider_class_mounts_username_and_password_per_credential() -> None:
    spc = csi.secret_provider_class(orders(), vault_server(), kube_cluster(), sync_secret=False)
    assert spc_objects(spc) == [
        {"objectName": "apikey", "secretPath": "secret/data/orders", "secretKey": "apikey"},
        {"objectName": "orders-rw-username", "secretPath": "database/creds/orders-rw", "secretKey": "username"},
        {"objectName": "orders-rw-password", "secretPath": "database/creds/orders-rw", "secretKey": "password"},
        {"objectName": "owner-username", "secretPath": "pg/main/static-creds/orders-owner", "secretKey": "username"},
        {"objectName": "owner-password", "secretPath": "pg/main/static-creds/orders-owner", "secretKey": "password"},
    ]
    assert spc["spec"]["parameters"]["roleName"] == "orders-role"


def test_secret_provider_class_syncs_credential_files_too() -> None:
    w = creds_only(secret_provider_class="reports-env")
    spc = csi.secret_provider_class(w, vault_server(), kube_cluster(), sync_secret=True)
    assert spc["spec"]["secretObjects"] == [
        {
            "secretName": "reports-env",
            "type": "Opaque",
            "data": [
                {"objectName": "reports-ro-username", "key": "reports-ro-username"},
                {"objectName": "reports-ro-password", "key": "reports-ro-password"},
            ],
        }
    ]


def test_secret_provider_class_takes_only_csi_deliveries() -> None:
    w = validate_workload(
        "workload",
        {
            "name": "orders",
            "namespace": "team-c",
            "service_account": "orders-sa",
            "secrets": [{"path": "secret/data/orders", "key": "apikey", "delivery": "csi"}],
            "database_credentials": [{"mount": "database", "role": "orders-rw", "delivery": "external-secrets"}],
        },
    )
    spc = csi.secret_provider_class(w, vault_server(), kube_cluster(), sync_secret=False)
    assert spc_objects(spc) == [{"objectName": "apikey", "secretPath": "secret/data/orders", "secretKey": "apikey"}]


def test_clashing_csi_file_names_are_refused_at_the_edge() -> None:
    clash = {
        "name": "clash",
        "namespace": "team-c",
        "service_account": "clash",
        "secrets": [{"path": "secret/data/x", "key": "k", "name": "db-username", "delivery": "csi"}],
        "database_credentials": [{"mount": "database", "role": "r", "name": "db", "delivery": "csi"}],
    }
    with pytest.raises(SpecError, match="db-username") as error:
        validate_workload("workload", clash)
    assert error.value.field == "workload.databaseCredentials[0].name"
    clash["database_credentials"] = [{"mount": "database", "role": "r", "name": "db", "delivery": "agent-injector"}]
    assert validate_workload("workload", clash)  # in different deliveries they are different files


# --- agent injector: templates ---------------------------------------------------------

_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


def render(template: str, responses: Mapping[str, Mapping[str, Any]]) -> str:
    """Render the Consul-template subset the builders emit, as the agent would.

    Supports ``with secret "<path>"`` / ``end``, ``.Data.<a>.<b>``, ``index .Data.<a> "<key>"`` and the
    ``{{-``/``-}}`` whitespace trims. ``responses`` maps a Vault path to its response's ``data``; a path
    missing from it fails, as a read the policy does not grant would.
    """
    out: list[str] = []
    context: Mapping[str, Any] | None = None
    position, trim_next = 0, False
    for match in _ACTION.finditer(template):
        text = template[position : match.start()]
        if trim_next:
            text = text.lstrip()
        if match.group(1):
            text = text.rstrip()
        out.append(text)
        position, trim_next = match.end(), bool(match.group(3))
        action = match.group(2)
        if with_secret := re.fullmatch(r'with secret "([^"]+)"', action):
            context = {"Data": responses[with_secret.group(1)]}
        elif action == "end":
            context = None
        elif index := re.fullmatch(r'index \.(\S+) "([^"]+)"', action):
            assert context is not None, action
            out.append(str(_lookup(context, index.group(1))[index.group(2)]))
        elif action.startswith("."):
            assert context is not None, action
            out.append(str(_lookup(context, action[1:])))
        else:
            raise AssertionError(f"unsupported template action {action!r}")
    tail = template[position:]
    out.append(tail.lstrip() if trim_next else tail)
    return "".join(out)


def _lookup(context: Mapping[str, Any], dotted: str) -> Any:
    value: Any = context
    for part in dotted.split("."):
        value = value[part]
    return value


def dotenv(text: str) -> dict[str, str]:
    assert text.endswith("\n")
    return dict(line.split("=", 1) for line in text.splitlines())


CREDS = {"username": "v-kubernetes-orders-rw-Xy12", "password": "A1a-Bb2cC3dD4eE5fF6gG"}


def test_the_renderer_reproduces_the_kv_templates() -> None:
    w = app()
    responses: dict[str, dict[str, Any]] = {
        "secret/data/app/config": {"data": {"api_key": "k-123"}, "metadata": {"version": 3}},
        "secret/data/app/db": {"data": {"pass-word": "p w"}},
    }
    assert [render(injector.secret_template(s), responses) for s in w.secrets] == ["k-123", "p w"]


@pytest.mark.parametrize("which", [dynamic, static], ids=["dynamic", "static"])
def test_credential_template_renders_username_and_password(which: Any) -> None:
    credential = which(orders("agent-injector"))
    annotations = injector.pod_annotations(orders("agent-injector"), kube_cluster())
    path = annotations[f"vault.hashicorp.com/agent-inject-secret-{credential.name}"]
    assert path == credential.api_path
    template = annotations[f"vault.hashicorp.com/agent-inject-template-{credential.name}"]
    # One read (one lease) for both values, and only of the path the annotation declares.
    assert re.findall(r'with secret "([^"]+)"', template) == [credential.api_path]
    rendered = render(template, {credential.api_path: {**CREDS, "ttl": 3600}})
    assert rendered == f"username={CREDS['username']}\npassword={CREDS['password']}\n"
    assert dotenv(rendered) == CREDS


def test_pod_annotations_with_secrets_and_credentials() -> None:
    annotations = injector.pod_annotations(orders("agent-injector"), jwt_cluster())
    files = {
        k.removeprefix("vault.hashicorp.com/agent-inject-secret-"): x for k, x in annotations.items() if "-secret-" in k
    }
    assert files == {
        "apikey": "secret/data/orders",
        "orders-rw": "database/creds/orders-rw",
        "owner": "pg/main/static-creds/orders-owner",
    }
    assert annotations["vault.hashicorp.com/auth-type"] == "jwt"
    assert annotations["vault.hashicorp.com/auth-config-role"] == "orders-role"


def test_long_and_clashing_agent_credential_names_are_refused_at_the_edge() -> None:
    with pytest.raises(SpecError, match=r"^workload\.databaseCredentials\[0\]\.name: .*at most 41"):
        creds_only(
            "agent-injector",
            database_credentials=[{"mount": "database", "role": "r", "name": "n" * 42, "delivery": "agent-injector"}],
        )
    # The injector lowercases file names: "DB" and "db" would be the same file.
    with pytest.raises(SpecError, match=r"^workload\.databaseCredentials\[0\]\.name: 'db'"):
        validate_workload(
            "workload",
            {
                "name": "a",
                "namespace": "a",
                "service_account": "a",
                "secrets": [{"path": "s/data/x", "key": "k", "name": "DB", "delivery": "agent-injector"}],
                "database_credentials": [
                    {"mount": "database", "role": "r", "name": "db", "delivery": "agent-injector"}
                ],
            },
        )


# --- agent injector: the login token -------------------------------------------------------


def test_vault_token_volume() -> None:
    assert injector.vault_token_volume("vault") == {
        "name": "vault-token",
        "projected": {
            "sources": [{"serviceAccountToken": {"audience": "vault", "expirationSeconds": 3600, "path": "token"}}]
        },
    }


@pytest.mark.parametrize("cluster", [kube_cluster(), jwt_cluster()], ids=["kubernetes", "jwt"])
def test_annotations_name_the_volume_and_its_token_file(cluster: Cluster) -> None:
    """The injector refuses a pod whose named token volume is missing; jwt reads the file by path."""
    annotations = injector.pod_annotations(orders("agent-injector"), cluster)
    volume = injector.vault_token_volume(cluster.audience)
    assert annotations["vault.hashicorp.com/agent-service-account-token-volume-name"] == volume["name"]
    assert annotations["vault.hashicorp.com/auth-path"] == f"auth/{cluster.auth_mount}"
    token = volume["projected"]["sources"][0]["serviceAccountToken"]
    assert token["audience"] == cluster.audience
    if "vault.hashicorp.com/auth-config-path" in annotations:
        assert annotations["vault.hashicorp.com/auth-config-path"] == f"{injector.TOKEN_MOUNT_PATH}/{token['path']}"


def pod(cluster: Cluster, volume: dict[str, Any]) -> dict[str, Any]:
    w = orders()
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "orders",
            "namespace": w.namespace,
            "annotations": injector.pod_annotations(orders("agent-injector"), cluster),
        },
        "spec": {
            "serviceAccountName": w.service_account,
            "containers": [{"name": "app", "image": "orders:1"}],
            "volumes": [volume],
        },
    }


@pytest.mark.parametrize("cluster", [kube_cluster(), jwt_cluster()], ids=["kubernetes", "jwt"])
def test_pod_with_the_token_volume_is_a_valid_core_object(cluster: Cluster) -> None:
    require_reference()
    validate_core_object(pod(cluster, injector.vault_token_volume(cluster.audience)))


def volume_mutations() -> Iterator[Any]:
    volume = injector.vault_token_volume("vault")
    for path in key_paths(volume):
        yield pytest.param(path, id=".".join(map(str, path)))


@pytest.mark.parametrize("path", list(volume_mutations()))
def test_a_misspelt_token_volume_field_fails_the_pod_schema(path: tuple[Any, ...]) -> None:
    require_reference()
    volume = misspell(injector.vault_token_volume("vault"), path)
    with pytest.raises(AssertionError, match="does not match its schema"):
        validate_core_object(pod(kube_cluster(), volume))


# --- schema tier: every new custom resource against its CRD -------------------------------------


def dynamic_objects() -> dict[str, dict[str, Any]]:
    objects: dict[str, dict[str, Any]] = {}
    w = orders()
    for cluster_id, cluster in (("kubernetes", kube_cluster()), ("jwt", jwt_cluster())):
        for ca in (True, False):
            tag = f"{cluster_id}{'-ca' if ca else ''}"
            for credential in w.database_credentials:
                kind = "static" if credential.static else "dynamic"
                objects[f"VaultDynamicSecret-{kind}-{tag}"] = eso.vault_dynamic_secret(
                    w, credential, vault_server(ca), cluster
                )
            objects[f"SecretProviderClass-creds-{tag}"] = csi.secret_provider_class(
                w, vault_server(ca), cluster, sync_secret=ca
            )
    for credential in w.database_credentials:
        objects[f"ExternalSecret-generator-{credential.name}"] = eso.dynamic_external_secret(w, credential, 3600)
    r = creds_only()
    objects["VaultDynamicSecret-creds-only"] = eso.vault_dynamic_secret(r, dynamic(r), vault_server(), kube_cluster())
    objects["SecretProviderClass-creds-only"] = csi.secret_provider_class(r, vault_server(), kube_cluster(), True)
    return objects


OBJECTS = dynamic_objects()


@pytest.mark.parametrize("key", sorted(OBJECTS))
def test_dynamic_delivery_object_matches_its_crd(key: str) -> None:
    require_reference()
    validate_custom_resource(OBJECTS[key])


def test_the_new_kinds_are_covered() -> None:
    assert {(o["apiVersion"], o["kind"]) for o in OBJECTS.values()} == {
        (GENERATOR, "VaultDynamicSecret"),
        ("external-secrets.io/v1", "ExternalSecret"),
        ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"),
    }


def object_mutations() -> Iterator[Any]:
    for key, obj in sorted(OBJECTS.items()):
        for path in key_paths(obj):
            if path[0] in ("metadata", "apiVersion", "kind") or (path[:2] == ("spec", "parameters") and len(path) > 2):
                continue
            yield pytest.param(key, path, id=f"{key}:{'.'.join(map(str, path))}")


@pytest.mark.parametrize(("key", "path"), list(object_mutations()))
def test_a_misspelt_field_fails_its_crd(key: str, path: tuple[Any, ...]) -> None:
    require_reference()
    with pytest.raises(AssertionError, match="does not match its schema"):
        validate_custom_resource(misspell(OBJECTS[key], path))


def test_wrong_values_and_versions_fail() -> None:
    require_reference()
    external_secret = copy.deepcopy(OBJECTS["ExternalSecret-generator-orders-rw"])
    external_secret["spec"]["dataFrom"][0]["sourceRef"]["generatorRef"]["kind"] = "VaultDynamicSecrets"
    with pytest.raises(AssertionError, match=r"generatorRef\.kind: 'VaultDynamicSecrets' is not one of"):
        validate_custom_resource(external_secret)
    external_secret = copy.deepcopy(OBJECTS["ExternalSecret-generator-orders-rw"])
    external_secret["spec"]["dataFrom"][0]["sourceRef"]["storeRef"] = {"name": "orders"}
    with pytest.raises(AssertionError, match=r"sourceRef: .* has too many properties"):
        validate_custom_resource(external_secret)
    generator = copy.deepcopy(OBJECTS["VaultDynamicSecret-dynamic-kubernetes-ca"])
    generator["spec"]["provider"]["caBundle"] = PEM
    with pytest.raises(AssertionError, match=r"caBundle: .* is not a 'byte'"):
        validate_custom_resource(generator)
    with pytest.raises(AssertionError, match="has no version 'v1'"):
        validate_custom_resource(
            {**OBJECTS["VaultDynamicSecret-creds-only"], "apiVersion": "generators.external-secrets.io/v1"}
        )
    missing = copy.deepcopy(OBJECTS["VaultDynamicSecret-creds-only"])
    del missing["spec"]["provider"]["server"]
    with pytest.raises(AssertionError, match="'server' is a required property"):
        validate_custom_resource(missing)
