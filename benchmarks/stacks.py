"""Generated stack files for the benchmarks: the dev stack's Vault and cluster, grown in one dimension at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DELIVERIES = ("external-secrets", "csi", "agent-injector")
PASSWORD = {"secure": "v1:YmVuY2htYXJrLW5vdC1hLXNlY3JldA=="}


def _base() -> dict[str, Any]:
    dev = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())["config"]
    return {k: v for k, v in dev.items() if k not in ("secrets-platform:workloads", "secrets-platform:kv")}


def _database(roles: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": "main",
            "plugin": "postgresql",
            "connectionUrl": "postgresql://{{username}}:{{password}}@db.example.com:5432/app?sslmode=verify-full",
            "username": "vault-admin",
            "password": PASSWORD,
            "roles": [
                {
                    "name": role,
                    "creationStatements": [
                        "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
                        f'GRANT {role.replace("-", "_")} TO "{{{{name}}}}";',
                    ],
                    "defaultTtl": "1h",
                    "maxTtl": "8h",
                }
                for role in roles
            ],
        }
    ]


def workloads(count: int) -> dict[str, Any]:
    """``count`` workloads, each with three KV secrets (one per delivery) and its own dynamic database role."""
    config = _base()
    names = [f"app{i:05d}" for i in range(count)]
    config["secrets-platform:kv"] = [{"mount": "secret", "maxVersions": 10}]
    config["secrets-platform:databases"] = _database([f"{name}-rw" for name in names])
    config["secrets-platform:workloads"] = [
        {
            "name": name,
            "namespace": f"ns-{name}",
            "serviceAccount": name,
            "secrets": [
                {"path": f"secret/data/{name}/{delivery}", "key": "value", "name": delivery, "delivery": delivery}
                for delivery in DELIVERIES
            ],
            "databaseCredentials": [
                {"mount": "database", "role": f"{name}-rw", "name": "db", "delivery": DELIVERIES[i % len(DELIVERIES)]}
            ],
        }
        for i, name in enumerate(names)
    ]
    return {"config": config}


def secrets_per_workload(count: int) -> dict[str, Any]:
    """One workload reading ``count`` keys of one secret, all through External Secrets (one ExternalSecret)."""
    config = _base()
    config["secrets-platform:workloads"] = [
        {
            "name": "big",
            "namespace": "big",
            "serviceAccount": "big",
            "secrets": [
                {"path": "secret/data/big", "key": f"key{i:05d}", "delivery": "external-secrets"} for i in range(count)
            ],
        }
    ]
    return {"config": config}


def paths_per_policy(count: int) -> dict[str, Any]:
    """One workload reading ``count`` secrets on as many paths: its policy has ``count`` stanzas."""
    config = _base()
    config["secrets-platform:workloads"] = [
        {
            "name": "wide",
            "namespace": "wide",
            "serviceAccount": "wide",
            "secrets": [
                {"path": f"secret/data/wide/p{i:05d}", "key": "value", "name": f"v{i:05d}", "delivery": "csi"}
                for i in range(count)
            ],
        }
    ]
    return {"config": config}


def kv_mounts(count: int) -> dict[str, Any]:
    """``count`` KV mounts, each with a generated, rotating secret, and one workload reading one of them."""
    config = _base()
    config["secrets-platform:kv"] = [
        {"mount": f"kv{i:04d}", "generated": [{"path": "app", "keys": ["token"], "rotateEvery": "30d"}]}
        for i in range(count)
    ]
    config["secrets-platform:workloads"] = [
        {
            "name": "reader",
            "namespace": "reader",
            "serviceAccount": "reader",
            "secrets": [{"path": "kv0000/data/app", "key": "token", "delivery": "csi"}],
        }
    ]
    return {"config": config}


DIMENSIONS = {
    "workloads": workloads,
    "secrets-per-workload": secrets_per_workload,
    "paths-per-policy": paths_per_policy,
    "kv-mounts": kv_mounts,
}


def write(dimension: str, size: int, directory: Path) -> Path:
    path = directory / f"Pulumi.bench-{dimension}-{size}.yaml"
    path.write_text(yaml.safe_dump(DIMENSIONS[dimension](size), sort_keys=False))
    return path
