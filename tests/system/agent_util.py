"""Helpers for the agent's system tests: spirelet's agent in front of a
server, and the server side as one fixture with a small interface
(port, trust_domain, bundle_pem(), token(), entry_create(), entry_delete(),
stop(), start()) that a real spire-server provides today and a spirelet
server can provide later (see `server` below).
"""
import os
import re
import subprocess
import time

import pytest

from conftest import wait_for
from spire import (Daemon, SpireServer, healthcheck, join_token_line, run,
                   write_agent_conf)

TD = "example.org"
# The server's entry cache reloads this often, so entries made with the
# CLI reach agents within a sync or two instead of five seconds.
FAST_SERVER = 'experimental { cache_reload_interval = "200ms" }'


def x509pop_plugin(ca_path):
    return ('NodeAttestor "x509pop" { plugin_data { ca_bundle_path = "%s" '
            '} }' % ca_path)


class ServerSide:
    """The server side of a test behind that interface: a real
    spire-server v1.13.3 (kind "spire") or spirelet's own server
    (tests/system/server_util.py, kind "spirelet"), administered with
    the real spire-server CLI either way."""

    def __init__(self, kind, spire, procs, workdir, sockdir, spirelet=None,
                 plugins="", x509_ttl="1h", ca_ttl="24h", name=None):
        if kind == "spire":
            self.srv = SpireServer(spire, procs, workdir, sockdir,
                                   plugins=plugins, server_extra=FAST_SERVER,
                                   x509_ttl=x509_ttl, ca_ttl=ca_ttl,
                                   name=name or "spire-server")
        elif kind == "spirelet":
            from server_util import SpireletServer
            self.srv = SpireletServer(spirelet, spire, procs, workdir,
                                      sockdir, plugins=plugins,
                                      x509_ttl=x509_ttl, ca_ttl=ca_ttl,
                                      name=name or "spirelet-server")
        else:
            raise ValueError(kind)
        self.kind = kind
        self.spire = spire
        self.port = self.srv.port
        self.trust_domain = self.srv.trust_domain

    def start(self):
        self.srv.start()
        return self

    def stop(self):
        if self.srv.proc is not None and self.srv.proc.alive():
            self.srv.stop()

    def log(self):
        return self.srv.log()

    def cli(self, *args, check=True):
        return self.srv.cli(*args, check=check)

    def bundle_pem(self):
        return self.srv.bundle_pem()

    def token(self, spiffe_id=None, ttl=600):
        return self.srv.token(spiffe_id, ttl)

    def entry_create(self, parent, spiffe_id, selectors, *extra):
        return self.srv.entry_create(parent, spiffe_id, selectors, *extra)

    def entry_delete(self, entry_id):
        self.cli("entry", "delete", "-entryID", entry_id)

    def agent_ban(self, spiffe_id):
        self.cli("agent", "ban", "-spiffeID", spiffe_id)


def make_server(kind, spire, procs, workdir, sockdir, spirelet=None, **kw):
    """The server side of a test: a real spire-server ("spire") or
    spirelet's own ("spirelet"), with the same methods."""
    return ServerSide(kind, spire, procs, workdir, sockdir,
                      spirelet=spirelet, **kw)


class Agent(Daemon):
    """spirelet's agent attesting to a server fixture (anything with
    port, trust_domain and bundle_pem()); sync None leaves the agent's
    default sync_interval."""

    def __init__(self, spirelet, spire, procs, workdir, sockdir, server,
                 join_token=None, plugins=None, extra="", name="agent",
                 sync="500ms", unix='WorkloadAttestor "unix" '
                 '{ plugin_data {} }', key_manager='KeyManager "disk" '
                 '{ plugin_data {} }', bundle_url=None, env=None):
        Daemon.__init__(self, procs, workdir, sockdir, name)
        self.spirelet = spirelet
        self.spire = spire
        # Workloads of other users reach the socket too.
        os.chmod(sockdir, 0o755)
        self.server = server
        self.bundle = os.path.join(self.dir, "bootstrap.pem")
        with open(self.bundle, "w") as f:
            f.write(server.bundle_pem())
        if plugins is None:
            plugins = 'NodeAttestor "join_token" { plugin_data {} }'
        if bundle_url:
            bundle = 'trust_bundle_url = "%s"' % bundle_url
        else:
            bundle = 'trust_bundle_path = "%s"' % self.bundle
        lines = [join_token_line(join_token), extra]
        if sync is not None:
            lines.insert(0, 'sync_interval = "%s"' % sync)
        self.conf = os.path.join(self.dir, "agent.conf")
        write_agent_conf(self.conf, self.dir, server.port, self.socket,
                         server.trust_domain, bundle,
                         "\n    ".join((plugins, key_manager, unix)),
                         "\n    ".join(lines))
        self.env = env

    def start(self, wait=True):
        return self._start([self.spirelet, "agent", "run", "-config",
                            self.conf], 30, "spirelet agent healthy",
                           wait=wait, env=self.env)

    def healthy(self):
        return healthcheck(self.spire.agent, self.socket)

    def fetch_x509(self, outdir=None, check=False, timeout=5, user=None):
        argv = [self.spire.agent, "api", "fetch", "x509", "-socketPath",
                self.socket, "-timeout", "%ds" % timeout]
        if outdir is not None:
            os.makedirs(str(outdir), exist_ok=True)
            argv += ["-write", str(outdir)]
        if user is not None:
            argv = as_user(user) + argv
        return run(argv, check=check, timeout=timeout + 10)

    def fetch_jwt(self, audience, check=False, user=None):
        argv = [self.spire.agent, "api", "fetch", "jwt", "-socketPath",
                self.socket, "-audience", audience]
        if user is not None:
            argv = as_user(user) + argv
        return run(argv, check=check)

    def ids(self, user=None):
        """The SPIFFE IDs spire-agent api fetch x509 reports now."""
        r = self.fetch_x509(user=user)
        if r.returncode != 0:
            return []
        return re.findall(r"SPIFFE ID:\s+(\S+)", r.stdout)

    def wait_ids(self, want, timeout=20, user=None):
        got = []

        def ok():
            got[:] = self.ids(user=user)
            return sorted(got) == sorted(want)
        try:
            wait_for(ok, timeout, "SVIDs %s" % want, self.proc)
        except AssertionError:
            raise AssertionError("wanted %s, have %s\n%s" % (
                want, got, self.log()[-4000:]))


def as_user(uid):
    """argv prefix running a command as uid (the tests run as root)."""
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid,
            "--clear-groups"]


def openssl(*args, cwd=None, check=True, timeout=30):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True,
                       cwd=cwd, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("openssl %s: %s" % (" ".join(args), r.stderr))
    return r


def cert_serial(path):
    return openssl("x509", "-in", str(path), "-noout", "-serial").stdout


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)
