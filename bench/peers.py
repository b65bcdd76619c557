"""The processes a scenario measures: spirelet's or SPIRE's server and
agent, each on loopback with a configuration written for the run, and
benchload, the Go client both are measured with.

    srv = Server(ctx, "spire", "srv").start()
    tok = srv.token()
    srv.entries(srv.agent_id(tok), 100)
    ag = Agent(ctx, "spirelet", srv, "ag", tok)
    t0 = ag.start()
"""
import hashlib
import json
import os
import re
import select
import shutil
import socket
import subprocess
import time

from procs import Failed, Proc, wait_for

TD = "example.org"
HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("SPIRELET_CACHE", os.path.join(
    os.environ.get("HOME", "/root"), ".cache", "spirelet"))


class NotRunnable(Exception):
    """The scenario cannot run for this implementation; str() says why."""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(argv, timeout=120, check=True, **kw):
    try:
        r = subprocess.run([str(a) for a in argv], capture_output=True,
                           text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise Failed("%s: no answer in %d s" % (
            " ".join(map(str, argv[:3])), timeout))
    if check and r.returncode != 0:
        raise Failed("%s failed (%d): %s" % (
            " ".join(map(str, argv[:3])), r.returncode,
            (r.stderr or r.stdout)[-600:]))
    return r


def spire_cli(ctx):
    """spire-server's CLI administers either server (spirelet's admin
    socket speaks the same API); without SPIRE, spirelet's own CLI."""
    if ctx.spire_server:
        return [ctx.spire_server]
    return [ctx.spirelet, "server"]


class Server:
    """spirelet's server or spire-server with a fresh data directory,
    the join_token node attestor and a disk key manager."""

    def __init__(self, ctx, impl, name, spire_extra="", spire_plugins=""):
        if impl == "spire" and not ctx.spire_server:
            raise NotRunnable(ctx.spire_why)
        self.ctx = ctx
        self.impl = impl
        self.name = name
        self.dir = ctx.mkdir(name)
        self.admin = os.path.join(ctx.sockdir, name + ".sock")
        self.port = free_port()
        self.proc = None
        # How long an entry change can take to reach SyncAuthorized-
        # Entries: spire-server serves it from a cache reloaded on a
        # timer (5 s by default); spirelet reads its datastore.
        self.lag = 0.0
        common = """    bind_address = "127.0.0.1"
    bind_port = "%d"
    socket_path = "%s"
    trust_domain = "%s"
    data_dir = "%s/data"
    log_level = "INFO"
""" % (self.port, self.admin, TD, self.dir)
        km = ('KeyManager "disk" { plugin_data { keys_path = '
              '"%s/data/keys.json" } }' % self.dir)
        if impl == "spirelet":
            conf = """server {
%s}
plugins {
    %s
    NodeAttestor "join_token" { plugin_data {} }
}
""" % (common, km)
            self.argv = [ctx.spirelet, "server", "run"]
        else:
            m = re.search(r'cache_reload_interval = "(\d+)s"', spire_extra)
            self.lag = 2 * (int(m.group(1)) if m else 5) + 0.5
            conf = """server {
%s    %s
}
plugins {
    DataStore "sql" {
        plugin_data {
            database_type = "sqlite3"
            connection_string = "%s/data/datastore.sqlite3"
        }
    }
    %s
    NodeAttestor "join_token" { plugin_data {} }
    %s
}
""" % (common, spire_extra, self.dir, km, spire_plugins)
            self.argv = [ctx.spire_server, "run"]
        self.conf = os.path.join(self.dir, "server.conf")
        with open(self.conf, "w") as f:
            f.write(conf)

    def start(self):
        self.proc = Proc(self.argv + ["-config", self.conf],
                         os.path.join(self.dir, "server.log"))
        wait_for(self.healthy, 60, "%s server healthy" % self.impl,
                 self.proc, every=0.05)
        return self

    def healthy(self):
        if self.impl == "spirelet":
            argv = [self.ctx.spirelet, "server", "healthcheck"]
        else:
            argv = [self.ctx.spire_server, "healthcheck"]
        return run(argv + ["-socketPath", self.admin], check=False,
                   timeout=20).returncode == 0

    def stop(self):
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def cli(self, *args, timeout=300):
        return run(spire_cli(self.ctx) + list(args) +
                   ["-socketPath", self.admin], timeout=timeout)

    def token(self, ttl=3600):
        out = self.cli("token", "generate", "-ttl", str(ttl)).stdout
        m = re.search(r"Token: (\S+)", out)
        if not m:
            raise Failed("no token in: " + out)
        return m.group(1)

    @staticmethod
    def agent_id(token):
        return "spiffe://%s/spire/agent/join_token/%s" % (TD, token)

    def bundle_pem(self):
        return self.cli("bundle", "show").stdout

    def entries(self, parent, n, uid=None, tag="w"):
        """Creates n entries under parent, all for workloads of uid (by
        default ours: the bench's client is the workload), in one
        batch; returns their IDs."""
        if n == 0:
            return []
        if uid is None:
            uid = os.getuid()
        path = os.path.join(self.dir, "entries-%s.json" % tag)
        with open(path, "w") as f:
            json.dump({"entries": [{
                "parent_id": parent,
                "spiffe_id": "spiffe://%s/bench/%s/%d" % (TD, tag, i),
                "selectors": [{"type": "unix", "value": "uid:%d" % uid}],
            } for i in range(n)]}, f)
        out = self.cli("entry", "create", "-data", path).stdout
        ids = re.findall(r"Entry ID\s*:\s*(\S+)", out)
        if len(ids) != n:
            raise Failed("entry create -data made %d of %d entries: %s" % (
                len(ids), n, out[-500:]))
        return ids

    def entries_downstream(self, parent, tag):
        """One downstream entry (a nested server's) under parent for
        our uid: the bench starts the nested servers. Returns its ID."""
        out = self.cli("entry", "create", "-parentID", parent,
                       "-spiffeID", "spiffe://%s/bench/%s" % (TD, tag),
                       "-selector", "unix:uid:%d" % os.getuid(),
                       "-downstream").stdout
        m = re.search(r"Entry ID\s*:\s*(\S+)", out)
        if not m:
            raise Failed("no downstream entry made: " + out[-500:])
        return m.group(1)

    def delete_entries(self, ids):
        if not ids:
            return
        path = os.path.join(self.dir, "delete.json")
        with open(path, "w") as f:
            json.dump({"ids": ids}, f)
        self.cli("entry", "delete", "-file", path)


class SpireletGateway(Server):
    """spirelet's gateway, `spirelet run` as one process nested under
    parent (a Server): its server with UpstreamAuthority "spire" and
    the same settings as Server's, the agent for this host's workloads,
    and the link that attests to the parent with a join token. The
    parent gets the downstream entry for the link here. Administered
    like any Server (its admin socket speaks the same API)."""

    def __init__(self, ctx, parent, name, ca_ttl):
        super().__init__(ctx, "spirelet", name)
        token = parent.token()
        self.downstream = parent.entries_downstream(
            self.agent_id(token), "gw-" + name)
        self.agent_socket = os.path.join(ctx.sockdir, name + "-wl.sock")
        bundle = os.path.join(self.dir, "parent.pem")
        with open(bundle, "w") as f:
            f.write(parent.bundle_pem())
        with open(self.conf, "w") as f:
            f.write("""server {
    bind_address = "127.0.0.1"
    bind_port = "%(port)d"
    socket_path = "%(admin)s"
    trust_domain = "%(td)s"
    data_dir = "%(dir)s/data"
    log_level = "INFO"
    ca_ttl = "%(ca_ttl)s"
    plugins {
        KeyManager "disk" { plugin_data {
            keys_path = "%(dir)s/data/keys.json" } }
        NodeAttestor "join_token" { plugin_data {} }
        UpstreamAuthority "spire" { plugin_data {
            server_address = "127.0.0.1"
            server_port = "%(pport)d" } }
    }
}
agent {
    data_dir = "%(dir)s/agent"
    socket_path = "%(asock)s"
    plugins { WorkloadAttestor "unix" { plugin_data {} } }
}
upstream_agent {
    data_dir = "%(dir)s/upstream"
    trust_bundle_path = "%(bundle)s"
    join_token = "%(token)s"
}
""" % {"port": self.port, "admin": self.admin, "td": TD, "dir": self.dir,
                "ca_ttl": ca_ttl, "pport": parent.port,
                "asock": self.agent_socket, "bundle": bundle,
                "token": token})
        self.argv = [ctx.spirelet, "run"]

    def start(self):
        """Until its server has a CA the parent signed (the admin socket
        is healthy from then on) and its own agent serves."""
        super().start()
        wait_for(self.agent_healthy, 60, "the gateway's agent healthy",
                 self.proc, every=0.05)
        return self

    def agent_healthy(self):
        return run([self.ctx.spirelet, "agent", "healthcheck",
                    "-socketPath", self.agent_socket], check=False,
                   timeout=20).returncode == 0


class Agent:
    """spirelet's agent or spire-agent attesting to srv with a join
    token, with the unix workload attestor and a disk key manager, every
    other setting at its default."""

    def __init__(self, ctx, impl, srv, name, token):
        if impl == "spire" and not ctx.spire_agent:
            raise NotRunnable(ctx.spire_why)
        self.ctx = ctx
        self.impl = impl
        self.dir = ctx.mkdir(name)
        self.socket = os.path.join(ctx.sockdir, name + ".sock")
        bundle = os.path.join(self.dir, "bootstrap.pem")
        with open(bundle, "w") as f:
            f.write(srv.bundle_pem())
        self.conf = os.path.join(self.dir, "agent.conf")
        with open(self.conf, "w") as f:
            f.write("""agent {
    data_dir = "%(dir)s/data"
    log_level = "INFO"
    server_address = "127.0.0.1"
    server_port = "%(port)d"
    socket_path = "%(sock)s"
    trust_bundle_path = "%(bundle)s"
    trust_domain = "%(td)s"
    join_token = "%(token)s"
}
plugins {
    NodeAttestor "join_token" { plugin_data {} }
    KeyManager "disk" { plugin_data { directory = "%(dir)s/data" } }
    WorkloadAttestor "unix" { plugin_data {} }
}
""" % {"dir": self.dir, "port": srv.port, "sock": self.socket,
                "bundle": bundle, "td": TD, "token": token})
        if impl == "spirelet":
            self.argv = [ctx.spirelet, "agent", "run", "-config", self.conf]
        else:
            self.argv = [ctx.spire_agent, "run", "-config", self.conf]
        self.proc = None

    def start(self):
        """Starts the agent; returns CLOCK_MONOTONIC (ns) just before."""
        t0 = time.monotonic_ns()
        self.proc = Proc(self.argv, os.path.join(self.dir, "agent.log"))
        return t0

    def stop(self):
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def first_svid(self, t0, want=1, timeout=60):
        """Milliseconds from t0 until a workload is served want SVIDs."""
        r = self.ctx.load("wl-first", "-socket", self.socket, "-want",
                          str(want), "-timeout", "%ds" % timeout,
                          timeout=timeout + 30, proc=self.proc)
        return (r["mono_ns"] - t0) / 1e6

    def fetch(self, kind, clients, seconds, warmup):
        return self.ctx.load(
            "wl-fetch", "-socket", self.socket, "-kind", kind, "-clients",
            str(clients), "-duration", "%gs" % seconds, "-warmup",
            "%gs" % warmup, timeout=seconds + warmup + 120, proc=self.proc)


def build_load(ctx):
    """Builds bench/load (benchload) once per source hash into the cache;
    returns its path, or raises NotRunnable."""
    go = shutil.which("go")
    if go is None:
        raise NotRunnable("Go is not installed (benchload is Go)")
    src = os.path.join(HERE, "load")
    h = hashlib.sha256()
    for name in sorted(os.listdir(src)):
        if name.endswith((".go", ".mod", ".sum")):
            with open(os.path.join(src, name), "rb") as f:
                h.update(name.encode() + b"\0" + f.read())
    exe = os.path.join(CACHE, "benchload-" + h.hexdigest()[:12],
                       "benchload")
    if os.access(exe, os.X_OK):
        return exe
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    env = dict(os.environ, GOFLAGS="-mod=readonly -buildvcs=false")
    r = subprocess.run([go, "build", "-trimpath", "-o", exe + ".tmp", "."],
                       cwd=src, capture_output=True, text=True, env=env,
                       timeout=1800)
    if r.returncode != 0:
        raise NotRunnable("cannot build benchload: " + r.stderr[-1500:])
    os.rename(exe + ".tmp", exe)
    return exe


class Fleet:
    """`benchload agents`: n fake agents attested to srv, obeying one
    command at a time (see bench/load/agents.go)."""

    def __init__(self, ctx, srv, n, timeout=300):
        self.proc = Proc([ctx.benchload, "agents", "-server",
                          "127.0.0.1:%d" % srv.port, "-admin", srv.admin,
                          "-td", TD, "-n", str(n)],
                         os.path.join(ctx.work, "fleet.log"),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.buf = b""
        self.ready = self._read(timeout, "attestation of %d agents" % n)

    def _read(self, timeout, what):
        deadline = time.monotonic() + timeout
        fd = self.proc.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failed("benchload agents: timed out on " + what)
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise Failed("benchload agents exited on %s: %s" % (
                        what, self.proc.output()))
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        v = json.loads(line)
        if "error" in v:
            raise Failed("benchload agents, %s: %s" % (what, v["error"]))
        return v

    def cmd(self, line, timeout=600):
        self.proc.p.stdin.write(line.encode() + b"\n")
        self.proc.p.stdin.flush()
        return self._read(timeout, line)

    def stop(self):
        try:
            self.proc.p.stdin.write(b"quit\n")
            self.proc.p.stdin.flush()
            self.proc.p.wait(timeout=10)
        except Exception:
            pass
        self.proc.stop()
