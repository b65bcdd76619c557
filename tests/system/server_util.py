"""spirelet's server under test, driven by the real SPIRE CLI.

    srv = SpireletServer(spirelet, spire, procs, tmp_path / "s", sockdir)
    srv.start()
    srv.cli("entry", "show")       # the real spire-server CLI, our socket
"""
import os
import re
import subprocess

from conftest import free_port
from spire import Daemon, ServerCli, write_server_conf


class SpireletServer(Daemon, ServerCli):
    """`spirelet server run` on loopback with join_token (and whatever
    plugins are given), administered with the real spire-server CLI."""

    def __init__(self, spirelet, bins, procs, workdir, sockdir,
                 trust_domain="example.org", plugins="", server_extra="",
                 ca_ttl="24h", x509_ttl="1h", keymanager=None,
                 name="spirelet-server", port=None):
        Daemon.__init__(self, procs, workdir, sockdir, name)
        self.spirelet = spirelet
        self.bins = bins
        self.server_cli = bins.server
        self.port = port or free_port()
        self.trust_domain = trust_domain
        self.conf = os.path.join(self.dir, "server.conf")
        if keymanager is None:
            keymanager = ('KeyManager "disk" { plugin_data { keys_path = '
                          '"%s/data/keys.json" } }' % self.dir)
        write_server_conf(self.conf, self.port, self.socket, trust_domain,
                          self.dir, """%s
    NodeAttestor "join_token" { plugin_data {} }
    %s""" % (keymanager, plugins), ca_ttl, x509_ttl, server_extra)

    def start(self):
        return self._start([self.spirelet, "server", "run", "-config",
                            self.conf], 30, "spirelet server healthy")

    def stop(self):
        self.proc.p.terminate()
        self.proc.p.wait(timeout=20)

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
