"""spirelet's server under test, driven by the real SPIRE CLI.

    srv = SpireletServer(spirelet, spire, procs, tmp_path / "s", sockdir)
    srv.start()
    srv.cli("entry", "show")       # the real spire-server CLI, our socket
"""
import os
import re
import subprocess

from conftest import free_port, wait_for
from spire import run


class SpireletServer:
    """`spirelet server run` on loopback with join_token (and whatever
    plugins are given), administered with the real spire-server CLI."""

    def __init__(self, spirelet, bins, procs, workdir, sockdir,
                 trust_domain="example.org", plugins="", server_extra="",
                 ca_ttl="24h", x509_ttl="1h", keymanager=None,
                 name="spirelet-server", port=None):
        self.spirelet = spirelet
        self.bins = bins
        self.procs = procs
        self.dir = str(workdir)
        os.makedirs(self.dir, exist_ok=True)
        self.socket = os.path.join(sockdir, name + ".sock")
        self.port = port or free_port()
        self.trust_domain = trust_domain
        self.name = name
        self.conf = os.path.join(self.dir, "server.conf")
        if keymanager is None:
            keymanager = ('KeyManager "disk" { plugin_data { keys_path = '
                          '"%s/data/keys.json" } }' % self.dir)
        with open(self.conf, "w") as f:
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
    %(km)s
    NodeAttestor "join_token" { plugin_data {} }
    %(plugins)s
}
""" % {"port": self.port, "sock": self.socket, "td": trust_domain,
                "dir": self.dir, "extra": server_extra, "plugins": plugins,
                "ca_ttl": ca_ttl, "x509_ttl": x509_ttl, "km": keymanager})
        self.proc = None

    def start(self):
        self.proc = self.procs([self.spirelet, "server", "run", "-config",
                                self.conf], name=self.name)
        wait_for(self.healthy, 30, "spirelet server healthy", self.proc)
        return self

    def stop(self):
        self.proc.p.terminate()
        self.proc.p.wait(timeout=20)

    def healthy(self):
        return run([self.bins.server, "healthcheck", "-socketPath",
                    self.socket], check=False).returncode == 0

    def log(self):
        return self.proc.output()

    def cli(self, *args, check=True):
        """The real spire-server CLI against our admin socket."""
        return run([self.bins.server, *args, "-socketPath", self.socket],
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
        out = self.cli(*args, *extra).stdout
        m = re.search(r"Entry ID\s*:\s*(\S+)", out)
        assert m, out
        return m.group(1)

    def agents(self):
        out = self.cli("agent", "list").stdout
        return re.findall(r"SPIFFE ID\s*:\s*(\S+)", out)


def openssl(*args, cwd=None):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True,
                       cwd=cwd)
    assert r.returncode == 0, r.stderr
    return r.stdout


def fetched_ids(agent, outdir, check=False):
    """SPIFFE IDs the agent's Workload API gives us now."""
    r = agent.fetch_x509(outdir, check=check)
    if r.returncode != 0:
        return []
    return re.findall(r"SPIFFE ID:\s*(\S+)", r.stdout)


def verify_svid(bundle_pem, outdir, n=0):
    """openssl verify of svid.N.pem (leaf first, chain after) against
    the bundle; returns openssl's output."""
    bundle = os.path.join(str(outdir), "trust.pem")
    with open(bundle, "w") as f:
        f.write(bundle_pem)
    svid = os.path.join(str(outdir), "svid.%d.pem" % n)
    return subprocess.run(["openssl", "verify", "-CAfile", bundle,
                           "-untrusted", svid, svid], capture_output=True,
                          text=True)
