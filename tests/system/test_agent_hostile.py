"""Bad input for spirelet's agent: a client without the security header,
a stream that is never read, 1000 concurrent callers, a caller that is
gone by the time it is attested, and a server that sends a chain for
another trust domain or an SVID whose key is not the CSR's. Each gets a
clear error; nobody else is disturbed and the cache keeps what it had.
"""
import os
import subprocess
import sys
import time

import pytest

import h2raw
from agent_util import TD, Agent, cert_serial, make_server
from conftest import free_port, src_path, wait_for
from spire import sockdir, spire  # noqa: F401 (fixtures)
from test_agent_clients import wlclient

PROTOS = ["spiffe/workload/workload.proto", "spire/api/types/types.proto",
          "spire/api/server/agent/v1/agent.proto",
          "spire/api/server/bundle/v1/bundle.proto",
          "spire/api/server/entry/v1/entry.proto",
          "spire/api/server/svid/v1/svid.proto"]


@pytest.fixture(scope="module")
def stubs(tmp_path_factory):
    out = tmp_path_factory.mktemp("agentstubs")
    subprocess.run(["/usr/bin/python3", "-m", "grpc_tools.protoc",
                    "-I" + src_path("proto"), "--python_out=" + str(out),
                    "--grpc_python_out=" + str(out)] + PROTOS, check=True)
    for d, _, files in os.walk(out):
        if "__init__.py" not in files:
            open(os.path.join(d, "__init__.py"), "w").close()
    return str(out)


@pytest.fixture
def setup(spirelet, spire, procs, sockdir, tmp_path):
    srv = make_server("spire", spire, procs, tmp_path / "srv",
                      sockdir).start()
    token = srv.token("spiffe://%s/edge" % TD)
    agent = Agent(spirelet, spire, procs, tmp_path / "agent", sockdir, srv,
                  join_token=token).start()
    srv.entry_create("spiffe://%s/edge" % TD, "spiffe://%s/w" % TD,
                     ["unix:uid:%d" % os.getuid()], "-x509SVIDTTL", "14")
    agent.wait_ids(["spiffe://%s/w" % TD])
    return srv, agent


def workload_stub(stubs, socket):
    sys.path.insert(0, stubs)
    import grpc
    from spiffe.workload import workload_pb2, workload_pb2_grpc
    ch = grpc.insecure_channel("unix:" + socket)
    return grpc, workload_pb2, workload_pb2_grpc.SpiffeWorkloadAPIStub(ch)


def test_security_header_required(setup, stubs):
    _, agent = setup
    grpc, pb, stub = workload_stub(stubs, agent.socket)
    with pytest.raises(grpc.RpcError) as e:
        next(stub.FetchX509SVID(pb.X509SVIDRequest(), timeout=5))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert e.value.details() == "security header missing from request"
    with pytest.raises(grpc.RpcError) as e:
        stub.FetchJWTSVID(pb.JWTSVIDRequest(audience=["a"]), timeout=5,
                          metadata=(("workload.spiffe.io", "false"),))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # With it, the same client gets its SVID, key and bundle.
    md = (("workload.spiffe.io", "true"),)
    resp = next(stub.FetchX509SVID(pb.X509SVIDRequest(), timeout=5,
                                   metadata=md))
    assert resp.svids[0].spiffe_id == "spiffe://%s/w" % TD
    assert resp.svids[0].x509_svid_key.startswith(b"\x30")
    b = next(stub.FetchX509Bundles(pb.X509BundlesRequest(), timeout=5,
                                   metadata=md))
    assert list(b.bundles) == ["spiffe://%s" % TD]
    j = next(stub.FetchJWTBundles(pb.JWTBundlesRequest(), timeout=5,
                                  metadata=md))
    assert b'"keys"' in j.bundles["spiffe://%s" % TD]
    with pytest.raises(grpc.RpcError) as e:
        stub.FetchJWTSVID(pb.JWTSVIDRequest(), timeout=5, metadata=md)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert agent.proc.alive()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_stream_never_read(setup, stubs):
    srv, agent = setup
    # A stream whose reader never gives the agent any window: its
    # updates pile up against the per-stream cap, nowhere else.
    stuck = []
    for _ in range(4):
        s = h2raw.connect(agent.socket)
        s.sendall(h2raw.PREFACE + h2raw.settings(initial_window_size=0))
        s.sendall(h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, 1,
                              h2raw.hpack(h2raw.grpc_headers(
                                  "/SpiffeWorkloadAPI/FetchX509SVID",
                                  [("workload.spiffe.io", "true")]))))
        s.sendall(h2raw.frame(h2raw.DATA, h2raw.END_STREAM, 1,
                              h2raw.grpc_msg(b"")))
        stuck.append(s)
    before = rss_kib(agent.proc.pid)
    # Many changes (short TTLs rotate too) while nobody reads.
    for i in range(6):
        srv.entry_create("spiffe://%s/edge" % TD, "spiffe://%s/n%d" % (TD, i),
                         ["unix:uid:%d" % os.getuid()])
    agent.wait_ids(["spiffe://%s/w" % TD] +
                   ["spiffe://%s/n%d" % (TD, i) for i in range(6)])
    time.sleep(2)
    assert agent.fetch_x509().returncode == 0
    after = rss_kib(agent.proc.pid)
    assert after - before < 16 * 1024, (before, after)
    for s in stuck:
        s.close()
    assert agent.proc.alive()


def test_1000_concurrent_callers(setup):
    _, agent = setup
    exe = wlclient()
    r = subprocess.run([exe, "-socket", "unix://" + agent.socket,
                        "concurrent", "-n", "1000", "-timeout", "60s"],
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok 1000 failed 0" in r.stdout
    assert agent.fetch_x509().returncode == 0


# The caller connects and sends its headers, hands the socket to a child
# and exits; the child completes the request. The pid the agent saw at
# accept is gone when it attests: refused, and nothing is sent.
EXIT_EARLY = r"""
import os, sys, time
sys.path.insert(0, %(t)r)
import h2raw
s = h2raw.connect(%(sock)r)
s.sendall(h2raw.PREFACE + h2raw.settings())
s.sendall(h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, 1, h2raw.hpack(
    h2raw.grpc_headers("/SpiffeWorkloadAPI/FetchX509SVID",
                       [("workload.spiffe.io", "true")]))))
ppid = os.getpid()
if os.fork() != 0:
    os._exit(0)
while os.getppid() == ppid:
    time.sleep(0.01)
time.sleep(0.2)
s.sendall(h2raw.frame(h2raw.DATA, h2raw.END_STREAM, 1, h2raw.grpc_msg(b"")))
frames, _ = h2raw.read_frames(s, timeout=3)
data = sum(len(p) for t, f, i, p in frames if t == h2raw.DATA and i == 1)
print("data", data)
"""


def test_caller_gone_before_attestation(setup):
    _, agent = setup
    code = EXIT_EARLY % {"t": os.path.dirname(__file__),
                         "sock": agent.socket}
    p = subprocess.Popen(["/usr/bin/python3", "-c", code],
                         stdout=subprocess.PIPE, text=True)
    out = p.communicate(timeout=20)[0]
    # The child, holding the connection, got no SVID.
    assert "data 0" in out, out
    wait_for(lambda: "pid was reused" in agent.log(), 10,
             "the agent refusing the gone caller", agent.proc)
    assert agent.fetch_x509().returncode == 0
    assert agent.proc.alive()


def fake_server(procs, stubs, tmp_path, mode, server_id=None):
    d = tmp_path / "fake"
    d.mkdir()
    modefile = d / "mode"
    modefile.write_text(mode)
    port = free_port()
    # -P: the stubs' "spire" package, not tests/system/spire.py.
    argv = ["/usr/bin/python3", "-P", src_path("tests", "system",
            "fake_server.py"), str(port), str(d), str(modefile)]
    if server_id:
        argv.append(server_id)
    p = procs(argv, name="fake-server", env=dict(
        os.environ, PYTHONPATH=stubs))
    wait_for(lambda: (d / "ready").exists(), 20, "fake server", p)

    class F:
        pass
    f = F()
    f.port, f.trust_domain, f.proc, f.modefile = port, TD, p, modefile
    f.bundle_pem = lambda: (d / "ca.pem").read_text()
    return f


def test_server_sends_bad_svids(spirelet, spire, procs, sockdir, tmp_path,
                                stubs):
    f = fake_server(procs, stubs, tmp_path, "good")
    agent = Agent(spirelet, spire, procs, tmp_path / "agent", sockdir, f,
                  join_token="tok-1").start()
    agent.wait_ids(["spiffe://%s/w" % TD])
    out = tmp_path / "out"
    agent.fetch_x509(out, check=True)
    good = cert_serial(out / "svid.0.pem")
    for mode, why in (("othertd", "server sent an SVID we cannot accept"),
                      ("wrongkey", "does not match the CSR")):
        f.modefile.write_text(mode)
        n = agent.log().count(why)
        wait_for(lambda: agent.log().count(why) > n + 1, 20,
                 "agent refusing %s SVIDs" % mode, agent.proc)
        # The workload keeps the good SVID it had.
        agent.fetch_x509(out, check=True)
        assert cert_serial(out / "svid.0.pem") == good
    # The server's GOAWAYs (one every 1.5 s here) did not stop the syncs;
    # the refusals above may all come within the first 1.5 s.
    wait_for(lambda: "GOAWAY" in agent.log(), 10, "a GOAWAY seen",
             agent.proc)
    # Nothing was lost from the cache: a restart serves it still.
    agent.stop()
    f.proc.stop()
    agent.start()
    agent.fetch_x509(out, check=True)
    assert cert_serial(out / "svid.0.pem") == good


def test_server_with_chain_of_another_trust_domain(spirelet, spire, procs,
                                                   sockdir, tmp_path, stubs):
    f = fake_server(procs, stubs, tmp_path, "good",
                    server_id="spiffe://evil.org/spire/server")
    agent = Agent(spirelet, spire, procs, tmp_path / "agent", sockdir, f,
                  join_token="tok-2").start(wait=False)
    wait_for(lambda: "server certificate refused" in agent.log(), 20,
             "the agent refusing the server", agent.proc)
    assert "node attestation failed" in agent.log()
    assert agent.proc.alive()
    assert not agent.healthy()
