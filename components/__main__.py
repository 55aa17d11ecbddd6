"""Hosts the vaultk8s components as a Pulumi component provider (`pulumi package add ./components`).

The engine runs this file with the plugin's directory as the working directory, and the
directory may be a copy of ``components/`` under any name (``pulumi package add`` of a git
subfolder, a vendored copy): it is loaded as the package it is, by path, never through the
repository around it.
"""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PACKAGE = "vaultk8s"
HERE = Path(__file__).resolve().parent


def load_package(directory: Path = HERE) -> ModuleType:
    """This directory as the package ``vaultk8s`` (its modules import each other relatively)."""
    if PACKAGE in sys.modules:
        return sys.modules[PACKAGE]
    spec = importlib.util.spec_from_file_location(
        PACKAGE, directory / "__init__.py", submodule_search_locations=[str(directory)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the vaultk8s package from {directory}")
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    spec.loader.exec_module(package)
    return package


def provider() -> object:
    """The provider the engine talks to: the package's components and its completed schema."""
    package = load_package()
    hosting = importlib.import_module(f"{PACKAGE}.provider")
    return hosting.VaultK8sProvider(package.PUBLIC_COMPONENTS, version=package.__version__)


if __name__ == "__main__":
    # Run as `python <dir>` (how the language host starts a component package), this directory is first on
    # sys.path, where its module names (`platform`) would shadow the standard library's: take it off.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
    from pulumi.provider import main

    main(provider(), sys.argv[1:])  # type: ignore[arg-type]
