"""Vault audit devices: every request and response, HMAC'd, to at least one sink.

Vault refuses to serve a request it cannot audit, so a platform declares two
devices of different kinds: one blocked device then does not stop Vault.
"""

from typing import Any

from .model import AuditDevice


def audit_inputs(device: AuditDevice) -> dict[str, Any]:
    """Inputs of ``vault.Audit``: the device type, its mount path and its type's required option."""
    option = {"file": "file_path", "socket": "address", "syslog": "tag"}[device.type]
    return {
        "type": device.type,
        "path": device.path,
        "options": {option: device.target, **({"socket_type": "tcp"} if device.type == "socket" else {})},
        "description": f"{device.type} audit device, managed by vaultk8s",
    }
