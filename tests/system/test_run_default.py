"""`spirelet run` with no configuration, the README's first command: a
server with a self-signed root and an agent in one process, on the usual
paths, serving a workload registered with the operator CLI. Run as an
unprivileged user with its own HOME so that the state goes to a scratch
directory; the socket paths and port 8081 are fixed by the built-in
configuration, so they must be free."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile

import pytest

from conftest import wait_for, wait_for_socket

ADMIN = "/tmp/spire-server/private/api.sock"
WORKLOAD = "/tmp/spire-agent/public/api.sock"
NOBODY = 65534


def _port_free(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


@pytest.fixture
def default_paths():
    """The built-in configuration's fixed places, free, and cleaned up
    after the test."""
    busy = [p for p in ("/tmp/spire-server", "/tmp/spire-agent")
            if os.path.exists(p)]
    if not _port_free(8081):
        busy.append("127.0.0.1:8081")
    if busy:
        why = ("spirelet run's built-in configuration needs %s, in use "
               "here" % ", ".join(busy))
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    yield
    for p in ("/tmp/spire-server", "/tmp/spire-agent"):
        shutil.rmtree(p, ignore_errors=True)


def test_run_without_config_serves_a_registered_workload(spirelet, procs,
                                                         default_paths):
    home = tempfile.mkdtemp(prefix="spirelet-home-")
    try:
        if os.geteuid() == 0:
            # As root the state would go to /var/lib/spirelet: run as
            # nobody, whose state goes under HOME.
            os.chown(home, NOBODY, NOBODY)
            as_user = ["setpriv", "--reuid=%d" % NOBODY,
                       "--regid=%d" % NOBODY, "--clear-groups"]
            uid = NOBODY
        else:
            as_user = []
            uid = os.getuid()
        env = {"HOME": home, "PATH": "/usr/bin:/bin"}
        p = procs(as_user + [spirelet, "run"], name="spirelet", env=env)
        wait_for_socket(ADMIN, proc=p)
        wait_for_socket(WORKLOAD, proc=p)
        state = os.path.join(home, ".local", "state", "spirelet")
        assert os.path.isfile(os.path.join(state, "server", "data.mdb"))
        assert os.stat(state).st_mode & 0o077 == 0

        sid = "spiffe://example.org/demo/u%d" % uid
        r = subprocess.run(
            [spirelet, "server", "entry", "create", "-socketPath", ADMIN,
             "-parentID", "spiffe://example.org/spirelet/agent",
             "-spiffeID", sid, "-selector", "unix:uid:%d" % uid],
            capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr

        def fetched():
            r = subprocess.run(
                as_user + [spirelet, "agent", "api", "fetch", "x509",
                           "-socketPath", WORKLOAD],
                capture_output=True, text=True, timeout=30)
            return r.returncode == 0 and ("SPIFFE ID:\t\t%s\n" % sid) in \
                r.stdout
        # The agent learns of the entry at its next sync (5 s).
        wait_for(fetched, timeout=30, what="the demo workload's SVID",
                 proc=p)
        log = p.output()
        assert "roles=\"server,agent\"" in log
        assert "listening on 127.0.0.1:8081 (TLS)" in log
        p.signal(signal.SIGTERM)
        assert p.wait() == 0
        assert not os.path.exists(WORKLOAD)
    finally:
        shutil.rmtree(home, ignore_errors=True)
