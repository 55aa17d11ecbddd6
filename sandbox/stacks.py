"""The project's own stacks, pointed at servers on loopback (the sandbox's and the engine tests')."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from components.model import PlatformSpec
from components.spec import from_config, validate_audit_device, validate_platform
from components.vault_audit import server_config_stanzas
from sandbox.issuer import ServiceAccountIssuer
from sandbox.servers import OpenBaoServer

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROJECT = "secrets-platform"


def stack_file(path: Path) -> dict[str, Any]:
    """The `config:` mapping of a stack file, as written."""
    return dict(yaml.safe_load(path.read_text())["config"])


def dev_stack() -> dict[str, Any]:
    return stack_file(PROJECT_ROOT / "Pulumi.dev.yaml")


def full_stack() -> dict[str, Any]:
    return stack_file(PROJECT_ROOT / "examples" / "Pulumi.full.yaml")


def key(name: str) -> str:
    return f"{PROJECT}:{name}"


def against(config: dict[str, Any], bao: OpenBaoServer, render_dir: Path | None = None) -> dict[str, Any]:
    """``config`` deployed to ``bao`` (the provider and the address pods use); with ``render_dir``,
    Kubernetes manifests are rendered there instead of applied."""
    config = copy.deepcopy(config)
    config["vault:address"] = bao.address
    config[key("vault")] = {**config.get(key("vault"), {}), "address": bao.address}
    if render_dir is not None:
        config[key("renderYamlToDirectory")] = str(render_dir)
    return config


def audit_files(directory: Path) -> list[dict[str, str]]:
    """Two file audit devices in ``directory``, as a stack file declares them (two: a blocked one does not
    stop the server)."""
    return [{"type": "file", "target": str(directory / name)} for name in ("audit.log", "audit-second.log")]


def on_openbao(config: dict[str, Any], audit_devices: list[dict[str, str]]) -> dict[str, Any]:
    """``config`` for an OpenBao server whose configuration declares ``audit_devices`` (the stack
    creates none; it exports the stanzas as `auditConfig`). KV mounts lose `deleteVersionAfter`: OpenBao
    Agent cannot read a version with a deletion time (the stack refuses the two together)."""
    config = copy.deepcopy(config)
    config[key("vault")] = {**config.get(key("vault"), {}), "server": "openbao"}
    config[key("auditDevices")] = audit_devices
    for mount in config.get(key("kv"), []):
        mount.pop("deleteVersionAfter", None)
    return config


def server_audit_config(audit_devices: list[dict[str, str]]) -> str:
    """The `audit` stanzas of the server configuration declaring ``audit_devices`` (stack-file form)."""
    return server_config_stanzas(tuple(validate_audit_device("auditDevices", d) for d in audit_devices))


def with_jwt_issuer(config: dict[str, Any], issuer: ServiceAccountIssuer) -> dict[str, Any]:
    """The cluster trusted through jwt auth and ``issuer``'s public key."""
    config = copy.deepcopy(config)
    cluster = config[key("cluster")]
    for field in ("caCert", "reviewer"):
        cluster.pop(field, None)
    cluster.update(
        authMethod="jwt", authMount="jwt", issuer=issuer.issuer, jwtValidationPubkeys=[issuer.public_key_pem]
    )
    return config


def platform(config: dict[str, Any]) -> PlatformSpec:
    """The stack file's platform, validated as the program validates it (a key holding a `secure:` value is
    a secret key, as the engine reports it)."""
    namespaced = {k.partition(":")[2]: v for k, v in config.items() if k.startswith(f"{PROJECT}:")}
    namespaced.pop("renderYamlToDirectory", None)
    secret_keys = [key for key, value in namespaced.items() if "'secure'" in repr(value)]
    return validate_platform(from_config(namespaced, secret_keys))


def workloads(config: dict[str, Any]) -> list[dict[str, Any]]:
    return list(config[key("workloads")])
