"""How the offline plan scales: generated stacks of 10 to 5,000 workloads against a plain-SDK baseline.

    python -m benchmarks.plan_scaling                      # 10, 100, 1,000 and 5,000 workloads
    python -m benchmarks.plan_scaling --sizes 10,100       # a quicker run
    python -m benchmarks.plan_scaling --json results.json  # also keep the numbers

Each generated workload reads three KV secrets, one per delivery (External Secrets, CSI, Vault
Agent injector), and the credentials of its own dynamic database role (its delivery rotates
through the three). For every size, two measurements run, each in a fresh Python process so
peak memory is its own:

- **plan**: what ``python -m planner --format json`` does: read the stack file, run the stack
  program (``SecretsPlatform`` and its components) under the mock engine, run the policy pack
  over the capture, read the access back, render the JSON plan;
- **baseline**: the same resources (type, name, inputs; secrets as ``pulumi.Output.secret``),
  registered by plain ``pulumi.CustomResource`` calls (Helm charts as the remote components
  they are) under the same mock engine: no components, no validation, no policies.

Both report wall time (the work only: interpreter start-up and imports excluded) and peak
resident memory (the whole process). The dev stack is timed as the README's command runs it
(``python -m planner --stack dev`` in a subprocess, start-up included). Targets (issue 6):
1,000 workloads within 1.3x the baseline and under 1 GB; 5,000 within 5.5x the time of 1,000;
the dev stack under 3 s. It is a measurement, not a test: nothing fails on a miss.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import resource
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

DEFAULT_SIZES = (10, 100, 1000, 5000)
DELIVERIES = ("external-secrets", "csi", "agent-injector")
TARGET_RATIO = 1.3
TARGET_PEAK_MB = 1024
TARGET_GROWTH = 5.5
TARGET_DEV_SECONDS = 3.0


# --- the generated stacks ------------------------------------------------------------------------------


def generated_stack(workloads: int) -> dict[str, Any]:
    """A stack file document: the dev stack's Vault and cluster, ``workloads`` workloads, one database."""
    dev = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())["config"]
    config = {k: v for k, v in dev.items() if k not in ("secrets-platform:workloads", "secrets-platform:kv")}
    names = [f"app{i:05d}" for i in range(workloads)]
    config["secrets-platform:kv"] = [{"mount": "secret", "maxVersions": 10}]
    config["secrets-platform:databases"] = [
        {
            "name": "main",
            "plugin": "postgresql",
            "connectionUrl": "postgresql://{{username}}:{{password}}@db.example.com:5432/app?sslmode=verify-full",
            "username": "vault-admin",
            "password": {"secure": "v1:YmVuY2htYXJrLW5vdC1hLXNlY3JldA=="},
            "roles": [
                {
                    "name": f"{name}-rw",
                    "creationStatements": [
                        "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
                        f'GRANT {name}_rw TO "{{{{name}}}}";',
                    ],
                    "defaultTtl": "1h",
                    "maxTtl": "8h",
                }
                for name in names
            ],
        }
    ]
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


# --- the two measured runs (each in a child process) -----------------------------------------------------


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def child_plan(stack_file: Path, specs: Path) -> dict[str, Any]:
    from planner.plan import build_plan, plan_document
    from planner.progress import Progress
    from planner.render import plan_json

    class Timing(Progress):
        def __init__(self) -> None:
            self.marks: list[tuple[str, float]] = []

        def step(self, label: str, total: int | None = None) -> None:
            self.marks.append((label, time.perf_counter()))

    timing = Timing()
    started = time.perf_counter()
    plan = build_plan(stack_file, progress=timing)
    rendered = plan_json(plan_document(plan))
    seconds = time.perf_counter() - started
    marks = [t for _, t in timing.marks] + [started + seconds]
    phases = dict(zip(("read", "stack", "policy", "access+render"), (b - a for a, b in pairwise(marks)), strict=True))
    with specs.open("wb") as handle:
        pickle.dump(
            [
                (r.type, r.name, r.custom, r.inputs)
                for r in plan.capture.resources
                if not r.type.startswith("vaultk8s:")
            ],
            handle,
        )
    return {
        "seconds": seconds,
        "peakMb": peak_mb(),
        "resources": len(plan.capture.resources),
        "customResources": sum(r.custom for r in plan.capture.resources),
        "violations": len(plan.violations),
        "mandatory": sum(v.level == "mandatory" for v in plan.violations),
        "jsonBytes": len(rendered),
        "phases": phases,
    }


def child_baseline(specs: Path) -> dict[str, Any]:
    import pulumi

    from planner.engine import is_secret, run_program

    with specs.open("rb") as handle:
        registrations = pickle.load(handle)

    def secrets_as_outputs(value: Any) -> Any:
        if is_secret(value):
            return pulumi.Output.secret(secrets_as_outputs(value.get("value")))
        if isinstance(value, dict):
            return {k: secrets_as_outputs(v) for k, v in value.items()}
        if isinstance(value, list):
            return [secrets_as_outputs(v) for v in value]
        return value

    def program() -> None:
        for type_, name, custom, inputs in registrations:
            props = secrets_as_outputs(inputs)
            if custom:
                pulumi.CustomResource(type_, name, props)
            else:
                pulumi.ComponentResource(type_, name, props, remote=True)

    started = time.perf_counter()
    capture = run_program(program, stack="baseline")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peakMb": peak_mb(), "resources": len(capture.resources)}


def run_child(*args: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.plan_scaling", "--child", *args]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def time_dev_stack(runs: int = 3) -> float:
    """The best of ``runs`` wall times of the README's command (a fresh interpreter each time)."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "planner", "--stack", "dev"], cwd=PROJECT_ROOT, capture_output=True, check=True
        )
        best = min(best, time.perf_counter() - started)
    return best


# --- the report ---------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        memory_gb = int(memory.split()[1]) / 1024 / 1024
    except (OSError, StopIteration):
        memory_gb = 0.0
    versions = {}
    for package in ("pulumi", "pulumi_policy", "pulumi_kubernetes", "pulumi_vault"):
        try:
            from importlib.metadata import version

            versions[package] = version(package.replace("_", "-"))
        except Exception:  # a missing package only leaves its version out
            versions[package] = "?"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memoryGb": round(memory_gb, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        **versions,
    }


def report(results: list[dict[str, Any]], dev_seconds: float | None, info: dict[str, Any]) -> str:
    lines = [
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memoryGb']} GB; {info['os']}; Python {info['python']}; "
        f"pulumi {info['pulumi']}, pulumi-policy {info['pulumi_policy']}",
        "",
        f"{'workloads':>9} {'resources':>9} {'plan s':>8} {'stack s':>8} {'policy s':>8} {'plan MB':>8} "
        f"{'base s':>8} {'base MB':>8} {'ratio':>6} {'x 1,000':>8}",
    ]
    by_size = {r["workloads"]: r for r in results}
    for r in results:
        plan, base = r["plan"], r["baseline"]
        growth = ""
        if r["workloads"] > 1000 and 1000 in by_size:
            growth = f"{plan['seconds'] / by_size[1000]['plan']['seconds']:.2f}"
        lines.append(
            f"{r['workloads']:>9} {plan['resources']:>9} {plan['seconds']:>8.2f} {plan['phases']['stack']:>8.2f} "
            f"{plan['phases']['policy']:>8.2f} {plan['peakMb']:>8.0f} {base['seconds']:>8.2f} {base['peakMb']:>8.0f} "
            f"{plan['seconds'] / base['seconds']:>6.2f} {growth:>8}"
        )
    lines.append("")
    if 1000 in by_size:
        r = by_size[1000]
        ratio = r["plan"]["seconds"] / r["baseline"]["seconds"]
        lines.append(
            f"1,000 workloads: {ratio:.2f}x the baseline (target <= {TARGET_RATIO}x): {_verdict(ratio <= TARGET_RATIO)}"
        )
        lines.append(
            f"1,000 workloads: peak {r['plan']['peakMb']:.0f} MB (target < {TARGET_PEAK_MB} MB): "
            f"{_verdict(r['plan']['peakMb'] < TARGET_PEAK_MB)}"
        )
        if 5000 in by_size:
            growth = by_size[5000]["plan"]["seconds"] / r["plan"]["seconds"]
            lines.append(
                f"5,000 vs 1,000 workloads: {growth:.2f}x the time (target <= {TARGET_GROWTH}x): "
                f"{_verdict(growth <= TARGET_GROWTH)}"
            )
    if dev_seconds is not None:
        lines.append(
            f"dev stack, `python -m planner --stack dev` wall time: {dev_seconds:.2f} s "
            f"(target < {TARGET_DEV_SECONDS} s): "
            f"{_verdict(dev_seconds < TARGET_DEV_SECONDS)}"
        )
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plan_scaling", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="workload counts, comma-separated")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", type=Path, help="keep the generated stack files in this directory")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *paths = args.child
        result = child_plan(Path(paths[0]), Path(paths[1])) if kind == "plan" else child_baseline(Path(paths[0]))
        print(json.dumps(result))
        return 0

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    info = machine()
    results = []
    with tempfile.TemporaryDirectory(prefix="plan-scaling-") as temp:
        workdir = args.keep or Path(temp)
        workdir.mkdir(parents=True, exist_ok=True)
        for size in sizes:
            stack_file = workdir / f"Pulumi.bench-{size}.yaml"
            stack_file.write_text(yaml.safe_dump(generated_stack(size), sort_keys=False))
            specs = Path(temp) / f"registrations-{size}.pickle"
            print(f"{size} workloads: planning ...", file=sys.stderr, flush=True)
            plan = run_child("plan", str(stack_file), str(specs))
            print(f"{size} workloads: baseline ...", file=sys.stderr, flush=True)
            baseline = run_child("baseline", str(specs))
            results.append({"workloads": size, "plan": plan, "baseline": baseline})
    dev_seconds = time_dev_stack()
    print(report(results, dev_seconds, info))
    if args.json:
        args.json.write_text(
            json.dumps({"machine": info, "results": results, "devSeconds": dev_seconds}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
