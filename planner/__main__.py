"""python -m planner: the offline plan of a stack (no Pulumi CLI, no credentials, no network).

Exit codes: 0 planned; 2 bad config (one line on stderr, naming the field).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from components.validation import SpecError

from .access import workload_access
from .engine import PROJECT_ROOT, run_program
from .render import plan_json, plan_text, write_files
from .stack_file import load_stack_config, stack_file

EXIT_OK = 0
EXIT_BAD_CONFIG = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m planner", description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack", default="dev", help="plan Pulumi.<stack>.yaml (default: dev)")
    where.add_argument("--config-file", help="plan this stack file instead")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--out", type=Path, help="also write policies (.hcl) and Kubernetes objects (.yaml) here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    path = stack_file(args.stack, args.config_file)
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    try:
        config, secret_keys = load_stack_config(path)
        capture = run_program(PROJECT_ROOT / "__main__.py", config, stack=stack, secret_keys=secret_keys)
    except SpecError as error:
        print(f"error: {path.name}: {error}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    workloads = workload_access(capture)
    sys.stdout.write(plan_json(capture, workloads) if args.format == "json" else plan_text(capture, workloads))
    if args.out:
        written = write_files(capture, args.out)
        print(f"wrote {len(written)} files under {args.out}", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
