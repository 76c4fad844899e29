"""``make bench`` / ``python -m bench [NAME ...]``: run benchmarks, print and record their reports.

Each report is written to ``docs/benchmarks/<name>.md`` with the date and the machine it ran on,
so the docs always hold the latest measured figures and nothing that was not measured.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import bench

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks"


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {', '.join(available())})")
    parser.add_argument("--no-record", action="store_true", help="print only; leave docs/benchmarks alone")
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    DOCS.mkdir(parents=True, exist_ok=True)
    for name in names:
        print(f"== bench/{name}.py", flush=True)
        report = importlib.import_module(f"bench.{name}").run()
        stamped = f"# Benchmark: {name}\n\nMeasured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.\n\n{report}\n"
        print(stamped, flush=True)
        if not args.no_record:
            (DOCS / f"{name}.md").write_text(stamped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
