"""Real SPIRE v1.13.3 peers for the interop tests.

spire-server and spire-agent are built once from the Go module proxy with
the machine's Go into a cache outside the repository
(scripts/build-spire.sh). Where CI=true the interop tests must run, so a
missing or old Go fails them; elsewhere they are skipped with a message
that says why.

    def test_x(spire, procs, sockdir, tmp_path):
        srv = SpireServer(spire, procs, tmp_path / "srv", sockdir).start()
        token = srv.token("spiffe://example.org/edge")
        ...
"""
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import free_port, src_path, wait_for

SPIRE_VERSION = "v1.13.3"
GO_MIN = (1, 25, 3)

_bin_dir = None


def _go_version():
    go = shutil.which("go")
    if go is None:
        return None, "go is not installed"
    r = subprocess.run([go, "version"], capture_output=True, text=True)
    m = re.search(r"go(\d+)\.(\d+)(?:\.(\d+))?", r.stdout)
    if not m:
        return None, "cannot read `go version`: " + r.stdout.strip()
    v = tuple(int(x or 0) for x in m.groups())
    if v < GO_MIN:
        return None, "go %s is older than %s" % (
            ".".join(map(str, v)), ".".join(map(str, GO_MIN)))
    return v, None


def _unavailable(why):
    msg = ("interop test needs real SPIRE %s built with Go >= %s: %s"
           % (SPIRE_VERSION, ".".join(map(str, GO_MIN)), why))
    if os.environ.get("CI") == "true":
        pytest.fail(msg + " (CI=true: interop tests must run)")
    pytest.skip(msg)


def spire_bin_dir():
    """The directory holding spire-server and spire-agent, built on first
    use and cached outside the repository."""
    global _bin_dir
    if _bin_dir is not None:
        return _bin_dir
    v, why = _go_version()
    if v is None:
        _unavailable(why)
    r = subprocess.run(["sh", src_path("scripts", "build-spire.sh")],
                       capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        _unavailable("scripts/build-spire.sh failed:\n" + r.stderr[-3000:])
    d = r.stdout.strip().splitlines()[-1]
    for b in ("spire-server", "spire-agent"):
        if not os.access(os.path.join(d, b), os.X_OK):
            _unavailable(b + " missing in " + d)
    _bin_dir = d
    return d


class SpireBins:
    def __init__(self, d):
        self.server = os.path.join(d, "spire-server")
        self.agent = os.path.join(d, "spire-agent")


@pytest.fixture(scope="session")
def spire():
    """Paths of the real spire-server and spire-agent."""
    return SpireBins(spire_bin_dir())


@pytest.fixture
def sockdir():
    """A short directory for Unix sockets (sun_path holds 108 bytes, and
    pytest's tmp_path can be longer than that)."""
    d = tempfile.mkdtemp(prefix="sp-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run(argv, check=True, timeout=60, **kw):
    r = subprocess.run(argv, capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s%s" % (
            " ".join(map(str, argv)), r.returncode, r.stdout, r.stderr))
    return r


def entry_id_of(out):
    """The ID in `entry create` or `entry show` output."""
    m = re.search(r"Entry ID\s*:\s*(\S+)", out)
    assert m, out
    return m.group(1)


class Daemon:
    """A server or agent a test runs through the procs fixture, in its
    own directory (dir) with its API on a socket in sockdir. Subclasses
    give healthy() and start() through _start()."""

    def __init__(self, procs, workdir, sockdir, name, socket=None):
        self.procs = procs
        self.dir = str(workdir)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name
        self.socket = os.path.join(sockdir, socket or name + ".sock")
        self.proc = None

    def _start(self, argv, timeout, what, wait=True, env=None, name=None):
        """Runs argv, then waits until healthy() unless wait is false."""
        self.proc = self.procs(argv, name=name or self.name, env=env)
        if wait:
            wait_for(self.healthy, timeout, what, self.proc)
        return self

    def stop(self):
        if self.proc is not None:
            return self.proc.stop()

    def log(self):
        return self.proc.output() if self.proc else ""


def healthcheck(binary, socket):
    """`spire-server healthcheck` or `spire-agent healthcheck` passes."""
    return run([binary, "healthcheck", "-socketPath", socket],
               check=False).returncode == 0


class ServerCli:
    """A server's admin side through the real spire-server CLI
    (self.server_cli) on self.socket, whichever server serves it."""

    def healthy(self):
        return healthcheck(self.server_cli, self.socket)

    def cli(self, *args, check=True):
        """spire-server <args...> -socketPath <ours>."""
        return run([self.server_cli, *args, "-socketPath", self.socket],
                   check=check)

    def token(self, spiffe_id=None, ttl=600):
        args = ["token", "generate", "-ttl", str(ttl)]
        if spiffe_id:
            args += ["-spiffeID", spiffe_id]
        out = self.cli(*args).stdout
        m = re.search(r"Token: (\S+)", out)
        assert m, out
        return m.group(1)

    def bundle_pem(self):
        return self.cli("bundle", "show").stdout

    def entry_create(self, parent, spiffe_id, selectors, *extra):
        args = ["entry", "create", "-parentID", parent, "-spiffeID",
                spiffe_id]
        for s in selectors:
            args += ["-selector", s]
        return entry_id_of(self.cli(*args, *extra).stdout)


def write_server_conf(path, port, socket, trust_domain, data_dir, plugins,
                      ca_ttl="24h", x509_ttl="1h", extra=""):
    """A server.conf on loopback, logging at DEBUG, its data in
    data_dir/data, with the plugin blocks given."""
    with open(path, "w") as f:
        f.write("""server {
    bind_address = "127.0.0.1"
    bind_port = "%(port)d"
    socket_path = "%(sock)s"
    trust_domain = "%(td)s"
    data_dir = "%(dir)s/data"
    log_level = "DEBUG"
    ca_ttl = "%(ca_ttl)s"
    default_x509_svid_ttl = "%(x509_ttl)s"
    %(extra)s
}
plugins {
    %(plugins)s
}
""" % {"port": port, "sock": socket, "td": trust_domain, "dir": data_dir,
       "extra": extra, "plugins": plugins, "ca_ttl": ca_ttl,
       "x509_ttl": x509_ttl})


def write_agent_conf(path, data_dir, server_port, socket, trust_domain,
                     bundle, plugins, extra=""):
    """An agent.conf for a server on loopback, logging at DEBUG, its data
    in data_dir/data; bundle is the trust_bundle_* line, plugins the
    plugin blocks, extra more lines of the agent block."""
    with open(path, "w") as f:
        f.write("""agent {
    data_dir = "%(dir)s/data"
    log_level = "DEBUG"
    server_address = "127.0.0.1"
    server_port = "%(port)d"
    socket_path = "%(sock)s"
    %(bundle)s
    trust_domain = "%(td)s"
    %(extra)s
}
plugins {
    %(plugins)s
}
""" % {"dir": data_dir, "port": server_port, "sock": socket,
       "bundle": bundle, "td": trust_domain, "extra": extra,
       "plugins": plugins})


def join_token_line(join_token):
    """The agent block's join_token line, empty for None."""
    return ('join_token = "%s"' % join_token) if join_token else ""


class SpireServer(Daemon, ServerCli):
    """A real spire-server on loopback with an sqlite datastore, a disk
    key manager and the join_token node attestor (more plugin blocks may
    be given in plugins)."""

    def __init__(self, bins, procs, workdir, sockdir, trust_domain=
                 "example.org", plugins="", server_extra="",
                 ca_ttl="24h", x509_ttl="1h", name="spire-server"):
        Daemon.__init__(self, procs, workdir, sockdir, name)
        self.bins = bins
        self.server_cli = bins.server
        self.port = free_port()
        self.trust_domain = trust_domain
        self.conf = os.path.join(self.dir, "server.conf")
        write_server_conf(self.conf, self.port, self.socket, trust_domain,
                          self.dir, """DataStore "sql" {
        plugin_data {
            database_type = "sqlite3"
            connection_string = "%(dir)s/data/datastore.sqlite3"
        }
    }
    KeyManager "disk" {
        plugin_data { keys_path = "%(dir)s/data/keys.json" }
    }
    NodeAttestor "join_token" { plugin_data {} }
    %(plugins)s""" % {"dir": self.dir, "plugins": plugins}, ca_ttl,
                          x509_ttl, server_extra)

    def start(self):
        return self._start([self.bins.server, "run", "-config",
                            self.conf], 60, "spire-server healthy")


class SpireAgent(Daemon):
    """A real spire-agent attesting to server_port with a join token (or
    the node attestor plugin given), serving the Workload API on a
    socket of its own."""

    def __init__(self, bins, procs, workdir, sockdir, server_port,
                 bundle_pem, trust_domain="example.org", join_token=None,
                 plugins=None, agent_extra="", name="spire-agent"):
        Daemon.__init__(self, procs, workdir, sockdir, name)
        self.bins = bins
        bundle = os.path.join(self.dir, "bootstrap.pem")
        with open(bundle, "w") as f:
            f.write(bundle_pem)
        if plugins is None:
            plugins = 'NodeAttestor "join_token" { plugin_data {} }'
        self.conf = os.path.join(self.dir, "agent.conf")
        write_agent_conf(
            self.conf, self.dir, server_port, self.socket, trust_domain,
            'trust_bundle_path = "%s"' % bundle, """%s
    KeyManager "disk" { plugin_data { directory = "%s/data" } }
    WorkloadAttestor "unix" { plugin_data {} }""" % (plugins, self.dir),
            join_token_line(join_token) + "\n    " + agent_extra)

    def start(self):
        return self._start([self.bins.agent, "run", "-config", self.conf],
                           60, "spire-agent healthy")

    def healthy(self):
        return healthcheck(self.bins.agent, self.socket)

    def fetch_x509(self, outdir, socket=None, check=True):
        return run([self.bins.agent, "api", "fetch", "x509",
                    "-socketPath", socket or self.socket, "-write",
                    str(outdir)], check=check)
