"""Where the stack's time goes: cProfile of the program under the mock engine, for a generated stack.

    python -m benchmarks.profile_stack                      # 1,000 workloads
    python -m benchmarks.profile_stack --dimension paths-per-policy --size 8000 --top 30

Prints the wall time of an unprofiled run, then the functions of this project and the SDK by
cumulative and by own time. The numbers in the README's profile come from here.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.stacks import DIMENSIONS, write  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_stack", description=__doc__.splitlines()[0])
    parser.add_argument("--dimension", choices=sorted(DIMENSIONS), default="workloads")
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--save", type=Path, help="also write the raw profile (pstats) here")
    args = parser.parse_args(argv)

    from planner.engine import PROJECT_ROOT as ROOT
    from planner.engine import run_program
    from planner.stack_file import load_stack_config

    with tempfile.TemporaryDirectory(prefix="profile-stack-") as temp:
        config, secret_keys = load_stack_config(write(args.dimension, args.size, Path(temp)))

    def run() -> int:
        return len(run_program(ROOT / "__main__.py", config, stack="profile", secret_keys=secret_keys).resources)

    started = time.perf_counter()
    resources = run()
    seconds = time.perf_counter() - started
    print(f"{args.dimension} {args.size}: {resources} resources, stack {seconds:.2f} s unprofiled")
    profile = cProfile.Profile()
    profile.enable()
    run()
    profile.disable()
    if args.save:
        profile.dump_stats(str(args.save))
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
