"""KvStore: a KV v2 mount and the secrets the stack generates into it, rotated on a declared schedule.

Rotation needs no scheduler: each generated value's keepers hold the index of
the rotation period the deployment runs in (``now // rotateEvery``). A preview
inside the period changes nothing; the first ``pulumi up`` after it replaces the
random value, and KV v2 keeps the previous version readable.
"""

import json
from datetime import UTC, datetime
from typing import Any

import pulumi
import pulumi_random as random
import pulumi_vault as vault

from .args import KvStoreArgs
from .component import Component
from .model import GeneratedSecret, KvMount, KvStoreSpec, resource_slug
from .spec import validate_kv_store

# --- pure builders -------------------------------------------------------------


def rotation_epoch(now: int, period: int | None) -> int:
    """The index of the rotation period ``now`` (Unix seconds) falls in; 0 for a value that never rotates."""
    return 0 if period is None else now // period


def next_rotation(now: int, period: int | None) -> str | None:
    """When the value next changes (the first ``pulumi up`` after this instant), as an ISO-8601 UTC time."""
    if period is None:
        return None
    return datetime.fromtimestamp((rotation_epoch(now, period) + 1) * period, UTC).isoformat()


def next_rotations(store: KvStoreSpec) -> dict[str, str]:
    """``<path>`` of each generated secret that rotates, to the time of its next rotation."""
    return {s.path: when for s in store.kv.generated if (when := next_rotation(store.clock, s.rotate_every))}


def mount_inputs(kv: KvMount) -> dict[str, Any]:
    return {"path": kv.mount, "type": "kv", "options": {"version": "2"}, "description": "KV v2, managed by vaultk8s"}


def mount_config_inputs(kv: KvMount) -> dict[str, Any]:
    return {
        "max_versions": kv.max_versions,
        "cas_required": kv.cas_required,
        "delete_version_after": kv.delete_version_after,
    }


def password_inputs(secret: GeneratedSecret, now: int) -> dict[str, Any]:
    return {
        "length": secret.length,
        "special": secret.special,
        "keepers": {"rotation": str(rotation_epoch(now, secret.rotate_every))},
    }


# --- component -----------------------------------------------------------------


class KvStore(Component):
    """A KV v2 mount whose generated values are Pulumi secrets end to end and rotate on schedule."""

    mount: pulumi.Output[str]
    """The mount path."""
    next_rotations: pulumi.Output[dict[str, str]]
    """Secret path to the time of its next rotation (secrets that rotate only)."""

    def __init__(self, name: str, args: KvStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        self._build(name, validate_kv_store(args), opts)

    def _build(self, name: str, model: KvStoreSpec, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__("vaultk8s:index:KvStore", name, {}, opts)
        kv, child = model.kv, pulumi.ResourceOptions(parent=self)
        mount = vault.Mount(f"{name}-mount", **mount_inputs(kv), opts=child)
        config = vault.kv.SecretBackendV2(
            f"{name}-config",
            mount=kv.mount,
            **mount_config_inputs(kv),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[mount]),
        )
        after_config = pulumi.ResourceOptions(parent=self, depends_on=[config])
        for secret in kv.generated:
            slug = resource_slug(secret.path)
            values = {
                key: random.RandomPassword(
                    f"{name}-{slug}-{key}", **password_inputs(secret, model.clock), opts=child
                ).result
                for key in secret.keys
            }
            vault.kv.SecretV2(
                f"{name}-{slug}",
                mount=kv.mount,
                name=secret.path,
                data_json=pulumi.Output.secret(pulumi.Output.all(**values).apply(json.dumps)),  # type: ignore[arg-type]
                # The deployer writes generated values and never reads a secret value back (deployer_policy.py).
                disable_read=True,
                opts=after_config,
            )
        self.mount = pulumi.Output.from_input(kv.mount)
        self.next_rotations = pulumi.Output.from_input(next_rotations(model))
        self.register_outputs({"mount": self.mount, "next_rotations": self.next_rotations})
