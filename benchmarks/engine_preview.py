"""`pulumi preview` of generated stacks through the real engine, against a plain program registering the same
resources without components, in the same run.

    python -m benchmarks.engine_preview                 # 100 and 1,000 workloads
    python -m benchmarks.engine_preview --sizes 10,100
    python -m benchmarks.engine_preview --skip-checkpoints   # the engine saves only its final snapshot

Both previews are fresh (nothing deployed yet) and run with the toolchain's CLI and plugins against a live
OpenBao (the vault provider logs in and makes its child token, as in any preview):

- **stack**: ``SecretsPlatform`` over ``benchmarks.stacks.workloads(n)``, its operators installed outside the
  stack (no chart to fetch), composed in a program that reads the platform from a file and exports what
  ``__main__.py`` exports. The project's own program cannot take 1,000 workloads: its config would be 865 KB,
  and the engine passes a program its config in one environment variable, which Linux caps at 128 KiB
  (``planner.stack_file.ENGINE_CONFIG_LIMIT``); composing the component is what such a platform does;
- **plain**: a generated program that registers, with ``pulumi.CustomResource``, every custom resource the
  offline plan of the same stack registers: the same types, names, inputs (secrets as secrets) and
  dependencies (the engine orders the preview's steps by them), no components, no validation.

The target (issue 12): at 1,000 workloads the stack's preview at most 1.2x the plain program's. A measurement,
not a test.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.stacks import workloads  # noqa: E402
from planner.engine import is_secret, run_program  # noqa: E402
from sandbox import stacks  # noqa: E402
from sandbox.engine import PulumiCli, missing_programs, toolchain_bin  # noqa: E402
from sandbox.servers import OpenBaoServer  # noqa: E402

TARGET_RATIO = 1.2

PLAIN_PROGRAM = '''"""The same resources as the stack, registered flat (benchmarks/engine_preview.py)."""
import json
from pathlib import Path

import pulumi


def value(v):
    if isinstance(v, dict) and set(v) == {"__secret__"}:
        return pulumi.Output.secret(value(v["__secret__"]))
    if isinstance(v, dict):
        return {k: value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [value(x) for x in v]
    return v


registered = []
for type_, name, inputs, dependencies in json.loads((Path(__file__).parent / "resources.json").read_text()):
    depends_on = [registered[i] for i in dependencies]
    registered.append(pulumi.CustomResource(type_, name, value(inputs), pulumi.ResourceOptions(depends_on=depends_on)))
'''

COMPOSED_PROGRAM = '''"""The stack's platform composed from a file (benchmarks/engine_preview.py)."""
import json
import sys
from pathlib import Path

import pulumi

sys.path.insert(0, {root!r})
from components import SecretsPlatform  # noqa: E402
from components.spec import from_config  # noqa: E402

config = json.loads((Path(__file__).parent / "platform.json").read_text())
platform = SecretsPlatform("platform", from_config(config, secret_keys={{"databases"}}))
for name, attribute in {exports!r}:
    pulumi.export(name, getattr(platform, attribute))
'''
EXPORTS = (
    ("authMount", "auth_mount"),
    ("roles", "roles"),
    ("policies", "policies"),
    ("access", "access"),
    ("nextRotations", "next_rotations"),
    ("podAnnotations", "pod_annotations"),
    ("podVolumes", "pod_volumes"),
    ("deploymentAnnotations", "deployment_annotations"),
    ("delivered", "delivered"),
    ("auditConfig", "audit_config"),
)
"""What ``__main__.py`` exports."""


def stack_config(size: int, bao: OpenBaoServer, audit: list[dict[str, str]]) -> dict[str, Any]:
    config = stacks.on_openbao(stacks.against(workloads(size)["config"], bao), audit)
    delivery = config.setdefault(stacks.key("delivery"), {})
    for operator in ("externalSecrets", "csi", "agentInjector"):
        delivery.setdefault(operator, {})["install"] = False
    for database in config.get(stacks.key("databases"), []):
        database["password"] = "benchmark-not-a-secret"  # a Pulumi secret from here on (from_config)
    return config


def plain_resources(config: dict[str, Any]) -> list[tuple[str, str, Any, list[int]]]:
    """The custom resources the offline plan registers for ``config``, in its order, as (type, name, inputs, the
    indexes of the resources each depends on): a dependency on a component is one on every resource inside it."""

    def marked(v: Any) -> Any:
        if is_secret(v):
            return {"__secret__": marked(v.get("value"))}
        if isinstance(v, dict):
            return {k: marked(x) for k, x in v.items()}
        if isinstance(v, list):
            return [marked(x) for x in v]
        return v

    capture = run_program(PROJECT_ROOT / "__main__.py", config, stack="plain", secret_keys=[stacks.key("databases")])
    custom = [r for r in capture.resources if r.custom]
    index = {r.urn: i for i, r in enumerate(custom)}
    children: dict[str, list[str]] = {}
    for r in capture.resources:
        children.setdefault(r.parent or "", []).append(r.urn)

    def inside(urn: str) -> Iterator[int]:
        if urn in index:
            yield index[urn]
        else:
            for child in children.get(urn, ()):
                yield from inside(child)

    return [
        (r.type, r.name, marked(r.inputs), sorted({i for u in r.dependencies for i in inside(u) if i < index[r.urn]}))
        for r in custom
    ]


def program_dir(directory: Path, main: str, files: dict[str, Any]) -> Path:
    directory.mkdir()
    for name, content in files.items():
        (directory / name).write_text(json.dumps(content))
    (directory / "__main__.py").write_text(main)
    (directory / "Pulumi.yaml").write_text(
        f"name: {directory.name}\nruntime:\n  name: python\n  options:\n    toolchain: pip\n"
        f"    virtualenv: {PROJECT_ROOT / 'venv'}\n"
    )
    return directory


def timed_preview(cli: PulumiCli, name: str, config: dict[str, Any]) -> tuple[float, int]:
    """The preview's wall time, and how many resources it would create (components included)."""
    stack = cli.stack(name, config)
    started = time.perf_counter()
    result = stack.preview()
    seconds = time.perf_counter() - started
    creates = re.search(r"\+ (\d+) to create", result.stdout)
    return seconds, int(creates.group(1)) if creates else 0


SKIP_CHECKPOINTS = {"PULUMI_EXPERIMENTAL": "true", "PULUMI_SKIP_CHECKPOINTS": "true"}
"""The engine saves the whole snapshot after every step (quadratic in resources, pulumi/pulumi#14967): this
saves only the final one."""


def measure(
    size: int, bin_dir: Path, work: Path, bao: OpenBaoServer, audit: list[dict[str, str]], env: dict[str, str]
) -> dict[str, Any]:
    config = stack_config(size, bao, audit)
    home = work / "pulumi-home"
    provider = {"vault:address": bao.address}
    prefix = stacks.key("")
    platform = {k.removeprefix(prefix): v for k, v in config.items() if k.startswith(prefix)}
    composed = program_dir(
        work / f"composed-{size}",
        COMPOSED_PROGRAM.format(root=str(PROJECT_ROOT), exports=EXPORTS),
        {"platform.json": platform},
    )
    resources = plain_resources(config)
    plain = program_dir(work / f"plain-{size}", PLAIN_PROGRAM, {"resources.json": resources})
    seconds: dict[str, float] = {}
    creates: dict[str, int] = {}
    for kind, program in (("stack", composed), ("plain", plain)):
        token = {"VAULT_TOKEN": bao.root_token, **env}
        cli = PulumiCli(bin_dir, home, work / f"{kind}-stack-{size}", program=program, extra_env=token)
        if not (home / "plugins").exists():
            cli.install_plugins()
        seconds[kind], creates[kind] = timed_preview(cli, f"{kind}{size}", provider)
    return {"workloads": size, "resources": len(resources), **seconds, "creates": creates}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine_preview", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000", help="workload counts, comma-separated")
    parser.add_argument(
        "--skip-checkpoints", action="store_true", help="previews with PULUMI_SKIP_CHECKPOINTS (final snapshot only)"
    )
    args = parser.parse_args(argv)
    bin_dir = toolchain_bin()
    if missing := missing_programs(bin_dir):
        print(f"error: {', '.join(missing)} not built in {bin_dir}: run tools/toolchain", file=sys.stderr)
        return 2
    results = []
    with tempfile.TemporaryDirectory(prefix="engine-preview-") as tmp:
        work = Path(tmp)
        audit = stacks.audit_files(work)
        with OpenBaoServer(audit_config=stacks.server_audit_config(audit), directory=work / "openbao") as bao:
            for size in (int(s) for s in args.sizes.split(",")):
                env = SKIP_CHECKPOINTS if args.skip_checkpoints else {}
                results.append(measure(size, bin_dir, work, bao, audit, env))
                r = results[-1]
                print(
                    f"{r['workloads']:>6} workloads ({r['resources']} custom resources; the previews create "
                    f"{r['creates']['stack']} and {r['creates']['plain']}): stack {r['stack']:.1f} s, "
                    f"plain {r['plain']:.1f} s, ratio {r['stack'] / r['plain']:.2f}",
                    flush=True,
                )
    largest = max(results, key=lambda r: r["workloads"])
    ratio = largest["stack"] / largest["plain"]
    verdict = "met" if ratio <= TARGET_RATIO else "missed"
    print(
        f"target: {largest['workloads']} workloads at most {TARGET_RATIO}x the plain program: {ratio:.2f}x ({verdict})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
