"""The secrets-platform stack: one SecretsPlatform from the stack's config."""

import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi.runtime.config import CONFIG, get_config_env

from components import SecretsPlatform
from components.spec import from_config

PROJECT = pulumi.get_project()
STACK_OPTIONS = ("renderYamlToDirectory",)


def project_config() -> dict[str, Any]:
    """Every `secrets-platform:*` key of the stack, structured values decoded."""
    raw = {**get_config_env(), **CONFIG.get()}
    config: dict[str, Any] = {}
    for key, value in raw.items():
        namespace, _, name = key.partition(":")
        if namespace == PROJECT:
            try:
                config[name] = json.loads(value) if isinstance(value, str) else value
            except json.JSONDecodeError:
                config[name] = value
    return config


config = project_config()
options = {k: config.pop(k) for k in STACK_OPTIONS if k in config}
args = from_config(config)

providers = []
if "renderYamlToDirectory" in options:
    # Write manifests instead of applying them: a workstation with Vault but no cluster.
    providers.append(k8s.Provider("render", render_yaml_to_directory=options["renderYamlToDirectory"]))

platform = SecretsPlatform("platform", args, opts=pulumi.ResourceOptions(providers=providers))  # type: ignore[arg-type]

pulumi.export("authMount", platform.auth_mount)
pulumi.export("roles", platform.roles)
pulumi.export("policies", platform.policies)
pulumi.export("access", platform.access)
pulumi.export("nextRotations", platform.next_rotations)
pulumi.export("podAnnotations", platform.pod_annotations)
pulumi.export("podVolumes", platform.pod_volumes)
pulumi.export("deploymentAnnotations", platform.deployment_annotations)
pulumi.export("delivered", platform.delivered)
