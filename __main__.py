"""The secrets-platform stack: one SecretsPlatform from the stack's config.

Config is read through ``pulumi.Config``: a key set with ``pulumi config set --secret`` (or
holding a ``secure:`` value anywhere inside) is a secret key, and the fields the schema marks
secret must come from one; they stay Pulumi secrets from here on. Only key *names* are read
from the language host's environment, to refuse unknown keys and near misses of the project.
"""

import pulumi
import pulumi_kubernetes as k8s

from components import SecretsPlatform
from components.spec import CONFIG_KEYS, check_config_keys, from_config, validate_platform

config = pulumi.Config()


def read(key: str) -> object:
    """A key's value, structured values decoded. get_object for secret keys too: their structure
    (names, paths) shapes access and must be plain; from_config turns each field the schema marks
    secret back into a Pulumi secret. A value that is no JSON is passed on as text, for the edge to refuse."""
    try:
        return config.get_object(key)
    except pulumi.ConfigTypeError:
        return config.get(key)


values = {key: value for key in CONFIG_KEYS if (value := read(key)) is not None}
secret_keys = {key for key in values if pulumi.runtime.is_config_secret(config.full_key(key))}
check_config_keys(pulumi.runtime.get_config_env(), config.name)
args = from_config(values, secret_keys)

model = validate_platform(args)  # before anything is registered, the render providers included

kubernetes = {}
if render_to := config.get("renderYamlToDirectory"):
    # Write manifests instead of applying them: a workstation with Vault but no cluster. Several clusters
    # render each into a directory of its own.
    for cluster in model.clusters:
        directory = f"{render_to}/{cluster.name}" if cluster.resource_suffix else render_to
        kubernetes[cluster.name] = k8s.Provider(cluster.resource_name("render"), render_yaml_to_directory=directory)

platform = SecretsPlatform.from_model("platform", model, kubernetes=kubernetes)

pulumi.export("authMount", platform.auth_mount)
pulumi.export("authMounts", platform.auth_mounts)
pulumi.export("clusters", platform.clusters)
pulumi.export("roles", platform.roles)
pulumi.export("policies", platform.policies)
pulumi.export("access", platform.access)
pulumi.export("nextRotations", platform.next_rotations)
pulumi.export("podAnnotations", platform.pod_annotations)
pulumi.export("podVolumes", platform.pod_volumes)
pulumi.export("deploymentAnnotations", platform.deployment_annotations)
pulumi.export("delivered", platform.delivered)
pulumi.export("auditConfig", platform.audit_config)
