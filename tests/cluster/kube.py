"""The running test cluster as the tests use it: the official Kubernetes Python client plus a few verbs.

``Cluster`` wraps a started ``ControlPlane`` with an admin client (``system:masters``) and the calls the
tests make again and again: ServiceAccounts, TokenRequest, TokenReview, RBAC bindings, server-side
apply with strict field validation, and waiting for a condition.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import jwt
import kubernetes
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from tests.cluster.control_plane import ControlPlane

__all__ = ["ApiException", "Cluster", "wait_until"]

T = TypeVar("T")
FIELD_MANAGER = "vaultk8s-tests"


def wait_until(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = check()
            if result:
                return result
            last = result
        except ApiException as exc:
            last = f"HTTP {exc.status}: {exc.reason}"
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


class Cluster:
    """The session's cluster: connection facts and an admin client."""

    def __init__(self, control_plane: ControlPlane) -> None:
        self.control_plane = control_plane
        self.server = control_plane.server
        self.ca_pem = control_plane.ca_pem
        self.kubeconfig: Path = control_plane.kubeconfig
        self.issuer = control_plane.issuer
        # The API server's own audience (--api-audiences): a token must carry it to authenticate to the server.
        self.api_audience = control_plane.issuer
        self.jwks_uri = control_plane.jwks_uri
        self.service_account_public_key_pem = control_plane.service_account_public_key_pem
        self.api: ApiClient = kubernetes.config.new_client_from_config(config_file=str(self.kubeconfig))
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.rbac = kubernetes.client.RbacAuthorizationV1Api(self.api)
        self.authn = kubernetes.client.AuthenticationV1Api(self.api)
        self.apiext = kubernetes.client.ApiextensionsV1Api(self.api)
        self._dynamic: DynamicClient | None = None

    @property
    def dynamic(self) -> DynamicClient:
        if self._dynamic is None:
            self._dynamic = DynamicClient(self.api)
        return self._dynamic

    # -- identities ---------------------------------------------------------------------------

    def namespace(self, name: str) -> None:
        """Create a namespace (idempotent) and wait for its ``default`` ServiceAccount (the controller-manager's)."""
        try:
            self.core.create_namespace({"metadata": {"name": name}})
        except ApiException as exc:
            if exc.status != 409:
                raise
        wait_until(
            lambda: self.core.read_namespaced_service_account("default", name),
            30,
            f"the default ServiceAccount of {name}",
        )

    def service_account(self, namespace: str, name: str) -> str:
        """Create a ServiceAccount; return its UID."""
        created = self.core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
        return str(created.metadata.uid)

    def delete_service_account(self, namespace: str, name: str) -> None:
        self.core.delete_namespaced_service_account(name, namespace)

    def token(
        self,
        namespace: str,
        service_account: str,
        audiences: Sequence[str] = ("vault",),
        seconds: int = 600,
        bound_to: Mapping[str, str] | None = None,
    ) -> str:
        """A token from the TokenRequest API (600 s is the shortest the API server issues)."""
        spec: dict[str, Any] = {"audiences": list(audiences), "expirationSeconds": seconds}
        if bound_to is not None:
            spec["boundObjectRef"] = dict(bound_to)
        answer = self.core.create_namespaced_service_account_token(
            service_account, namespace, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        )
        return str(answer.status.token)

    def client_jwt_token(self, namespace: str, service_account: str, audience: str = "vault") -> str:
        """A token for Vault's kubernetes auth in client-jwt mode: audiences ``audience`` and the API server's.

        In client-jwt mode Vault sends the TokenReview authenticated by the token under review, so the token must
        also be a credential for the API server; a token for ``vault`` alone gets 401 there.
        """
        return self.token(namespace, service_account, audiences=[audience, self.api_audience])

    def review_as(self, bearer: str, token: str, audiences: Sequence[str]) -> Any:
        """TokenReview authenticated by ``bearer`` (as Vault sends it in client-jwt mode: bearer = the token)."""
        configuration = kubernetes.client.Configuration()
        configuration.host = self.server
        configuration.ssl_ca_cert = str(self.control_plane.ca.cert)
        configuration.api_key = {"authorization": f"Bearer {bearer}"}
        with ApiClient(configuration) as client:
            spec = {"token": token, "audiences": list(audiences)}
            return kubernetes.client.AuthenticationV1Api(client).create_token_review({"spec": spec}).status

    def review(self, token: str, audiences: Sequence[str] | None = None) -> Any:
        """TokenReview as the admin; returns the review's status."""
        spec: dict[str, Any] = {"token": token}
        if audiences is not None:
            spec["audiences"] = list(audiences)
        return self.authn.create_token_review({"spec": spec}).status

    def resign(self, token: str, **claims: Any) -> str:
        """``token``'s claims with ``claims`` changed, signed with the cluster's own service-account key.

        The API server never issues an already-expired token (TokenRequest's minimum is ten minutes), so an
        expired token is this: a real token's claims moved into the past, under the real signing key. A test
        that uses it also shows the same re-signing with unchanged times is accepted.
        """
        header = jwt.get_unverified_header(token)
        payload = jwt.decode(token, options={"verify_signature": False})
        payload.update(claims)
        key = self.control_plane.service_account_key.read_bytes()
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": header["kid"]})

    def bind_cluster_role(self, name: str, cluster_role: str, subjects: Iterable[Mapping[str, str]]) -> None:
        self.rbac.create_cluster_role_binding(
            {
                "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
                "subjects": [dict(s) for s in subjects],
            }
        )

    def unbind_cluster_role(self, name: str) -> None:
        try:
            self.rbac.delete_cluster_role_binding(name)
        except ApiException as exc:
            if exc.status != 404:
                raise

    # -- objects ------------------------------------------------------------------------------

    def apply(self, obj: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """Server-side apply with ``fieldValidation=Strict``: an unknown or duplicate field is a 422."""
        resource = self.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        answer = self.dynamic.server_side_apply(
            resource,
            body=dict(obj),
            namespace=namespace if resource.namespaced else None,
            field_manager=FIELD_MANAGER,
            force_conflicts=True,
            query_params=[("fieldValidation", "Strict")],
        )
        return dict(answer.to_dict())

    def create(
        self, obj: Mapping[str, Any], namespace: str | None = None, field_validation: str = "Strict"
    ) -> dict[str, Any]:
        """POST with ``fieldValidation`` (``Strict``: an unknown field is a 400; ``Ignore``: it is pruned)."""
        resource = self.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        answer = self.dynamic.create(
            resource,
            body=dict(obj),
            namespace=namespace if resource.namespaced else None,
            query_params=[("fieldValidation", field_validation)],
        )
        return dict(answer.to_dict())

    def delete(self, obj: Mapping[str, Any]) -> None:
        resource = self.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        meta = obj["metadata"]
        self.dynamic.delete(
            resource, name=meta["name"], namespace=meta.get("namespace") if resource.namespaced else None
        )

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        resource = self.dynamic.resources.get(api_version=api_version, kind=kind)
        return dict(self.dynamic.get(resource, name=name, namespace=namespace).to_dict())

    def apply_crds(self, documents: Iterable[Mapping[str, Any]]) -> list[str]:
        """Apply CustomResourceDefinitions and wait until each is Established; return their names."""
        names = []
        for crd in documents:
            # A plain create: server-side apply of the operators' multi-megabyte CRDs costs seconds each.
            try:
                self.create(crd)
            except ApiException as exc:
                if exc.status != 409:
                    raise
            names.append(str(crd["metadata"]["name"]))
        for name in names:
            self._wait_established(name)
        self._dynamic = None  # rediscover: the new kinds are served now
        return names

    def _wait_established(self, name: str) -> None:
        wait_until(lambda: _established(self.apiext.read_custom_resource_definition(name)), 30, f"CRD {name}")

    def secret_data(self, namespace: str, name: str) -> dict[str, str]:
        secret = self.core.read_namespaced_secret(name, namespace)
        return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}


def _established(crd: Any) -> bool:
    return any(c.type == "Established" and c.status == "True" for c in (crd.status.conditions or []))


def api_error(exc: ApiException) -> dict[str, Any]:
    """The Status object of a refused request."""
    try:
        decoded = json.loads(exc.body or "{}")
    except ValueError:
        return {"message": str(exc.body)}
    return decoded if isinstance(decoded, dict) else {"message": str(decoded)}
