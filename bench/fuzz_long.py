"""The long structure-aware fuzz run: 1,000,000 cases or 2 hours, across every registered codec.

    .venv/bin/python -m bench.fuzz_long [--part-seconds 600] [--fresh]

Runs `codec.fuzz` (seeds: the codecs' golden files under tests/) in parts of `--part-seconds`;
each part continues from the case the last one stopped at (cases are numbered and seeded by their
number), adding to the counts in bench/results/fuzz_long.json, until the case or time target is
reached. Targets: 0 exceptions reaching the codec boundary's catch-all, 0 cases over 10 s, peak
RSS under 2 GiB (the run holds an address-space rlimit of what it maps plus 1.5 GiB).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from bench.common import RESULTS, ROOT, provenance, write_result
from codec import api
from codec.fuzz import Tally, find_seeds, fuzz, limit_memory, peak_rss_bytes

OUT = RESULTS / "fuzz_long.json"
MEASURED = ("codec", "bench/fuzz_long.py")


def _tally(d: dict) -> Tally:
    return Tally(
        cases=d["cases"],
        seconds=d["seconds"],
        outcomes=Counter(d["outcomes"]),
        mutations=Counter(d["mutations"]),
        failures=d["failures"],
        slowest_s=d["slowest_s"],
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-cases", type=int, default=1_000_000)
    ap.add_argument("--max-hours", type=float, default=2.0)
    ap.add_argument("--part-seconds", type=float, default=600.0)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--fresh", action="store_true", help="start over instead of continuing --out")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    state = {} if args.fresh or not args.out.exists() else json.loads(args.out.read_text())
    tallies = {name: _tally(t) for name, t in state.get("codecs", {}).items()}
    start, elapsed = state.get("next_case", 0), state.get("seconds", 0.0)
    parts = state.get("parts", [])
    seeds = find_seeds([ROOT / "tests"], api.load_codecs())
    limit = limit_memory(int(1.5 * (1 << 30)))
    budget = min(args.part_seconds, args.max_hours * 3600 - elapsed)
    t0 = time.monotonic()
    tallies, next_case = fuzz(seeds, budget, max(0, args.max_cases - start), start=start, tallies=tallies)
    part_s = time.monotonic() - t0
    parts.append(
        {
            "first_case": start,
            "cases": next_case - start,
            "seconds": part_s,
            "provenance": provenance(MEASURED),
        }
    )
    total_cases = sum(t.cases for t in tallies.values())
    seconds = elapsed + part_s
    done = next_case >= args.max_cases or seconds >= args.max_hours * 3600 - 1
    result = {
        "targets": {
            "cases": args.max_cases,
            "hours": args.max_hours,
            "catch_all": 0,
            "hangs_over_10s": 0,
            "peak_rss_gib": 2,
        },  # fmt: skip
        "finished": done,
        "next_case": next_case,
        "seconds": seconds,
        "cases": total_cases,
        "cases_per_second": total_cases / max(seconds, 1e-9),
        "failed": sum(t.failed for t in tallies.values()),
        "peak_rss_bytes": max(peak_rss_bytes(), state.get("peak_rss_bytes", 0)),
        "address_space_limit_bytes": limit,
        "without_seeds": sorted(n for n, files in seeds.items() if not files),
        "codecs": {name: t.to_dict() for name, t in tallies.items()},
        "parts": parts,
    }
    write_result(args.out, result, provenance(MEASURED))
    rate, rss = result["cases_per_second"], result["peak_rss_bytes"] / 2**30
    more = "finished" if done else "continue with the same command"
    failed = result["failed"]
    print(f"{total_cases} cases in {seconds:.0f} s ({rate:.0f}/s), {failed} failed, peak RSS {rss:.2f} GiB")
    print(more)
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
