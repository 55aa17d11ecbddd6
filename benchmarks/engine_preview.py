"""`pulumi preview` of generated stacks through the real engine, against a plain program registering the same
resources without components, in the same run.

    python -m benchmarks.engine_preview                 # 100 and 1,000 workloads
    python -m benchmarks.engine_preview --sizes 10,100

Both previews are fresh (nothing deployed yet) and run with the toolchain's CLI and plugins against a live
OpenBao (the vault provider logs in and makes its child token, as in any preview):

- **stack**: the project's program (``__main__.py``) over ``benchmarks.stacks.workloads(n)``, its operators
  installed outside the stack (no chart to fetch) and its database password set with `config set --secret`;
- **plain**: a generated program that registers, with ``pulumi.CustomResource``, every custom resource the
  offline plan of the same stack registers: the same types, names and inputs (secrets as secrets), no
  components, no validation.

The target (issue 12): at 1,000 workloads the stack's preview at most 1.2x the plain program's. A measurement,
not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
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


for type_, name, inputs in json.loads((Path(__file__).parent / "resources.json").read_text()):
    pulumi.CustomResource(type_, name, value(inputs))
'''


def stack_config(size: int, bao: OpenBaoServer, audit: list[dict[str, str]]) -> dict[str, Any]:
    config = stacks.on_openbao(stacks.against(workloads(size)["config"], bao), audit)
    delivery = config.setdefault(stacks.key("delivery"), {})
    for operator in ("externalSecrets", "csi", "agentInjector"):
        delivery.setdefault(operator, {})["install"] = False
    for database in config.get(stacks.key("databases"), []):
        database.pop("password", None)
    return config


def plain_resources(config: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """The custom resources the offline plan registers for ``config``, as (type, name, inputs)."""

    def marked(v: Any) -> Any:
        if is_secret(v):
            return {"__secret__": marked(v.get("value"))}
        if isinstance(v, dict):
            return {k: marked(x) for k, x in v.items()}
        if isinstance(v, list):
            return [marked(x) for x in v]
        return v

    planned = {k: v for k, v in config.items()}
    for database in planned.get(stacks.key("databases"), []):
        database["password"] = "benchmark-not-a-secret"
    capture = run_program(PROJECT_ROOT / "__main__.py", planned, stack="plain", secret_keys=[stacks.key("databases")])
    return [(r.type, r.name, marked(r.inputs)) for r in capture.resources if r.custom]


def timed_preview(cli: PulumiCli, name: str, config: dict[str, Any], secret: bool) -> float:
    stack = cli.stack(name, config)
    if secret:
        stack.set_secret(f"{stacks.key('databases')}[0].password", "benchmark-not-a-secret", path=True)
    started = time.perf_counter()
    stack.preview()
    return time.perf_counter() - started


def measure(size: int, bin_dir: Path, work: Path, bao: OpenBaoServer, audit: list[dict[str, str]]) -> dict[str, Any]:
    config = stack_config(size, bao, audit)
    home = work / "pulumi-home"
    project = PulumiCli(bin_dir, home, work / f"stack-{size}", extra_env={"VAULT_TOKEN": bao.root_token})
    if not (home / "plugins").exists():
        project.install_plugins()
    stack_seconds = timed_preview(project, f"w{size}", config, secret=True)

    program = work / f"plain-{size}"
    program.mkdir()
    resources = plain_resources(config)
    (program / "resources.json").write_text(json.dumps(resources))
    (program / "__main__.py").write_text(PLAIN_PROGRAM)
    (program / "Pulumi.yaml").write_text(
        "name: plain\nruntime:\n  name: python\n  options:\n    toolchain: pip\n"
        f"    virtualenv: {PROJECT_ROOT / 'venv'}\n"
    )
    plain = PulumiCli(
        bin_dir, home, work / f"plain-stack-{size}", program=program, extra_env={"VAULT_TOKEN": bao.root_token}
    )
    plain_seconds = timed_preview(plain, f"p{size}", {"vault:address": bao.address}, secret=False)
    return {"workloads": size, "resources": len(resources), "stack": stack_seconds, "plain": plain_seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine_preview", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000", help="workload counts, comma-separated")
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
                results.append(measure(size, bin_dir, work, bao, audit))
                r = results[-1]
                print(
                    f"{r['workloads']:>6} workloads ({r['resources']} custom resources): stack {r['stack']:.1f} s, "
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
