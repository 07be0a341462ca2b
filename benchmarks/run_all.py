"""`make bench`: the quick benchmarks, one after another, each printing its own table.

    python benchmarks/run_all.py [--list] [--only NAME ...]

The million-row benchmarks (dashboard_services, export_weekly at 1M, scale_million, search, customers,
live_refresh, care_workflow, dashboard_browser) seed a large database first and take many minutes; run
them by hand with the commands in their docstrings. Figures depend on the machine: note `cat /proc/loadavg`
with each one (this script prints it before and after).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# (script, arguments): sizes that finish in a minute or two on a laptop
QUICK = [
    ("ingest_parse.py", ["--pages", "100"]),
    ("ingest_api_calls.py", ["--pages", "10"]),
    ("ingest_throughput.py", ["--mentions", "20000"]),
    ("stream_matcher.py", ["--posts", "200000"]),
    ("classify_throughput.py", ["--texts", "2000"]),
    ("export_weekly.py", ["--mentions", "100000"]),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="Print the benchmarks and their arguments.")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="Run only these (e.g. ingest_parse).")
    args = parser.parse_args()
    chosen = [(s, a) for s, a in QUICK if not args.only or Path(s).stem in args.only]
    if args.list:
        for script, extra in chosen:
            print(f"python benchmarks/{script} {' '.join(extra)}")
        return 0
    failed = []
    for script, extra in chosen:
        missing = not (HERE / script).is_file()
        if missing:
            print(f"== {script}: missing", flush=True)
            failed.append(script)
            continue
        print(f"== {script} {' '.join(extra)} (load {Path('/proc/loadavg').read_text().split()[0]})", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(HERE / script), *extra])
        print(f"== {script}: {'ok' if code == 0 else f'FAILED ({code})'} in {time.monotonic() - started:.0f} s",
              flush=True)
        if code:
            failed.append(script)
    if failed:
        print(f"{len(failed)} benchmark(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
