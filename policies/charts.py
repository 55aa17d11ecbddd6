"""Helm installs as the chart sees them: which chart, and the values it renders with.

A chart is named by what Helm installs, not by how it is written: ``external-secrets``,
``external-secrets/external-secrets``, ``oci://ghcr.io/external-secrets/charts/external-secrets`` and a
local ``./charts/external-secrets-2.9.0.tgz`` are the same chart. Its values are the chart's defaults,
then each ``valueYamlFiles`` file in order, then inline ``values`` on top (for ``helm.v4.Chart`` and
``helm.v3.Release`` alike); maps merge, anything else replaces, and a ``null`` deletes the key (Helm's
coalescing), so the template sees nothing there. ``setting`` reads one value through those layers
and says whether it is set, left at the chart's default, or not knowable (an unknown value, or a
values file the pack cannot read).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from .core import Level, Problem, Resource, Severity, cannot_check, resource_rule
from .values import (
    Asset,
    go_bool,
    helm_enabled,
    helm_truthy,
    insecure_url,
    is_unknown,
    items,
    load_yaml,
    mapping,
    strings,
)

HELM_CHART = "kubernetes:helm.sh/v4:Chart"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
CHART_TYPES = (HELM_CHART, HELM_RELEASE)
CHARTS_TARGET = "`kubernetes:helm.sh/v4:Chart`, `kubernetes:helm.sh/v3:Release`"
_ARCHIVE_VERSION = re.compile(r"-v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")
_LOCAL = re.compile(r"^(\.{1,2}/|/|file://)|\.(tgz|tar\.gz)$")


def chart_name(resource: Resource) -> str | None:
    """The chart a Chart/Release installs (``repo/name``, OCI and archive forms reduced to its name); None: unknown."""
    chart = resource.get("chart")
    if is_unknown(chart) or not isinstance(chart, str):
        return None if is_unknown(chart) else ""
    last = chart.strip().split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".tgz", ".tar.gz"):
        last = last.removesuffix(suffix)
    if is_local_chart(chart):
        last = _ARCHIVE_VERSION.sub("", last)
    return last.split(":", 1)[0]


def is_local_chart(chart: Any) -> bool:
    """A chart from a directory or archive: its content, hence its version, is fixed by the file."""
    return isinstance(chart, str) and bool(_LOCAL.search(chart.strip()))


class Unreadable:
    """A values layer the pack cannot read (a file outside its reach, or not YAML)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


Layer = Mapping[str, Any] | Unreadable | object  # object: UNKNOWN


def layers(resource: Resource) -> list[Layer]:
    """The values layers, highest precedence first: inline ``values``, then the value files from last to first."""
    found: list[Layer] = []
    inline = resource.get("values")
    found.append(inline if is_unknown(inline) else mapping(inline))
    files = resource.get("valueYamlFiles")
    if is_unknown(files):
        found.append(Unreadable("valueYamlFiles"))
    for i, file in reversed(list(enumerate(items(files)))):
        found.append(_file_layer(i, file))
    return found


def _file_layer(index: int, file: Any) -> Layer:
    where = f"valueYamlFiles[{index}]"
    if is_unknown(file):
        return Unreadable(where)
    if not isinstance(file, Asset) or file.text is None:
        location = file.location if isinstance(file, Asset) else "?"
        return Unreadable(f"{where} ({location}, which the pack cannot read)")
    document: Any = None
    with contextlib.suppress(yaml.YAMLError, ValueError, RecursionError):
        document = load_yaml(file.text)
    if document is None:
        return {}
    return document if isinstance(document, Mapping) else Unreadable(f"{where} (not a YAML map)")


@dataclass(frozen=True)
class Setting:
    """One chart value through the layers: ``set`` (``value`` holds it, None if deleted), ``default`` or ``unknown``."""

    state: str
    value: Any = None
    where: str = ""


def setting(chart_layers: Sequence[Layer], *path: str) -> Setting:
    dotted = "values." + ".".join(path)
    for layer in chart_layers:
        if isinstance(layer, Unreadable):
            return Setting("unknown", where=f"{dotted} (from {layer.reason})")
        if is_unknown(layer):
            return Setting("unknown", where="values")
        node: Any = layer
        for step in path:
            if is_unknown(node):
                return Setting("unknown", where=dotted)
            if not isinstance(node, Mapping):
                return Setting("set", None)  # a scalar above the key replaces the chart's map: nothing there
            if step not in node:
                node = _MISSING
                break
            node = node[step]
        if node is _MISSING:
            continue
        if is_unknown(node):
            return Setting("unknown", where=dotted)
        return Setting("set", node)
    return Setting("default")


_MISSING = object()


def enabled(chart_layers: Sequence[Layer], path: Sequence[str], default: Any, truth: Any = helm_truthy) -> bool | None:
    """Whether a switch is on (``truth`` of its value, or of ``default`` where the chart's default applies)."""
    found = setting(chart_layers, *path)
    if found.state == "unknown":
        return None
    return bool(truth(default if found.state == "default" else found.value))


def chart_unknown(resource: Resource) -> Iterator[Problem]:
    """A cannot-check when the chart's name is not known yet (it might be the one a rule is about)."""
    if chart_name(resource) is None:
        yield cannot_check("chart")


# --- rules over charts --------------------------------------------------------------------------------


@resource_rule(
    "k8s-chart-version-pinned",
    description="Helm charts are installed at an exact version.",
    why=(
        "Without an exact `version` Helm installs whatever the repository serves today (a range such as `^2.9.0` "
        "or `2.x` likewise), so the next preview may install different objects and values. A chart from a local "
        "directory or archive is pinned by its content."
    ),
    level=Level.ADVISORY,
    remediation="set `version` to an exact chart version (pinned in components/charts.py).",
    source="Pulumi Kubernetes Helm docs (`version`; unpinned charts change under a stack)",
    types=CHART_TYPES,
    severity=Severity.LOW,
)
def chart_version_pinned(chart: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    version, source = chart.get("version"), chart.get("chart")
    if is_unknown(version) or is_unknown(source):
        yield cannot_check("version")
        return
    if is_local_chart(source):
        return
    if not isinstance(version, str) or not version or any(c in version for c in "^~*<>=x| "):
        yield Problem("version is not an exact chart version.")


VAULT_CHART = "vault"
# The vault chart's own defaults (values.yaml of hashicorp/vault-helm), checked against the reference by a test.
VAULT_DEFAULTS: Mapping[tuple[str, ...], Any] = {
    ("global", "enabled"): True,
    ("global", "tlsDisable"): True,
    ("global", "externalVaultAddr"): "",
    ("injector", "enabled"): "-",
    ("injector", "externalVaultAddr"): "",
    ("server", "enabled"): "-",
    ("server", "dev", "enabled"): False,
    ("csi", "enabled"): False,
    ("csi", "extraArgs"): [],
}
_SKIP_VERIFY_FLAG = re.compile(r"^--?vault-tls-skip-verify(?:=(.*))?$")
_ADDRESS_FLAG = re.compile(r"^--?vault-addr=(.*)$")


def _vault_value(chart_layers: Sequence[Layer], *path: str) -> Setting:
    found = setting(chart_layers, *path)
    return Setting("set", VAULT_DEFAULTS.get(path)) if found.state == "default" else found


def _component_enabled(chart_layers: Sequence[Layer], component: str) -> bool | None:
    """The chart's ``vault.<component>Enabled``: ``"true"``, or ``"-"`` with ``global.enabled`` (by ``toString``)."""
    own, overall = _vault_value(chart_layers, component, "enabled"), _vault_value(chart_layers, "global", "enabled")
    if own.state == "unknown" or (own.value == "-" and overall.state == "unknown"):
        return None
    return helm_enabled(own.value) or (own.value == "-" and helm_enabled(overall.value))


def _csi_args_problems(args: Any) -> Iterator[Problem]:
    for arg in strings(args):
        skip, address = _SKIP_VERIFY_FLAG.match(arg.strip()), _ADDRESS_FLAG.match(arg.strip())
        if skip and (skip.group(1) is None or go_bool(skip.group(1))):
            yield Problem("csi.extraArgs passes -vault-tls-skip-verify: the CSI provider does not verify Vault.")
        if address and insecure_url(address.group(1)):
            yield Problem("csi.extraArgs points the CSI provider at a plain-text -vault-addr.")


@resource_rule(
    "vault-chart-tls",
    description=(
        "The vault chart runs no dev-mode or plain-text server, and its injector and CSI provider reach Vault over "
        "verified TLS."
    ),
    why=(
        "The chart deploys a Vault server unless an external address is set or `server.enabled` is off, and its "
        "`global.tlsDisable` defaults to true: the server listens over plain HTTP and the injector's agents and the "
        "CSI provider send service-account tokens and receive secrets in clear text. `server.dev.enabled` runs "
        "Vault in dev mode (in memory, unsealed, a known root token). An `http://` `externalVaultAddr`, or the CSI "
        "provider's `-vault-tls-skip-verify` / plain `-vault-addr` in `csi.extraArgs`, does the same against an "
        'external Vault. The chart compares its switches with `toString == "true"` and `"-"` follows '
        "`global.enabled`; `tlsDisable` is read with Go template truth."
    ),
    level=Level.MANDATORY,
    remediation=(
        "install only the injector or CSI provider (`server.enabled: false`) pointed at Vault's https:// address "
        "(`global.externalVaultAddr`), or give the server TLS (`global.tlsDisable: false` and a listener "
        "certificate); never dev mode, never a TLS skip."
    ),
    source="vault-helm values.yaml and _helpers.tpl (`vault.mode`, `global.tlsDisable`); Vault CSI provider flags",
    types=CHART_TYPES,
    target=f"{CHARTS_TARGET} of chart `vault`",
    severity=Severity.CRITICAL,
    url="https://developer.hashicorp.com/vault/docs/platform/k8s/helm/configuration",
)
def vault_chart_tls(chart: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    yield from chart_unknown(chart)
    if chart_name(chart) != VAULT_CHART:
        return
    values = layers(chart)
    external = [_vault_value(values, section, "externalVaultAddr") for section in ("injector", "global")]
    server = _component_enabled(values, "server")
    unknown = [s.where for s in external if s.state == "unknown"]
    if unknown or server is None:
        yield cannot_check(", ".join(unknown) or "values.server.enabled")
        return
    switches = {c: _component_enabled(values, c) for c in ("injector", "csi")}
    for component in sorted(c for c, on in switches.items() if on is None):
        yield cannot_check(f"values.{component}.enabled")
    clients = [c for c, on in switches.items() if on]
    address = next((s.value for s in external if helm_truthy(s.value)), None)
    if address is not None:
        if clients and insecure_url(address):
            yield Problem(f"the {' and '.join(clients)} reach Vault at a plain-text externalVaultAddr.")
    elif server:
        yield from _server_problems(values)
    injector_addr = _vault_value(values, "injector", "extraEnvironmentVars", "AGENT_INJECT_VAULT_ADDR")
    if "injector" in clients and injector_addr.state == "set" and insecure_url(injector_addr.value):
        yield Problem("injector.extraEnvironmentVars.AGENT_INJECT_VAULT_ADDR is a plain-text address.")
    if "csi" in clients:
        yield from _csi_args_problems(_vault_value(values, "csi", "extraArgs").value)


def _server_problems(values: Sequence[Layer]) -> Iterator[Problem]:
    dev, tls_disabled = _vault_value(values, "server", "dev", "enabled"), _vault_value(values, "global", "tlsDisable")
    for found in (dev, tls_disabled):
        if found.state == "unknown":
            yield cannot_check(found.where)
    if dev.state == "set" and helm_enabled(dev.value):
        yield Problem("server.dev.enabled runs Vault in dev mode: in memory, unsealed, with a known root token.")
    if tls_disabled.state == "set" and helm_truthy(tls_disabled.value):
        yield Problem("the chart deploys a Vault server without TLS (global.tlsDisable, true by default).")


RULES = (chart_version_pinned, vault_chart_tls)
