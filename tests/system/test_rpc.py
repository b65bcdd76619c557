"""The gRPC layer against real gRPC: grpcio clients against rpc_testd's
server, rpc_testd's client against a grpcio server."""
import os
import signal
import subprocess
import sys
import threading
import time

import grpc
import pytest

from conftest import build_path, src_path, wait_for

MIB = 1024 * 1024
CHUNK = 60000


@pytest.fixture
def pb(grpc_gen):
    import echo_pb2
    import echo_pb2_grpc
    from hc import health_pb2, health_pb2_grpc
    from google.rpc import status_pb2

    class Stubs:
        pass
    s = Stubs()
    s.pb, s.grpc, s.health, s.health_grpc, s.status = (
        echo_pb2, echo_pb2_grpc, health_pb2, health_pb2_grpc, status_pb2)
    return s


def channel(target, **opts):
    return grpc.insecure_channel(target, options=list(opts.items()))


def stub(pb, target, **opts):
    return pb.grpc.EchoStub(channel(target, **opts))


def stats(pb, target):
    return stub(pb, target).Stats(pb.pb.StatsRequest(), timeout=5)


@pytest.mark.parametrize("where", ["unix", "tcp"])
def test_four_shapes(testd, pb, where):
    d = testd()
    st = stub(pb, getattr(d, where))
    r = st.Unary(pb.pb.EchoRequest(text="hello", number=42), timeout=5)
    assert (r.text, r.number) == ("hello", 42)

    rs = list(st.ServerStream(pb.pb.StreamRequest(count=20, size=100000),
                              timeout=10))
    assert [x.number for x in rs] == list(range(20))
    assert all(x.total == 100000 and
               sum(len(c) for c in x.chunks) == 100000 for x in rs)

    reqs = [pb.pb.EchoRequest(text=t, number=n)
            for t, n in (("a", 1), ("b", 2), ("c", 3))]
    r = st.ClientStream(iter(reqs), timeout=5)
    assert (r.text, r.number, r.count) == ("abc", 6, 3)

    # Bidi: each answer comes before the next request is sent.
    got = []
    ev = threading.Event()

    def gen():
        for i in range(5):
            ev.clear()
            yield pb.pb.EchoRequest(text=str(i), number=i)
            assert ev.wait(5), "no echo for message %d" % i
    for x in st.Bidi(gen(), timeout=10):
        got.append(x.text)
        ev.set()
    assert got == ["0", "1", "2", "3", "4"]


def test_many_concurrent_calls_one_connection(testd, pb):
    d = testd()
    st = stub(pb, d.tcp)
    futs = [st.Unary.future(pb.pb.EchoRequest(text=str(i), number=i),
                            timeout=10) for i in range(300)]
    assert [f.result().number for f in futs] == list(range(300))


def test_metadata_and_unix_peer_credentials(testd, pb):
    d = testd()
    st = stub(pb, d.unix)
    r = st.Unary(pb.pb.EchoRequest(text="metadata"), timeout=5,
                 metadata=[("workload.spiffe.io", "true")])
    assert r.text == "true"
    r = st.Unary(pb.pb.EchoRequest(text="peer"), timeout=5)
    assert r.text == "uid=%d pid=%d" % (os.getuid(), os.getpid())
    # The Workload API socket mode of SPIRE.
    assert oct(os.stat(d.unix_path).st_mode & 0o777) == "0o777"


def test_unknown_method_is_unimplemented(testd, pb):
    d = testd()
    ch = channel(d.tcp)
    call = ch.unary_unary("/spirelet.test.Echo/Nope")
    with pytest.raises(grpc.RpcError) as e:
        call(b"", timeout=5)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_status_details_round_trip(testd, pb):
    d = testd()
    st = stub(pb, d.tcp)
    msg = "entry not found: \u00e9t\u00e9 100% \n done"
    with pytest.raises(grpc.RpcError) as e:
        st.Fail(pb.pb.FailRequest(code=5, message=msg,
                                  detail_type_url="type.example/x.Y",
                                  detail_value=b"\x00\x01\xff"), timeout=5)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert e.value.details() == msg
    md = dict(e.value.trailing_metadata())
    status = pb.status.Status.FromString(md["grpc-status-details-bin"])
    assert status.code == 5 and status.message == msg
    assert len(status.details) == 1
    assert status.details[0].type_url == "type.example/x.Y"
    assert status.details[0].value == b"\x00\x01\xff"


def test_deadline_exceeded_and_handler_told(testd, pb):
    d = testd()
    st = stub(pb, d.tcp)
    before = stats(pb, d.tcp).cancels
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        st.Sleep(pb.pb.SleepRequest(ms=5000), timeout=0.3)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - t0 < 3
    wait_for(lambda: stats(pb, d.tcp).cancels > before, 5,
             "the Sleep handler to see its cancellation")
    assert stats(pb, d.tcp).open == 0


def test_server_side_deadline(testd, pb):
    """The server's own grpc-timeout timer ends the call (nghttp sends the
    header and, unlike grpcio, never resets the stream itself)."""
    d = testd()
    req = pb.pb.SleepRequest(ms=5000).SerializeToString()
    body = bytes([0]) + len(req).to_bytes(4, "big") + req
    path = os.path.join(os.path.dirname(d.unix_path), "req.bin")
    with open(path, "wb") as f:
        f.write(body)
    before = stats(pb, d.tcp).cancels
    out = subprocess.run(
        ["nghttp", "-v", "-H", "content-type: application/grpc",
         "-H", "te: trailers", "-H", "grpc-timeout: 200m", "-d", path,
         "http://127.0.0.1:%d/spirelet.test.Echo/Sleep" % d.port],
        capture_output=True, text=True, timeout=10)
    assert "grpc-status: 4" in out.stdout, out.stdout
    assert stats(pb, d.tcp).cancels == before + 1


def big_request(pb, size, flags=1):
    """An EchoRequest whose encoding is exactly size bytes."""
    req = pb.pb.EchoRequest(flags=flags)
    while req.ByteSize() + CHUNK + 200 < size:
        req.chunks.append(b"x" * CHUNK)
    req.chunks.append(b"")
    for trim in range(4):
        # A length's varint grows at 128: shorten one chunk if needed.
        req.chunks[0] = b"x" * (CHUNK - trim)
        lo, hi = 0, 65000      # nanopb's 16-bit sizes: <= 65535 a chunk
        while lo < hi:
            mid = (lo + hi) // 2
            req.chunks[-1] = b"x" * mid
            if req.ByteSize() < size:
                lo = mid + 1
            else:
                hi = mid
        req.chunks[-1] = b"x" * lo
        if req.ByteSize() == size:
            return req
    raise AssertionError("cannot make a request of %d bytes" % size)


def test_message_size_limits(testd, pb):
    d = testd()
    st = stub(pb, d.tcp, **{"grpc.max_receive_message_length": 16 * MIB})
    limit = 4 * MIB
    r = st.Unary(big_request(pb, limit), timeout=20)
    assert r.total > limit - 100 * 1024
    with pytest.raises(grpc.RpcError) as e:
        st.Unary(big_request(pb, limit + 1), timeout=20)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in e.value.details()
    # Replies: just under the limit leaves, just over is refused locally.
    rs = list(st.ServerStream(pb.pb.StreamRequest(count=1,
                                                  size=limit - 2 * CHUNK),
                              timeout=20))
    assert len(rs) == 1
    with pytest.raises(grpc.RpcError) as e:
        list(st.ServerStream(pb.pb.StreamRequest(count=1, size=limit + 1),
                             timeout=20))
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # The connection is fine afterwards.
    assert st.Unary(pb.pb.EchoRequest(text="ok"), timeout=5).text == "ok"


def test_configured_message_limit(testd, pb):
    d = testd("-m", "1000")
    st = stub(pb, d.unix)
    assert st.Unary(big_request(pb, 1000), timeout=5).total > 0
    with pytest.raises(grpc.RpcError) as e:
        st.Unary(big_request(pb, 1001), timeout=5)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_health(testd, pb):
    d = testd()
    for target in (d.unix, d.tcp):
        h = pb.health_grpc.HealthStub(channel(target))
        req = pb.health.HealthCheckRequest
        S = pb.health.HealthCheckResponse
        assert h.Check(req(service=""), timeout=5).status == S.SERVING
        assert h.Check(req(service="spirelet.test.Echo"),
                       timeout=5).status == S.SERVING
        assert h.Check(req(service="spirelet.test.Down"),
                       timeout=5).status == S.NOT_SERVING
        with pytest.raises(grpc.RpcError) as e:
            h.Check(req(service="no.such.Service"), timeout=5)
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
        w = h.Watch(req(service="no.such.Service"), timeout=5)
        assert next(w).status == S.SERVICE_UNKNOWN
        w.cancel()


def test_graceful_stop(testd, pb):
    d = testd()
    st = stub(pb, d.tcp)
    fut = st.Sleep.future(pb.pb.SleepRequest(ms=800), timeout=10)
    wait_for(lambda: stats(pb, d.tcp).open == 1, 5, "the Sleep call")
    d.proc.signal(signal.SIGTERM)
    # The call in flight finishes within the grace period...
    assert fut.result().text == "slept"
    assert d.proc.wait(10) == 0
    # ...and the listeners are gone.
    assert not os.path.exists(d.unix_path)
    assert "stopped" in d.proc.output()


@pytest.fixture
def grpcio_server(procs, grpc_gen, tmp_path):
    def start(listen, max_age_ms=0, certdir=None):
        argv = ["/usr/bin/python3", src_path("tests", "system",
                                             "grpc_echo_server.py"),
                grpc_gen, listen, str(max_age_ms)]
        if certdir:
            argv.append(certdir)
        p = procs(argv, name="grpcio_server")
        wait_for(lambda: "ready" in p.output(), 20, "grpcio server", p)
        return p
    return start


@pytest.mark.parametrize("where", ["unix", "tcp"])
def test_spirelet_client_against_grpcio(grpcio_server, free_tcp, tmp_path,
                                        where):
    if where == "unix":
        target = "unix:" + str(tmp_path / "py.sock")
    else:
        target = "127.0.0.1:%d" % free_tcp
    grpcio_server(target)
    out = subprocess.run([build_path("tests", "system", "rpc_testd"),
                          "client", target], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    for name in ("unary", "server_stream", "client_stream", "bidi",
                 "fail_with_details", "deadline", "unknown_method",
                 "large_request"):
        assert "ok " + name in out.stdout


def test_spirelet_client_goaway_transparent(grpcio_server, free_tcp):
    """grpcio recycles each connection after 300 ms with GOAWAY, as SPIRE's
    server does every 3 minutes: every call still succeeds."""
    target = "127.0.0.1:%d" % free_tcp
    grpcio_server(target, max_age_ms=300)
    out = subprocess.run([build_path("tests", "system", "rpc_testd"),
                          "client", "-n", "80", target],
                         capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, RPC_TESTD_DEBUG="1"))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert out.stdout.count("ok unary") == 80
    assert out.stderr.count("GOAWAY") >= 2, "no GOAWAY seen"


def test_spirelet_client_against_spirelet(testd):
    d = testd()
    out = subprocess.run([build_path("tests", "system", "rpc_testd"),
                          "client", d.unix], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_client_connect_failure_is_unavailable(tmp_path):
    out = subprocess.run([build_path("tests", "system", "rpc_testd"),
                          "client", "-n", "1", "unix:" +
                          str(tmp_path / "nobody.sock")],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 1
    assert "UNAVAILABLE" in out.stdout


@pytest.fixture
def free_tcp():
    from conftest import free_port
    return free_port()


def test_unix_listener_clears_a_stale_socket(procs, tmp_path, pb):
    import socket as so
    d = tmp_path / "new" / "dir"          # parents are created
    path = str(d / "echo.sock")
    os.makedirs(str(d))
    s = so.socket(so.AF_UNIX, so.SOCK_STREAM)
    s.bind(path)                          # left behind, nobody accepts
    s.close()
    p = procs([build_path("tests", "system", "rpc_testd"), "serve", "-u",
               "unix:" + path])
    from conftest import wait_for_socket
    wait_for_socket(path, proc=p)
    st = stub(pb, "unix:" + path)
    assert st.Unary(pb.pb.EchoRequest(text="x"), timeout=5).text == "x"
    assert "removed stale socket" in p.output()
    # A second server on the same live socket refuses to start.
    q = procs([build_path("tests", "system", "rpc_testd"), "serve", "-u",
               "unix:" + path], name="second")
    assert q.wait(10) != 0
    assert "another process is serving" in q.output()


def test_unix_listener_keeps_other_files(procs, tmp_path):
    path = tmp_path / "not-a-socket"
    path.write_text("precious")
    p = procs([build_path("tests", "system", "rpc_testd"), "serve", "-u",
               "unix:" + str(path)])
    assert p.wait(10) != 0
    assert path.read_text() == "precious"
