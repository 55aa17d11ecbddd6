"""Hosts the vaultk8s components as a Pulumi component provider (`pulumi package add ./components`)."""

import sys
from pathlib import Path

# The plugin runs with components/ as its working directory; import it as the package it is.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi.provider.experimental import component_provider_host

from components import PUBLIC_COMPONENTS

if __name__ == "__main__":
    component_provider_host(name="vaultk8s", components=PUBLIC_COMPONENTS)
