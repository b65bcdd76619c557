"""Hostile peers against rpc_testd: each gets a clear error or is closed,
a well-behaved grpcio client on the same listener keeps its answers, and
memory returns to its baseline once they are gone."""
import os
import socket
import struct
import subprocess
import threading
import time

import grpc
import pytest

import h2raw as h2
from conftest import needs_plain_memory, wait_for
from test_rpc import big_request, channel, pb, stats, stub  # noqa: F401

MIB = 1024 * 1024


def open_h2(addr, **settings):
    s = h2.connect(addr)
    s.sendall(h2.PREFACE + h2.settings(**settings))
    return s


def rss_kib(proc):
    return proc.rss_kib()


def well_behaved(pb, d):
    """A grpcio client that must keep getting answers meanwhile."""
    st = stub(pb, d.tcp)
    r = st.Unary(pb.pb.EchoRequest(text="still here", number=1), timeout=5)
    assert r.text == "still here"


def garbage(addr, data):
    s = h2.connect(addr)
    s.sendall(data)
    frames, closed = h2.read_frames(s, timeout=5)
    s.close()
    return frames, closed


@pytest.mark.parametrize("where", ["unix", "tcp"])
def test_garbage_bytes_get_goaway(testd, pb, where):
    d = testd()
    addr = d.unix_path if where == "unix" else ("127.0.0.1", d.port)
    for data in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                 os.urandom(64), b"\x16\x03\x01\x00\xa5\x01\x00"):
        frames, closed = garbage(addr, data)
        assert closed, "connection left open after garbage"
        assert h2.goaway_code(frames) == h2.PROTOCOL_ERROR, frames
        well_behaved(pb, d)
    assert d.proc.alive()


def test_frame_over_the_limit(testd, pb):
    d = testd()
    s = open_h2(("127.0.0.1", d.port))
    s.sendall(struct.pack(">BHBBI", 0, 16385, h2.PING, 0, 0) +
              b"\0" * 16385)
    frames, closed = h2.read_frames(s, timeout=5)
    assert h2.goaway_code(frames) == h2.FRAME_SIZE_ERROR, frames
    assert closed
    well_behaved(pb, d)


def test_bad_frame_gets_goaway(testd, pb):
    d = testd()
    s = open_h2(("127.0.0.1", d.port))
    # DATA on stream 0 is a connection error (RFC 9113 6.1).
    s.sendall(h2.frame(h2.DATA, 0, 0, b"xx"))
    frames, closed = h2.read_frames(s, timeout=5)
    assert h2.goaway_code(frames) == h2.PROTOCOL_ERROR, frames
    assert closed
    well_behaved(pb, d)


def thousand_streams(addr):
    s = open_h2(addr)
    block = h2.hpack(h2.grpc_headers("/spirelet.test.Echo/Bidi"))
    s.sendall(b"".join(h2.frame(h2.HEADERS, h2.END_HEADERS, 2 * i + 1,
                                block) for i in range(1000)))
    return s


def test_thousand_streams_at_once(testd, pb):
    d = testd()
    s = thousand_streams(("127.0.0.1", d.port))
    frames, closed = h2.read_frames(
        s, until=lambda f: False, timeout=3)
    refused = h2.rst_codes(frames).count(h2.REFUSED_STREAM)
    assert not closed
    assert h2.goaway_code(frames) is None
    # RPC_STREAMS_MAX (128) streams are served, the rest refused.
    assert refused == 1000 - 128, h2.rst_codes(frames)[:10]
    wait_for(lambda: stats(pb, d.tcp).open == 128, 5, "128 open calls")
    well_behaved(pb, d)
    s.close()
    # Connection loss cancels every handler.
    wait_for(lambda: stats(pb, d.tcp).open == 0, 5, "calls cancelled")


def slow_reader(addr):
    """Asks for a long server stream with huge windows, then never reads."""
    s = h2.connect(addr)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(h2.PREFACE + h2.settings(initial_window_size=2**31 - 1) +
              h2.window_update(0, 2**31 - 65536))
    req = b"\x08\xe8\x07\x10\xe0\xd4\x03"   # count=1000, size=60000
    s.sendall(h2.frame(h2.HEADERS, h2.END_HEADERS, 1, h2.hpack(
        h2.grpc_headers("/spirelet.test.Echo/ServerStream"))) +
        h2.frame(h2.DATA, h2.END_STREAM, 1, h2.grpc_msg(req)))
    return s


@needs_plain_memory
def test_client_that_stops_reading(testd, pb):
    d = testd()
    warm_up(pb, d)
    base = rss_kib(d.proc)
    socks = [slow_reader(("127.0.0.1", d.port)) for _ in range(3)]
    wait_for(lambda: stats(pb, d.tcp).open == 3, 5, "3 streams")
    time.sleep(1)
    # 60 MB asked for on each: what is held stays within the caps
    # (RPC_STREAM_OUT_MAX, RPC_SOCK_OUT_MAX and the kernel's buffers).
    grown = rss_kib(d.proc) - base
    print("slow readers: base %d grown %d" % (base, grown))
    assert grown < 3 * 4 * 1024, "grew %d KiB for 3 stalled streams" % grown
    well_behaved(pb, d)
    assert stats(pb, d.tcp).open == 3
    for s in socks:
        s.close()
    wait_for(lambda: stats(pb, d.tcp).open == 0, 5, "streams cancelled")


def test_half_open_connections_are_closed(testd, pb):
    d = testd("-h", "1")
    socks = []
    for data in (b"", b"PRI * HTTP/2.0\r\n", h2.PREFACE):
        s = h2.connect(("127.0.0.1", d.port))
        if data:
            s.sendall(data)
        socks.append(s)
    t0 = time.monotonic()
    for s in socks:
        frames, closed = h2.read_frames(s, timeout=5)
        assert closed
        s.close()
    assert time.monotonic() - t0 < 4
    well_behaved(pb, d)


def test_oversized_message_refused_before_buffering(testd, pb, tmp_path):
    """The 5-byte prefix announces 100 MB: RESOURCE_EXHAUSTED at once,
    while the body is still to come."""
    d = testd()
    path = tmp_path / "big.bin"
    path.write_bytes(struct.pack(">BI", 0, 100 * MIB) + b"x" * 1000)
    out = subprocess.run(
        ["nghttp", "-v", "-H", "content-type: application/grpc",
         "-H", "te: trailers", "-d", str(path),
         "http://127.0.0.1:%d/spirelet.test.Echo/Unary" % d.port],
        capture_output=True, text=True, timeout=10)
    assert "grpc-status: 8" in out.stdout, out.stdout
    assert "larger than max" in out.stdout
    well_behaved(pb, d)


def test_compressed_message_refused(testd, pb, tmp_path):
    d = testd()
    path = tmp_path / "z.bin"
    path.write_bytes(struct.pack(">BI", 1, 3) + b"abc")
    out = subprocess.run(
        ["nghttp", "-v", "-H", "content-type: application/grpc",
         "-H", "te: trailers", "-d", str(path),
         "http://127.0.0.1:%d/spirelet.test.Echo/Unary" % d.port],
        capture_output=True, text=True, timeout=10)
    assert "grpc-status: 13" in out.stdout, out.stdout


def test_malformed_request_is_invalid_argument(testd, pb):
    d = testd()
    ch = channel(d.tcp)
    call = ch.unary_unary("/spirelet.test.Echo/Unary")
    with pytest.raises(grpc.RpcError) as e:
        call(b"\x0a\xff\xff\xff", timeout=5)   # a string past the end
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    well_behaved(pb, d)


def warm_up(pb, d):
    st = stub(pb, d.tcp, **{"grpc.max_receive_message_length": 16 * MIB})
    for _ in range(3):
        st.Unary(big_request(pb, 4 * MIB - 1000, flags=0), timeout=20)
        list(st.ServerStream(pb.pb.StreamRequest(count=50, size=60000),
                             timeout=20))
        st.Unary(pb.pb.EchoRequest(text="x"), timeout=5)
    time.sleep(0.3)


@needs_plain_memory
def test_memory_returns_to_baseline(testd, pb):
    d = testd("-h", "1")
    tcp = ("127.0.0.1", d.port)
    warm_up(pb, d)
    base = rss_kib(d.proc)
    stop = threading.Event()
    errors = []

    def steady():
        st = stub(pb, d.tcp)
        while not stop.is_set():
            try:
                st.Unary(pb.pb.EchoRequest(text="x"), timeout=5)
            except grpc.RpcError as e:
                errors.append(e)
            time.sleep(0.01)
    t = threading.Thread(target=steady)
    t.start()
    try:
        held = []
        for _ in range(3):
            held.append(thousand_streams(tcp))
            held.append(slow_reader(tcp))
        for _ in range(20):
            held.append(h2.connect(tcp))            # half-open
        for _ in range(30):
            garbage(tcp, os.urandom(100))
        for _ in range(5):
            s = open_h2(tcp)
            s.sendall(h2.frame(h2.HEADERS, h2.END_HEADERS, 1, h2.hpack(
                h2.grpc_headers("/spirelet.test.Echo/Unary"))) +
                h2.frame(h2.DATA, 0, 1, struct.pack(">BI", 0, 4 * MIB - 10)
                         + b"y" * 60000))
            held.append(s)
        time.sleep(1.5)
        peak = rss_kib(d.proc)
        for s in held:
            s.close()
        wait_for(lambda: stats(pb, d.tcp).open == 0, 10, "calls gone")
    finally:
        stop.set()
        t.join()
    assert not errors, errors[:3]
    time.sleep(0.5)
    after = rss_kib(d.proc)
    slack = max(512, base // 5)
    print("rss base %d peak %d after %d" % (base, peak, after))
    assert after <= base + slack, \
        "RSS %d KiB after, baseline %d KiB, peak %d KiB" % (after, base,
                                                          peak)
    assert d.proc.alive()
