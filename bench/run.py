#!/usr/bin/python3
"""spirelet and SPIRE v1.13.3 side by side, on this machine, in one run.

    bench/run.py [--quick] [--runs N] [--only NAME[,NAME...]] [--list]
                 [--idle-window S] [--agent-server spire|spirelet]
                 [--build-dir DIR] [--json FILE]

Builds spirelet, uses the cached SPIRE binaries (scripts/build-spire.sh
builds them once, outside the repository), builds the Go load tool
(bench/load, into the same cache), runs every scenario against both,
alternating which goes first in each round, and prints one table:
scenario, unit, spirelet, SPIRE, spirelet/SPIRE. Values are medians over
the rounds; each ratio is the median of ratios of pairs taken back to
back in the same round. A scenario that cannot run says why in place of
a number. Then where spirelet stands against its aims and budgets.

--quick runs one round of smaller sizes (under three minutes on two
cores), so CI keeps the bench from rotting. The exit status is 0 when
the bench ran, whatever it measured; 1 only when the bench itself is
broken (a bug here, the load tool not compiling or misused).
"""
import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import peers  # noqa: E402  (bench/*.py, next to this file)
import procs  # noqa: E402
import scenarios  # noqa: E402
from peers import NotRunnable  # noqa: E402
from procs import Failed  # noqa: E402


class BenchBroken(Exception):
    """The bench itself is broken: exit 1."""


class Context:
    """What scenarios share: binaries, scratch directories, settings, and
    the server every agent scenario attests to."""

    def __init__(self, args):
        self.quick = args.quick
        self.work = tempfile.mkdtemp(prefix="spirelet-bench-", dir="/tmp")
        # Unix socket paths must fit sun_path (108 bytes).
        self.sockdir = tempfile.mkdtemp(prefix="sb-", dir="/tmp")
        self.build_dir = os.path.abspath(args.build_dir)
        self.spirelet = None
        self.spire_server = None
        self.spire_agent = None
        self.spire_why = None
        self.benchload = None
        self.benchload_why = None
        self.settle = 1.0 if args.quick else 2.0
        self.idle_window = args.idle_window
        self.wl_seconds = 1.0 if args.quick else 3.0
        self.wl_warmup = 0.3 if args.quick else 1.0
        self.mint_seconds = 2 if args.quick else 5
        self.agent_server_kind = args.agent_server
        self._agent_server = None
        self.constant_agent = "spire"
        self.seq = 0

    def fresh(self, prefix):
        self.seq += 1
        return "%s%d" % (prefix, self.seq)

    def mkdir(self, name):
        d = os.path.join(self.work, name)
        os.makedirs(d, exist_ok=True)
        return d

    def agent_server(self):
        """The one server all agent scenarios attest to, started on first
        use. spire-server reloads its entry cache every second here (5 s
        by default) so new entries reach agents sooner."""
        if self._agent_server is None:
            self._agent_server = peers.Server(
                self, self.agent_server_kind, "asrv",
                spire_extra='experimental { cache_reload_interval = "1s" }'
            ).start()
        return self._agent_server

    def keep(self):
        s = self._agent_server
        return (s.proc,) if s is not None and s.proc is not None else ()

    def release_agent_server(self):
        if self._agent_server is not None:
            self._agent_server.stop()
            self._agent_server = None

    def load(self, *args, timeout=120, proc=None):
        """Runs benchload; returns its JSON answer."""
        if self.benchload is None:
            raise NotRunnable(self.benchload_why)
        try:
            r = subprocess.run([self.benchload] + list(args),
                               capture_output=True, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failed("benchload %s: no answer in %d s" % (args[0],
                                                              timeout))
        if r.returncode == 2:
            raise BenchBroken("benchload %s misused: %s" % (
                " ".join(args), r.stderr[-500:]))
        lines = r.stdout.strip().splitlines()
        v = json.loads(lines[-1]) if lines else {
            "error": "no output: " + r.stderr[-500:]}
        if r.returncode != 0 or "error" in v:
            tail = ""
            if proc is not None:
                tail = "\n" + proc.output(1500)
            raise Failed("benchload %s: %s%s" % (args[0], v.get(
                "error", r.stderr[-500:]), tail))
        return v

    def spirelet_has(self, command):
        r = subprocess.run([self.spirelet, "help"], capture_output=True,
                           text=True)
        return any(line.split()[:1] == [command]
                   for line in (r.stdout + r.stderr).splitlines())

    def cleanup(self):
        self.release_agent_server()
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.rmtree(self.sockdir, ignore_errors=True)


def build_spirelet(ctx):
    r = subprocess.run(["sh", os.path.join(TOP, "scripts", "build.sh"),
                        ctx.build_dir], capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchBroken("building spirelet failed:\n" + r.stdout +
                          r.stderr)
    ctx.spirelet = os.path.join(ctx.build_dir, "spirelet")
    try:
        with open(os.path.join(ctx.build_dir, "config.h")) as f:
            if "#define SPIRELET_SANITIZERS 1" in f.read():
                raise BenchBroken("%s is a sanitizer build: its memory "
                                  "and speed mean nothing" % ctx.build_dir)
    except OSError:
        pass


def find_spire(ctx):
    cached = os.path.join(peers.CACHE, "spire-v1.13.3", "bin")
    if shutil.which("go") is None and not os.path.exists(
            os.path.join(cached, "spire-agent")):
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


def find_load(ctx):
    try:
        ctx.benchload = peers.build_load(ctx)
    except NotRunnable as e:
        if shutil.which("go") is not None:
            raise BenchBroken(str(e))
        ctx.benchload_why = str(e)


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def run_scenario(ctx, sc, rounds, log):
    """Rounds of (spirelet, SPIRE) pairs, the order alternating; returns
    per row the medians, the median of the per-round ratios, and why a
    value is missing."""
    keys = [r.key for r in sc.rows]
    vals = {i: {k: [] for k in keys} for i in scenarios.IMPLS}
    absent = {i: {} for i in scenarios.IMPLS}	# key -> reason
    why = {i: None for i in scenarios.IMPLS}	# NotRunnable: stop trying
    failed = {i: [] for i in scenarios.IMPLS}
    ratios = {k: [] for k in keys}
    raw = []
    for rnd in range(rounds):
        order = scenarios.IMPLS if rnd % 2 == 0 else \
            tuple(reversed(scenarios.IMPLS))
        got = {}
        for impl in order:
            if why[impl] is not None:
                continue
            t0 = time.monotonic()
            try:
                got[impl] = sc.measure(ctx, impl)
            except NotRunnable as e:
                why[impl] = str(e)
            except Failed as e:
                failed[impl].append(str(e))
            finally:
                procs.stop_all(keep=ctx.keep())
            log("  %s round %d %s: %.1f s%s" % (
                sc.name, rnd + 1, impl, time.monotonic() - t0,
                "" if impl in got else " (%s)" % (
                    why[impl] or "failed: " +
                    failed[impl][-1].splitlines()[0])))
        for impl, res in got.items():
            for k in keys:
                v = res.get(k, scenarios.Missing("not measured"))
                if is_num(v):
                    vals[impl][k].append(float(v))
                else:
                    absent[impl][k] = str(v)
        if "spirelet" in got and "spire" in got:
            for k in keys:
                a, b = got["spirelet"].get(k), got["spire"].get(k)
                if is_num(a) and is_num(b) and b != 0:
                    ratios[k].append(a / b)
        raw.append({i: {k: (v if is_num(v) else str(v))
                        for k, v in res.items()}
                    for i, res in got.items()})
    out = {}
    for k in keys:
        cell = {}
        for impl in scenarios.IMPLS:
            if vals[impl][k]:
                cell[impl] = statistics.median(vals[impl][k])
                if failed[impl]:
                    cell[impl + "_note"] = "%d of %d rounds failed: %s" % (
                        len(failed[impl]), rounds,
                        failed[impl][0].splitlines()[0])
            elif why[impl]:
                cell[impl] = scenarios.Missing(why[impl])
            elif failed[impl]:
                cell[impl] = scenarios.Missing("failed: " + failed[impl][0])
            else:
                cell[impl] = scenarios.Missing(absent[impl].get(
                    k, "no result"))
        cell["ratio"] = statistics.median(ratios[k]) if ratios[k] else None
        cell["n"] = {i: len(vals[i][k]) for i in scenarios.IMPLS}
        out[k] = cell
    return out, raw


def fmt(v):
    if isinstance(v, scenarios.Missing):
        return "n/a"
    if v is None:
        return "-"
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.3g" % v


def fmt_ratio(r):
    if r is None:
        return "-"
    if r == 0:
        return "0"
    if r < 0.1:
        return "1/%.0f" % (1 / r)
    return "%.2f" % r


def machine():
    info = {"arch": platform.machine(), "cpus": os.cpu_count()}
    try:
        r = subprocess.run(["lscpu"], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("Model name", "Hypervisor vendor",
                             "Thread(s) per core", "L2 cache", "L3 cache"):
                info[k.strip()] = v.strip()
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                info["memory"] = "%.1f GiB" % (int(line.split()[1]) /
                                               1048576)
    info["kernel"] = platform.release()
    return info


def versions(ctx):
    v = {}
    r = subprocess.run(["git", "-C", TOP, "describe", "--always", "--dirty"],
                       capture_output=True, text=True)
    v["spirelet"] = r.stdout.strip() or "?"
    if ctx.spire_server:
        r = subprocess.run([ctx.spire_server, "--version"],
                           capture_output=True, text=True)
        v["SPIRE"] = (r.stdout + r.stderr).strip()
    r = subprocess.run(["go", "version"], capture_output=True, text=True) \
        if shutil.which("go") else None
    if r is not None:
        v["go"] = r.stdout.strip()
    return v


# Where the product aims and the budgets the server and agent issues set
# (doc/performance.md); reported, never used to tune anything.
def _ratio(res, key):
    c = res.get(key)
    return c["ratio"] if c else None


def _val(res, key, impl="spirelet"):
    c = res.get(key)
    if c is None or not is_num(c.get(impl)):
        return None
    return c[impl]


def standing(res):
    lines = []

    def line(what, got, ok, shown):
        if got is None:
            lines.append("  %-58s not measured" % what)
        else:
            lines.append("  %-58s %-16s %s" % (what, shown,
                                               "meets" if ok else "misses"))

    def worst_ratio(prefix):
        rs = [(c["ratio"], k) for k, c in res.items()
              if k.startswith(prefix) and c["ratio"] is not None]
        return max(rs) if rs else (None, None)

    r, k = worst_ratio("rss_agent_")
    line("agent RSS at most 1/10 of spire-agent's (worst case)", r,
         r is not None and r <= 0.1, "%s (%s)" % (fmt_ratio(r), k))
    r = _ratio(res, "bin_agent")
    line("binary at most 1/40 of spire-agent's", r,
         r is not None and r <= 1 / 40.0, fmt_ratio(r))
    for kind in ("x509", "jwt"):
        r, k = worst_ratio(kind + "_p99_")
        line("%s Workload API p99 at most 1/5 of spire-agent's (worst)" %
             kind.upper(), r, r is not None and r <= 0.2,
             "%s (%s)" % (fmt_ratio(r), k))
    m, s = _val(res, "mint"), _val(res, "raw_sign")
    f = m / s if m is not None and s else None
    ms, ss = _val(res, "mint", "spire"), _val(res, "raw_sign", "spire")
    line("minting at least 70% of the raw signing rate", f,
         f is not None and f >= 0.7, "%.0f%%" % (100 * f) if f else "-")
    if ms is not None and ss:
        lines.append("  %-58s %.0f%% (of Go's)" % (
            "  (SPIRE's minting against its own raw signing rate)",
            100 * ms / ss))
    for impl, label in (("spirelet", "spirelet"), ("spire", "SPIRE")):
        m, fl = _val(res, "mint", impl), _val(res, "raw_floor", impl)
        if m is not None and fl:
            lines.append("  %-58s %.0f%%" % (
                "  (%s's minting against sign + verify per SVID)" % label,
                100 * m / fl))
    lines.append("Budgets (server and agent issues), spirelet:")
    v = _val(res, "rss_server_10000")
    line("server RSS, 10,000 entries, 100 agents, under 12 MiB", v,
         v is not None and v < 12 * 1024,
         "%.1f MiB" % (v / 1024) if v else "-")
    v = _val(res, "rss_agent_100")
    line("agent RSS under 4 MiB, 100 entries, 100 SVIDs cached", v,
         v is not None and v < 4 * 1024,
         "%.1f MiB" % (v / 1024) if v else "-")
    v = _val(res, "rss_gateway_1000")
    line("gateway RSS under 8 MiB, 1,000 entries, 50 agents", v,
         v is not None and v < 8 * 1024,
         "%.1f MiB" % (v / 1024) if v else "-")
    v = _val(res, "warm_ms")
    line("first SVID within 50 ms of a warm restart", v,
         v is not None and v <= 50, "%.1f ms" % v if v else "-")
    v = _val(res, "x509_p99_64")
    line("FetchX509SVID p99 under 1 ms with 64 clients", v,
         v is not None and v < 1000, "%.0f us" % v if v else "-")
    line("BatchNewX509SVID at least 70% of raw signing", f,
         f is not None and f >= 0.7, "%.0f%%" % (100 * f) if f else "-")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="one round of smaller sizes (for CI)")
    ap.add_argument("--runs", type=int, default=None,
                    help="rounds per scenario (default 5, 1 with --quick)")
    ap.add_argument("--only", default=None,
                    help="comma-separated scenario names (see --list)")
    ap.add_argument("--idle-window", type=float, default=None,
                    help="seconds of each idle measurement (default 20, "
                    "3 with --quick)")
    ap.add_argument("--agent-server", choices=("spire", "spirelet"),
                    default="spire",
                    help="the server both agents attest to (default "
                    "spire-server)")
    ap.add_argument("--build-dir", default=os.path.join(TOP, "build-bench"),
                    help="where to build spirelet (default build-bench/)")
    ap.add_argument("--json", default=None,
                    help="also write every round's values to this file")
    ap.add_argument("--list", action="store_true", help="list scenarios")
    args = ap.parse_args()
    if args.idle_window is None:
        args.idle_window = 3.0 if args.quick else 20.0
    todo = scenarios.all_scenarios(args.quick, args.idle_window)
    if args.list:
        for sc in todo:
            print("%-30s %s" % (sc.name, ", ".join(r.key for r in sc.rows)))
        return 0
    if args.only:
        want = set(args.only.split(","))
        unknown = want - {sc.name for sc in todo}
        if unknown:
            ap.error("unknown scenario(s): " + ", ".join(sorted(unknown)))
        todo = [sc for sc in todo if sc.name in want]
    rounds = args.runs or (1 if args.quick else 5)
    # A SIGTERM (a CI timeout) unwinds like an exception, so the finally
    # below stops every process and removes the scratch directories.
    signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(128 + sig))
    ctx = Context(args)
    started = time.monotonic()

    def log(msg):
        print("[%5.0fs] %s" % (time.monotonic() - started, msg),
              file=sys.stderr, flush=True)
    rows = []
    raw = {}
    try:
        build_spirelet(ctx)
        find_spire(ctx)
        if ctx.spire_why:
            log("SPIRE: " + ctx.spire_why)
            ctx.constant_agent = "spirelet"
            if args.agent_server == "spire":
                ctx.agent_server_kind = "spirelet"
        find_load(ctx)
        log("built (spirelet, SPIRE, benchload)")
        for sc in todo:
            if not sc.needs_agent_server:
                ctx.release_agent_server()
            res, raw[sc.name] = run_scenario(ctx, sc, sc.rounds(rounds), log)
            rows.append((sc, res))
    except BenchBroken as e:
        print("bench: broken: %s" % e, file=sys.stderr)
        return 1
    finally:
        procs.stop_all()
        ctx.cleanup()
    elapsed = time.monotonic() - started
    m = machine()
    ver = versions(ctx)
    print("spirelet bench, %s, %d rounds%s, %.0f s" % (
        time.strftime("%Y-%m-%d %H:%M"), rounds,
        " (quick)" if args.quick else "", elapsed))
    print("machine: " + ", ".join("%s %s" % (k, v) for k, v in m.items()))
    print("versions: " + "; ".join("%s %s" % kv for kv in ver.items()))
    print("agents attest to %s; idle server has %s attached" % (
        "spire-server" if ctx.agent_server_kind == "spire"
        else "spirelet's server",
        "spire-agent" if ctx.constant_agent == "spire"
        else "spirelet's agent"))
    print()
    print("%-50s %-9s %11s %11s %8s" % ("scenario", "unit", "spirelet",
                                        "SPIRE", "ratio"))
    for sc, res in rows:
        for row in sc.rows:
            c = res[row.key]
            print("%-50s %-9s %11s %11s %8s" % (
                row.title, row.unit, fmt(c["spirelet"]), fmt(c["spire"]),
                fmt_ratio(c["ratio"])))
            for impl, label in (("spirelet", "spirelet"),
                                ("spire", "SPIRE")):
                if isinstance(c[impl], scenarios.Missing):
                    print("    %s: %s" % (label, " ".join(
                        str(c[impl]).split())[:300]))
                elif c.get(impl + "_note"):
                    print("    %s: %s" % (label, c[impl + "_note"][:300]))
        for impl, note in sc.notes.items():
            print("    %s: %s" % ("spirelet" if impl == "spirelet"
                                  else "SPIRE", note))
    print()
    print("Aims (ratios are spirelet/SPIRE):")
    for line in standing(dict(kv for _, res in rows for kv in res.items())):
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": m, "versions": ver, "rounds": rounds,
                       "quick": args.quick, "seconds": elapsed,
                       "idle_window": args.idle_window, "raw": raw},
                      f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
