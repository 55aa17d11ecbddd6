"""The secrets-platform policy pack, as the engine runs it: `pulumi preview --policy-pack policies`.

The engine starts ``python -u -m pulumi.policy <engine address> <pack dir>`` in the pack's directory
(the ``pulumi-analyzer-policy-python`` plugin); ``pulumi.policy`` runs this file with the pack's
directory on ``sys.path``. ``PolicyPack(...)`` then serves the Analyzer gRPC service on a loopback
port and prints the port as the first line of stdout. ``python policies/__main__.py`` does the same.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from pulumi_policy import PolicyPack


def _pack_module() -> ModuleType:
    if __package__:  # python -m policies
        return importlib.import_module(f"{__package__}.pack")
    # Run as a script or by pulumi.policy: load this directory as a package, whatever its name, so its
    # modules keep their relative imports, and keep the directory itself off sys.path (its module names,
    # `kubernetes` or `stack`, would shadow installed packages).
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    name = "secrets_platform_policies"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, here / "__init__.py", submodule_search_locations=[str(here)]
        )
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load the policy pack from {here}")
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"{name}.pack")


PolicyPack(**_pack_module().pack_arguments())
