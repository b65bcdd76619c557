"""The bench's scenarios. Each sets up what it needs for one
implementation ("spirelet" or "spire"), measures one or more rows, and
tears everything down; a row it cannot measure gets the reason instead
(NotRunnable for the whole scenario, Missing for one row). Nothing here
returns a made-up or zero value.

The method, which doc/performance.md explains:
- agent rows: both agents attest to the same server (spire-server by
  default, --agent-server), so only the agent differs;
- server rows: both servers are driven by the same Go load tool
  (bench/load), acting as agents; the idle server has a real
  spire-agent attached;
- Workload API rows: the same Go client (grpc-go, go-spiffe's stubs) for
  both agents.
"""
import os
import re
import shutil
import subprocess
import time

from peers import Agent, Fleet, NotRunnable, Server, SpireletGateway
from procs import Failed, idle_cost, wait_for

IMPLS = ("spirelet", "spire")


class Missing:
    """A row that could not be measured, and why."""

    def __init__(self, why):
        self.why = why

    def __str__(self):
        return self.why


class Row:
    def __init__(self, key, title, unit):
        self.key = key
        self.title = title
        self.unit = unit


class Scenario:
    name = ""
    deterministic = False	# the same every round: measure it once
    needs_agent_server = False

    def __init__(self):
        self.rows = []
        self.notes = {}		# impl -> text printed under the table

    def row(self, key, title, unit):
        self.rows.append(Row(key, title, unit))

    def rounds(self, n):
        return 1 if self.deterministic else n

    def measure(self, ctx, impl):
        """A dict row key -> number or Missing."""
        raise NotImplementedError


# ---- the binaries -----------------------------------------------------

def _stripped_size(path, work):
    dst = os.path.join(work, os.path.basename(path) + ".stripped")
    shutil.copy(path, dst)
    subprocess.run(["strip", dst], check=True)
    size = os.path.getsize(dst)
    os.unlink(dst)
    return size


def _shared_libs(path):
    r = subprocess.run(["ldd", path], capture_output=True, text=True)
    if "not a dynamic executable" in r.stdout + r.stderr:
        return []
    libs = []
    for line in r.stdout.splitlines():
        name = line.split()[0]
        if name.startswith("linux-vdso") or "ld-linux" in name:
            continue
        libs.append(name)
    return libs


class Binaries(Scenario):
    name = "binaries"
    deterministic = True

    def __init__(self):
        super().__init__()
        for role in ("agent", "server"):
            self.row("bin_" + role, "binary, stripped (%s)" % role, "KiB")
        for role in ("agent", "server"):
            self.row("libs_" + role, "shared libraries needed (%s)" % role,
                     "libs")

    def measure(self, ctx, impl):
        if impl == "spire" and not ctx.spire_agent:
            raise NotRunnable(ctx.spire_why)
        out = {}
        notes = []
        for role in ("agent", "server"):
            if impl == "spirelet":
                path = ctx.spirelet	# one binary plays every role
            else:
                path = ctx.spire_agent if role == "agent" else \
                    ctx.spire_server
            out["bin_" + role] = _stripped_size(path, ctx.work) / 1024.0
            libs = _shared_libs(path)
            out["libs_" + role] = float(len(libs))
            notes.append("%s: %s" % (os.path.basename(path),
                                     " ".join(libs) or "static"))
        self.notes[impl] = "; ".join(sorted(set(notes)))
        return out


# ---- the signing floor --------------------------------------------------

_SIGN_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
/* signrate SECONDS [verify]: P-256 signatures (or verifications of one)
 * per second on this thread. */
int main(int argc, char **argv) {
	WC_RNG rng; ecc_key k; unsigned char h[32] = {1}, sig[80];
	word32 n = sizeof(sig); struct timespec a, b; long count = 0;
	double t = 0; int ok, verify = argc > 2 && !strcmp(argv[2], "verify");
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	wc_InitRng(&rng); wc_ecc_init(&k);
	wc_ecc_make_key_ex(&rng, 32, &k, ECC_SECP256R1);
	if (wc_ecc_sign_hash(h, 32, sig, &n, &rng, &k) != 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	while (t < secs) {
		for (int i = 0; i < 100; i++) {
			if (verify) {
				if (wc_ecc_verify_hash(sig, n, h, 32, &ok,
				    &k) != 0 || !ok)
					return 1;
				continue;
			}
			n = sizeof(sig);
			if (wc_ecc_sign_hash(h, 32, sig, &n, &rng, &k) != 0)
				return 1;
		}
		count += 100;
		clock_gettime(CLOCK_MONOTONIC, &b);
		t = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	}
	printf("%f\n", count / t);
	return 0;
}
"""


class RawSign(Scenario):
    """ECDSA P-256 on one thread with the crypto each server signs with:
    wolfSSL for spirelet, Go's crypto/ecdsa for SPIRE. Minting an SVID
    takes at least one signature (the certificate) and one verification
    (the CSR's self-signature, which both servers check), so the floor
    is given both ways."""
    name = "raw_sign"

    def __init__(self):
        super().__init__()
        self.row("raw_sign", "raw ECDSA P-256 signs, 1 thread "
                 "(wolfSSL | Go)", "signs/s")
        self.row("raw_verify", "raw ECDSA P-256 verifies, 1 thread",
                 "verifs/s")
        self.row("raw_floor", "raw sign + verify (one SVID's crypto)",
                 "per s")

    def measure(self, ctx, impl):
        secs = 0.3 if ctx.quick else 1.0
        if impl == "spire":
            s = ctx.load("sign", "-seconds", str(secs))["per_s"]
            v = ctx.load("sign", "-seconds", str(secs), "-verify")["per_s"]
        else:
            s, v = self._wolfssl(ctx, secs, ""), \
                self._wolfssl(ctx, secs, "verify")
        return {"raw_sign": s, "raw_verify": v,
                "raw_floor": 1.0 / (1.0 / s + 1.0 / v)}

    def _wolfssl(self, ctx, secs, mode):
        exe = os.path.join(ctx.work, "signrate")
        if not os.path.exists(exe):
            with open(exe + ".c", "w") as f:
                f.write(_SIGN_C)
            r = subprocess.run(["cc", "-O2", "-o", exe, exe + ".c",
                                "-lwolfssl"], capture_output=True,
                               text=True)
            if r.returncode != 0:
                raise NotRunnable("cannot build the signing loop: " +
                                  r.stderr[-200:])
        r = subprocess.run([exe, str(secs)] + ([mode] if mode else []),
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise NotRunnable("the wolfSSL %s loop failed" % (
                mode or "signing"))
        return float(r.stdout.strip())


# ---- agents ---------------------------------------------------------------

def _settle(ctx):
    time.sleep(ctx.settle)


class AgentIdle(Scenario):
    """An agent with n entries for one workload, which fetched its n
    SVIDs (so they are cached), then left alone: RSS, and with
    idle=True the CPU and wake-ups over the idle window."""
    needs_agent_server = True

    def __init__(self, n, idle=None):
        super().__init__()
        self.n = n
        self.idle = idle
        self.name = "agent_idle_%d" % n
        what = ("%d entries, %d SVIDs cached" % (n, n)) if n else \
            "0 entries"
        self.row("rss_agent_%d" % n, "agent RSS, idle, " + what, "KiB")
        self.row("anon_agent_%d" % n, "  of which anonymous (heap, stacks)",
                 "KiB")
        if idle:
            self.row("idle_cpu_agent", "agent CPU, idle %gs, %d entries" % (
                idle, n), "CPU s")
            self.row("idle_wake_agent", "agent wake-ups, idle %gs, %d "
                     "entries" % (idle, n), "ctx sw")

    def measure(self, ctx, impl):
        srv = ctx.agent_server()
        tok = srv.token()
        ids = srv.entries(srv.agent_id(tok), self.n, tag="i%d" % self.n)
        time.sleep(srv.lag)	# until the server serves the new entries
        ag = Agent(ctx, impl, srv, ctx.fresh("agent"), tok)
        try:
            t0 = ag.start()
            if self.n:
                ag.first_svid(t0, want=self.n, timeout=120)
            else:
                wait_for(lambda: _agent_attested(ctx, srv, tok), 60,
                         "the agent attested", ag.proc, every=0.1)
            _settle(ctx)
            out = {"rss_agent_%d" % self.n: float(ag.proc.rss_kib()),
                   "anon_agent_%d" % self.n: float(ag.proc.anon_kib())}
            self.notes[impl] = "RSS by mapping at %d entries (KiB): %s" % (
                self.n, ag.proc.rss_by_mapping())
            if self.idle:
                (cpu, wake), = idle_cost([ag.proc], self.idle)
                out["idle_cpu_agent"] = cpu
                out["idle_wake_agent"] = float(wake)
            return out
        finally:
            ag.stop()
            srv.delete_entries(ids)


def _agent_attested(ctx, srv, token):
    return srv.agent_id(token) in srv.cli("agent", "list").stdout


class AgentStart(Scenario):
    """Cold start (empty data directory, attestation with a fresh join
    token) and warm restart (same data directory) to the first SVID a
    workload is served; then the Workload API under load from the Go
    client, on the same agent, with one entry for the client."""
    needs_agent_server = True
    name = "agent_start_and_workload_api"

    def __init__(self, clients):
        super().__init__()
        self.clients = clients
        self.row("cold_ms", "cold start to first SVID (attestation incl.)",
                 "ms")
        self.row("warm_ms", "warm restart to first SVID", "ms")
        for kind, call in (("x509", "FetchX509SVID"),
                           ("jwt", "FetchJWTSVID")):
            for c in clients:
                self.row("%s_p50_%d" % (kind, c), "%s p50, %d clients" % (
                    call, c), "us")
                self.row("%s_p99_%d" % (kind, c), "%s p99, %d clients" % (
                    call, c), "us")
                self.row("%s_rate_%d" % (kind, c), "%s throughput, %d "
                         "clients" % (call, c), "calls/s")

    def measure(self, ctx, impl):
        srv = ctx.agent_server()
        tok = srv.token()
        ids = srv.entries(srv.agent_id(tok), 1, tag="s")
        time.sleep(srv.lag)
        ag = Agent(ctx, impl, srv, ctx.fresh("agent"), tok)
        out = {}
        try:
            out["cold_ms"] = ag.first_svid(ag.start())
            # Let it finish what follows start-up (writing its cache),
            # as a restarted service would have.
            _settle(ctx)
            ag.stop()
            out["warm_ms"] = ag.first_svid(ag.start())
            _settle(ctx)
            for kind in ("x509", "jwt"):
                for c in self.clients:
                    r = ag.fetch(kind, c, ctx.wl_seconds, ctx.wl_warmup)
                    for k, v in (("p50", r["p50_us"]), ("p99", r["p99_us"]),
                                 ("rate", r["per_s"])):
                        key = "%s_%s_%d" % (kind, k, c)
                        if r["errors"]:
                            out[key] = Missing("%d of %d calls failed: %s"
                                               % (r["errors"], r["errors"] +
                                                  r["calls"],
                                                  r["first_error"]))
                        else:
                            out[key] = float(v)
            return out
        finally:
            ag.stop()
            srv.delete_entries(ids)


# ---- servers ------------------------------------------------------------

class ServerScale(Scenario):
    """A server with 100 agents (the load tool) holding mTLS connections,
    synced and with an SVID for each of their entries: RSS with 1,000
    and with 10,000 entries; then BatchNewX509SVID, batches of 100, from
    several agents at once."""
    name = "server_scale"

    def __init__(self, agents, sizes, mint_agents):
        super().__init__()
        self.agents = agents
        self.sizes = sizes
        self.mint_agents = mint_agents
        self.row("entry_create", "entries created, BatchCreateEntry of 500",
                 "entries/s")
        for n in sizes:
            self.row("rss_server_%d" % n, "server RSS, %d entries, %d "
                     "agents" % (n, agents), "KiB")
            self.row("anon_server_%d" % n, "  of which anonymous (heap, "
                     "stacks)", "KiB")
        self.row("mint", "BatchNewX509SVID, 100 a batch, %d agents" %
                 mint_agents, "SVIDs/s")
        self.row("mint_p50", "BatchNewX509SVID of 100, p50", "ms")

    def measure(self, ctx, impl):
        # SPIRE limits signing to 500 SVIDs/s per address by default; a
        # policy, not a capacity, so off here (spirelet has no such
        # limit). Attestation limits stay: each agent has an address.
        srv = Server(ctx, impl, ctx.fresh("srv"),
                     spire_extra="ratelimit { signing = false }").start()
        fleet = None
        out = {}
        try:
            fleet = Fleet(ctx, srv, self.agents)
            have = 0
            rates = []
            for n in self.sizes:
                per = (n - have) // self.agents
                r = fleet.cmd("entries %d" % per)
                rates.append(r["per_s"])
                have += per * self.agents
                fleet.cmd("sync")
                _settle(ctx)
                out["rss_server_%d" % n] = float(srv.proc.rss_kib())
                out["anon_server_%d" % n] = float(srv.proc.anon_kib())
                self.notes[impl] = "RSS by mapping at %d entries (KiB): " \
                    "%s" % (n, srv.proc.rss_by_mapping())
            out["entry_create"] = sum(rates) / len(rates)
            # Agents short of a batch of entries get the rest.
            per = have // self.agents
            if per < 100:
                fleet.cmd("entries %d %d" % (100 - per, self.mint_agents))
                fleet.cmd("sync")
            r = fleet.cmd("mint %d %d %d" % (self.mint_agents,
                                              ctx.mint_seconds, 1))
            out["mint"] = r["per_s"]
            out["mint_p50"] = r["batch_p50_ms"]
            return out
        finally:
            if fleet is not None:
                fleet.stop()
            srv.stop()


class EntrySync(Scenario):
    """One agent (the load tool) brought from 0 to n entries through
    SyncAuthorizedEntries (paged past 500), then 100 entries changed
    and the same agent brought up to date: time and bytes on the wire
    (TLS and HTTP/2 included) of each sync."""
    name = "entry_sync"

    def __init__(self, n, changes=100):
        super().__init__()
        self.n = n
        self.changes = changes
        self.row("sync_full_ms", "entry sync 0 -> %d, time" % n, "ms")
        self.row("sync_full_kib", "entry sync 0 -> %d, bytes" % n, "KiB")
        self.row("sync_delta_ms", "entry sync, %d changes of %d, time" % (
            changes, n), "ms")
        self.row("sync_delta_kib", "entry sync, %d changes of %d, bytes" % (
            changes, n), "KiB")

    def measure(self, ctx, impl):
        srv = Server(ctx, impl, ctx.fresh("srv")).start()
        fleet = None
        try:
            fleet = Fleet(ctx, srv, 1)
            fleet.cmd("entries %d" % self.n)
            full = fleet.cmd("fullsync 0")
            fleet.cmd("change 0 %d" % self.changes)
            delta = fleet.cmd("deltasync 0 %d" % self.changes)
            if full["entries"] != self.n:
                raise Failed("full sync brought %d of %d entries" % (
                    full["entries"], self.n))
            return {
                "sync_full_ms": full["s"] * 1e3,
                "sync_full_kib": (full["bytes_in"] + full["bytes_out"]) /
                1024.0,
                "sync_delta_ms": delta["s"] * 1e3,
                "sync_delta_kib": (delta["bytes_in"] + delta["bytes_out"]) /
                1024.0,
            }
        finally:
            if fleet is not None:
                fleet.stop()
            srv.stop()


class ServerIdle(Scenario):
    """A server with n entries and one real agent attached (spire-agent
    by default, syncing every 5 s as it does out of the box), which
    fetched its n SVIDs; CPU and wake-ups of the server over the idle
    window."""
    name = "server_idle"

    def __init__(self, n, window):
        super().__init__()
        self.n = n
        self.window = window
        self.row("idle_cpu_server", "server CPU, idle %gs, %d entries, "
                 "1 agent" % (window, n), "CPU s")
        self.row("idle_wake_server", "server wake-ups, idle %gs, %d "
                 "entries, 1 agent" % (window, n), "ctx sw")

    def measure(self, ctx, impl):
        srv = Server(ctx, impl, ctx.fresh("srv")).start()
        ag = None
        try:
            tok = srv.token()
            # No wait for the server's entry cache: the agent simply
            # gets the entries a sync later, and the window starts
            # only once it was served every SVID.
            srv.entries(srv.agent_id(tok), self.n, tag="idle")
            ag = Agent(ctx, ctx.constant_agent, srv, ctx.fresh("agent"), tok)
            ag.first_svid(ag.start(), want=self.n, timeout=120)
            _settle(ctx)
            (cpu, wake), = idle_cost([srv.proc], self.window)
            return {"idle_cpu_server": cpu, "idle_wake_server": float(wake)}
        finally:
            if ag is not None:
                ag.stop()
            srv.stop()


class Gateway(Scenario):
    """The nested (gateway) process under a real spire-server (the
    parent, started here, the same for both), idle and then with n
    entries and a agents: fake agents (the load tool) attested to the
    gateway, holding their mTLS connections, synced and with an SVID for
    each of their entries, as in ServerScale.

    spirelet: `spirelet run` as one process (server with UpstreamAuthority
    "spire", its own agent, the link to the parent); its VmRSS.
    SPIRE: a nested spire-server with UpstreamAuthority "spire" and the
    spire-agent on the host attested to the parent that hands it its
    downstream SVID over the Workload API; the two RSS summed, since
    spirelet's figure covers both jobs."""
    name = "gateway"

    def __init__(self, entries, agents, ca_ttl="12h"):
        super().__init__()
        self.n = entries
        self.agents = agents
        self.ca_ttl = ca_ttl
        self.row("rss_gateway_idle", "gateway RSS, idle under a spire-server "
                 "(*)", "KiB")
        self.row("rss_gateway_%d" % entries, "gateway RSS, %d entries, %d "
                 "agents (*)" % (entries, agents), "KiB")
        self.row("anon_gateway_%d" % entries, "  of which anonymous (heap, "
                 "stacks)", "KiB")

    def measure(self, ctx, impl):
        if impl == "spirelet" and not ctx.spirelet_has("run"):
            raise NotRunnable("this spirelet has no `spirelet run`")
        # The parent reloads its entry cache every second, so the
        # downstream entry reaches the link soon after it is made.
        parent = Server(ctx, "spire", ctx.fresh("gwroot"), spire_extra=
                        'experimental { cache_reload_interval = "1s" }')
        gw = fleet = link = None
        try:
            parent.start()
            if impl == "spirelet":
                gw = SpireletGateway(ctx, parent, ctx.fresh("gw"),
                                     self.ca_ttl)
                gw.start()
                procs_ = [gw.proc]
            else:
                tok = parent.token()
                parent.entries_downstream(parent.agent_id(tok), "nested")
                link = Agent(ctx, "spire", parent, ctx.fresh("gwlink"), tok)
                # The nested server starts once its agent serves the
                # downstream SVID, as a host's init order would have it.
                link.first_svid(link.start(), timeout=60 + parent.lag)
                gw = Server(ctx, "spire", ctx.fresh("gw"), spire_extra=
                            'ca_ttl = "%s"\n    ratelimit { signing = '
                            'false }' % self.ca_ttl, spire_plugins=
                            'UpstreamAuthority "spire" { plugin_data { '
                            'server_address = "127.0.0.1" server_port = '
                            '"%d" workload_api_socket = "%s" } }' % (
                                parent.port, link.socket))
                gw.start()
                procs_ = [gw.proc, link.proc]
            _nested_check(parent, gw)
            _settle(ctx)
            out = {"rss_gateway_idle": float(sum(p.rss_kib()
                                                 for p in procs_))}
            fleet = Fleet(ctx, gw, self.agents)
            fleet.cmd("entries %d" % (self.n // self.agents))
            fleet.cmd("sync")
            _settle(ctx)
            rss = [p.rss_kib() for p in procs_]
            out["rss_gateway_%d" % self.n] = float(sum(rss))
            out["anon_gateway_%d" % self.n] = float(sum(p.anon_kib()
                                                        for p in procs_))
            if impl == "spirelet":
                self.notes[impl] = "(*) one process, `spirelet run`: " \
                    "server, its agent, the link to the parent; by " \
                    "mapping (KiB): %s" % gw.proc.rss_by_mapping()
            else:
                self.notes[impl] = "(*) nested spire-server + the host's " \
                    "spire-agent that supplies its downstream SVID: " \
                    "%d + %d KiB loaded; the server by mapping (KiB): " \
                    "%s" % (rss[0], rss[1], gw.proc.rss_by_mapping())
            return out
        finally:
            if fleet is not None:
                fleet.stop()
            for p in (gw, link, parent):
                if p is not None:
                    p.stop()


def _certs(pem):
    return set(re.findall(r"-----BEGIN CERTIFICATE-----.*?"
                          r"-----END CERTIFICATE-----", pem, re.S))


def _nested_check(parent, gw):
    """A nested server serves its parent's roots as its bundle: anything
    else means it signs under a root of its own, and is no gateway."""
    mine, theirs = _certs(gw.bundle_pem()), _certs(parent.bundle_pem())
    if not theirs or mine != theirs:
        raise Failed("the nested server's bundle is not the parent's "
                     "roots (%d certificates against %d)" % (len(mine),
                                                             len(theirs)))


def all_scenarios(quick, idle_window):
    """The scenarios in run order: the agents' first (they share one
    server, stopped before the servers' scenarios start)."""
    if quick:
        return [
            Binaries(), RawSign(),
            AgentIdle(0), AgentIdle(100, idle=idle_window),
            AgentStart((1, 16)),
            ServerScale(100, (1000,), 4),
            EntrySync(1000),
            ServerIdle(100, idle_window),
            Gateway(100, 10),
        ]
    return [
        Binaries(), RawSign(),
        AgentIdle(0), AgentIdle(100, idle=idle_window), AgentIdle(1000),
        AgentStart((1, 16, 64)),
        ServerScale(100, (1000, 10000), 4),
        EntrySync(10000),
        ServerIdle(100, idle_window),
        Gateway(1000, 50),
    ]
