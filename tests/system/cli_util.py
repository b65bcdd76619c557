"""Helpers for the operator command tests: one SPIFFE world per module
(a server, an agent that attested to it, a workload entry for us), and
the two tools to compare on it: SPIRE's Go CLI and spirelet's.

The world is built for a backend: "spire" (real spire-server and
spire-agent v1.13.3) or "spirelet" (spirelet's own server and agent).
Every command takes the socket it talks to as a parameter, so the same
test runs against either; a spirelet backend whose server or agent does
not serve the APIs yet is skipped with the reason.
"""
import os
import re
import signal
import subprocess
import tempfile
import shutil

import pytest

from agent_util import Agent
from conftest import Procs, build_path, wait_for
from server_util import SpireletServer
from spire import (SpireAgent, SpireBins, SpireServer, entry_id_of,
                   spire_bin_dir)

TRUST_DOMAIN = "example.org"
NODE_ID = "spiffe://example.org/node"
WORKLOAD_ID = "spiffe://example.org/workload"
FED_TD = "spiffe://fed.example"


def run(argv, timeout=60, stdin=None, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True,
                          text=True, timeout=timeout, input=stdin, **kw)


class Tool:
    """One command-line tool aimed at one socket: `spire-server` or
    `spirelet server`, `spire-agent api` or `spirelet agent api`."""

    def __init__(self, prefix, socket):
        self.prefix = list(prefix)
        self.socket = socket

    def __call__(self, *args, stdin=None, socket=None, timeout=60, **kw):
        return run(self.prefix + list(args) +
                   ["-socketPath", socket or self.socket], stdin=stdin,
                   timeout=timeout, **kw)

    def ok(self, *args, **kw):
        r = self(*args, **kw)
        assert r.returncode == 0, "%s %s failed (%d):\n%s%s" % (
            " ".join(self.prefix), " ".join(args), r.returncode, r.stdout,
            r.stderr)
        return r


def make_fed_ca(d):
    """A CA certificate of another trust domain, made here."""
    key = os.path.join(d, "fed.key")
    crt = os.path.join(d, "fed.pem")
    r = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out",
             crt, "-days", "2", "-subj", "/O=fed/CN=fed CA", "-addext",
             "subjectAltName=URI:" + FED_TD, "-addext",
             "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign,cRLSign"])
    assert r.returncode == 0, r.stderr
    return crt


class World:
    """A server, an agent attested to it as NODE_ID, and WORKLOAD_ID for
    our uid (federating with FED_TD), with both tools for each side."""

    def __init__(self, backend, bins, spirelet, procs, d, sockdir):
        self.backend = backend
        self.bins = bins
        self.spirelet = spirelet
        self.procs = procs
        self.dir = d
        self.sockdir = sockdir
        if backend == "spire":
            self.server = SpireServer(bins, procs, os.path.join(d, "srv"),
                                      sockdir, name="srv").start()
        else:
            self.server = SpireletServer(spirelet, bins, procs,
                                         os.path.join(d, "srv"), sockdir,
                                         trust_domain=TRUST_DOMAIN,
                                         name="srv").start()
        sock = self.server.socket
        self.go = Tool([bins.server], sock)
        self.ours = Tool([spirelet, "server"], sock)
        probe = self.ours("entry", "count")
        if "Unimplemented" in probe.stderr:
            pytest.skip("%s server has no admin Entry API yet: %s"
                        % (backend, probe.stderr.strip()))
        assert probe.returncode == 0, probe.stderr
        self.fed_pem = make_fed_ca(d)
        self.go.ok("bundle", "set", "-id", FED_TD, "-path", self.fed_pem)
        self.token = self.join_token(NODE_ID)
        self.agent = self.start_agent("agent", self.token)
        self.go_api = Tool([bins.agent, "api"], self.agent.socket)
        self.ours_api = Tool([spirelet, "agent", "api"], self.agent.socket)
        self.workload_entry = self.entry_id(self.go.ok(
            "entry", "create", "-parentID", NODE_ID, "-spiffeID",
            WORKLOAD_ID, "-selector", "unix:uid:%d" % os.getuid(),
            "-federatesWith", FED_TD, "-hint", "wl").stdout)
        wait_for(lambda: WORKLOAD_ID in self.go_api("fetch", "x509").stdout
                 and "[%s]" % FED_TD in self.go_api("fetch", "x509").stdout,
                 60, "the workload SVID with the federated bundle",
                 self.agent.proc)

    def join_token(self, spiffe_id):
        out = self.go.ok("token", "generate", "-spiffeID", spiffe_id).stdout
        return re.search(r"Token: (\S+)", out).group(1)

    def start_agent(self, name, token):
        if self.backend == "spire":
            a = SpireAgent(self.bins, self.procs,
                           os.path.join(self.dir, name), self.sockdir,
                           self.server.port, self.go.ok("bundle",
                                                        "show").stdout,
                           join_token=token, name=name)
        else:
            # SPIRE's agent.conf: the default sync_interval, keys on disk.
            a = Agent(self.spirelet, self.bins, self.procs,
                      os.path.join(self.dir, name), self.sockdir,
                      self.server, join_token=token, name=name, sync=None,
                      key_manager='KeyManager "disk" { plugin_data { '
                      'directory = "%s/data" } }'
                      % os.path.join(self.dir, name))
        a.start()
        if self.backend == "spirelet":
            r = run([self.spirelet, "agent", "api", "fetch", "-socketPath",
                     a.socket])
            if "Unimplemented" in r.stderr:
                pytest.skip("spirelet agent has no Workload API yet")
        return a

    entry_id = staticmethod(entry_id_of)


def world_fixture(request, tmp_path_factory):
    """Builds the World for request.param; yields it and stops it."""
    spirelet = build_path("spirelet")
    assert os.access(spirelet, os.X_OK), "build spirelet first"
    bins = SpireBins(spire_bin_dir())
    d = str(tmp_path_factory.mktemp("world-" + request.param))
    sockdir = tempfile.mkdtemp(prefix="sp-", dir="/tmp")
    procs = Procs(d, tail=6000)
    failed = request.session.testsfailed
    try:
        yield World(request.param, bins, spirelet, procs, d, sockdir)
    finally:
        procs.stop_all(request.session.testsfailed > failed)
        shutil.rmtree(sockdir, ignore_errors=True)


def same(a, b, why=""):
    """Both runs gave the same status and the same text."""
    assert (a.returncode, a.stdout, a.stderr) == \
        (b.returncode, b.stdout, b.stderr), "%s\n--- Go (%d):\n%s%s\n" \
        "--- spirelet (%d):\n%s%s" % (why, a.returncode, a.stdout,
                                      a.stderr, b.returncode, b.stdout,
                                      b.stderr)


def interrupt(proc):
    """SIGINT, then the exit status."""
    proc.p.send_signal(signal.SIGINT)
    return proc.p.wait(timeout=10)
