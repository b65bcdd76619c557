#!/usr/bin/python3
"""spirelet and SPIRE v1.13.3 side by side, on this machine, in one run.

    bench/run.py [--quick] [--runs N] [--only NAME[,NAME...]] [--list]

Builds spirelet, uses the cached SPIRE binaries (scripts/build-spire.sh
builds them once, outside the repository), runs every scenario against
both, alternating them within each round, and prints one table:
scenario, unit, spirelet, SPIRE, spirelet/SPIRE. Values are medians over
the rounds; each ratio comes from pairs taken back to back. A scenario
that cannot run says why in place of a number. --quick runs one round of
the cheap sizes, so CI can keep the bench from rotting in under three
minutes.
"""
import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import scenarios  # noqa: E402  (bench/scenarios.py, next to this file)


class Context:
    """What scenarios share: binaries, a scratch directory, the mode."""

    def __init__(self, args):
        self.quick = args.quick
        self.work = tempfile.mkdtemp(prefix="spirelet-bench-", dir="/tmp")
        self.spirelet = None
        self.spire_server = None
        self.spire_agent = None
        self.spire_why = None
        self.build_dir = os.path.join(TOP, "build-bench")

    def cleanup(self):
        shutil.rmtree(self.work, ignore_errors=True)


def build_spirelet(ctx):
    r = subprocess.run(["sh", os.path.join(TOP, "scripts", "build.sh"),
                        ctx.build_dir], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("bench: building spirelet failed:\n" + r.stdout + r.stderr)
    ctx.spirelet = os.path.join(ctx.build_dir, "spirelet")


def find_spire(ctx):
    if shutil.which("go") is None and not os.environ.get("SPIRELET_CACHE"):
        cache = os.path.expanduser("~/.cache/spirelet/spire-v1.13.3/bin")
        if not os.path.exists(os.path.join(cache, "spire-agent")):
            ctx.spire_why = "no Go to build SPIRE v1.13.3"
            return
    r = subprocess.run(["sh", os.path.join(TOP, "scripts", "build-spire.sh")],
                       capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        ctx.spire_why = "building SPIRE failed: " + r.stderr[-300:]
        return
    d = r.stdout.strip().splitlines()[-1]
    ctx.spire_server = os.path.join(d, "spire-server")
    ctx.spire_agent = os.path.join(d, "spire-agent")


def fmt(v):
    if isinstance(v, str):
        return "n/a" if v.startswith("n/a") else v
    if v >= 100:
        return "%.0f" % v
    if v < 0.01:
        return "1/%.0f" % (1 / v) if v > 0 else "0"
    if v >= 10:
        return "%.1f" % v
    return "%.3g" % v


def run_scenario(ctx, sc, rounds):
    """Rounds of (spirelet, SPIRE) pairs, order alternating; returns the
    medians and the median of the per-pair ratios."""
    vals = {"spirelet": [], "spire": []}
    why = {"spirelet": None, "spire": None}
    ratios = []
    for r in range(rounds):
        order = ("spirelet", "spire") if r % 2 == 0 else ("spire", "spirelet")
        got = {}
        for impl in order:
            if why[impl] is not None:
                continue
            if impl == "spire" and ctx.spire_why:
                why[impl] = ctx.spire_why
                continue
            try:
                got[impl] = sc.measure(ctx, impl)
                vals[impl].append(got[impl])
            except scenarios.NotRunnable as e:
                why[impl] = str(e)
        if "spirelet" in got and "spire" in got and got["spire"]:
            ratios.append(got["spirelet"] / got["spire"])
    out = {}
    for impl in ("spirelet", "spire"):
        out[impl] = (statistics.median(vals[impl]) if vals[impl]
                     else "n/a: " + (why[impl] or "no result"))
    out["ratio"] = statistics.median(ratios) if ratios else "-"
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="one round of the cheap sizes (for CI)")
    ap.add_argument("--runs", type=int, default=None,
                    help="rounds per scenario (default 5, 1 with --quick)")
    ap.add_argument("--only", default=None,
                    help="comma-separated scenario names")
    ap.add_argument("--list", action="store_true", help="list scenarios")
    args = ap.parse_args()
    todo = scenarios.all_scenarios(args.quick)
    if args.list:
        for sc in todo:
            print("%-28s %s" % (sc.name, sc.title))
        return 0
    if args.only:
        want = set(args.only.split(","))
        todo = [sc for sc in todo if sc.name in want]
    rounds = args.runs or (1 if args.quick else 5)
    ctx = Context(args)
    started = time.monotonic()
    try:
        build_spirelet(ctx)
        find_spire(ctx)
        rows = []
        for sc in todo:
            res = run_scenario(ctx, sc, sc.rounds(rounds))
            rows.append((sc, res))
            print("  %s done" % sc.name, file=sys.stderr)
    finally:
        scenarios.cleanup_all()
        ctx.cleanup()
    print("spirelet bench, %s, %s, %d CPUs, %d rounds%s" % (
        time.strftime("%Y-%m-%d"), platform.machine(), os.cpu_count(),
        rounds, " (quick)" if args.quick else ""))
    print("%-40s %-10s %16s %16s %10s" % ("scenario", "unit", "spirelet",
                                         "SPIRE", "ratio"))
    for sc, res in rows:
        print("%-40s %-10s %16s %16s %10s" % (
            sc.title, sc.unit, fmt(res["spirelet"]), fmt(res["spire"]),
            fmt(res["ratio"])))
        for impl, label in (("spirelet", "spirelet"), ("spire", "SPIRE")):
            if isinstance(res[impl], str):
                print("    %s %s" % (label, res[impl]))
    print("(%.0f s)" % (time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
