"""The Helm charts of the delivery plane, pinned in one place, and the one way they are installed."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from .args import InstallMethod


@dataclass(frozen=True)
class ChartRef:
    """A chart in a Helm repository at one exact version."""

    name: str
    repo_url: str
    version: str


# The versions match ../shared/reference/charts/<name>/Chart.yaml, which the schema tests validate values against.
EXTERNAL_SECRETS = ChartRef("external-secrets", "https://charts.external-secrets.io", "2.9.0")
SECRETS_STORE_CSI = ChartRef(
    "secrets-store-csi-driver", "https://kubernetes-sigs.github.io/secrets-store-csi-driver/charts", "1.6.0"
)
VAULT = ChartRef("vault", "https://helm.releases.hashicorp.com", "0.34.1")
VAULT_SECRETS_OPERATOR = ChartRef("vault-secrets-operator", "https://helm.releases.hashicorp.com", "1.4.1")

PINNED_CHARTS = (EXTERNAL_SECRETS, SECRETS_STORE_CSI, VAULT, VAULT_SECRETS_OPERATOR)

# Namespaces every cluster already has: registering a Namespace for them would fail (and deleting it would be worse).
BUILTIN_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


def ensure_namespace(name: str, namespace: str, parent: pulumi.Resource) -> k8s.core.v1.Namespace | None:
    """A Namespace for an install, or None for a namespace every cluster already has (e.g. kube-system)."""
    if namespace in BUILTIN_NAMESPACES:
        return None
    return k8s.core.v1.Namespace(name, metadata={"name": namespace}, opts=pulumi.ResourceOptions(parent=parent))


def namespace_output(created: k8s.core.v1.Namespace | None, namespace: str) -> pulumi.Output[str]:
    """The install's namespace as an output: from the Namespace resource when the stack created it."""
    if created is None:
        return pulumi.Output.from_input(namespace)
    return created.metadata.apply(lambda meta: meta["name"] if isinstance(meta, dict) else meta.name)


def install_chart(
    name: str,
    chart: ChartRef,
    namespace: str,
    values: Mapping[str, Any],
    method: InstallMethod,
    parent: pulumi.Resource,
    *,
    release_name: str | None = None,
    depends_on: Sequence[pulumi.Resource] | None = None,
) -> pulumi.Resource:
    """Register ``chart`` at its pinned version in ``namespace``; custom resources of its CRDs depend on the result.

    ``release_name`` defaults to the chart's name; two installs of one chart (the vault chart's CSI provider and
    its injector) pass distinct ones so they never collide, even in one namespace.
    """
    opts = pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on or []))
    release = release_name or chart.name
    common: dict[str, Any] = {
        "name": release,
        "chart": chart.name,
        "version": chart.version,
        "repository_opts": {"repo": chart.repo_url},
        "namespace": namespace,
        "values": values,
        "opts": opts,
    }
    if method is InstallMethod.HELM_RELEASE:
        return k8s.helm.v3.Release(name, create_namespace=True, **common)
    return k8s.helm.v4.Chart(name, **common)


@dataclass(frozen=True)
class ChartInstall:
    """One chart of an operator: its resource name's suffix, the chart, its values and (for a chart installed
    twice, the vault chart) its own release name."""

    suffix: str
    chart: ChartRef
    values: Mapping[str, Any]
    release_name: str | None = None


def install_operator(
    parent: pulumi.Resource, name: str, namespace: str, method: InstallMethod, charts: Sequence[ChartInstall]
) -> tuple[list[pulumi.Resource], pulumi.Output[str]]:
    """An operator's charts in ``namespace`` (registered first unless every cluster has it): the installs, which
    custom resources of its CRDs ``depends_on``, and the namespace as an output."""
    created = ensure_namespace(f"{name}-namespace", namespace, parent)
    installs = [
        install_chart(
            f"{name}-{c.suffix}",
            c.chart,
            namespace,
            c.values,
            method,
            parent,
            release_name=c.release_name,
            depends_on=[created] if created else None,
        )
        for c in charts
    ]
    return installs, namespace_output(created, namespace)
