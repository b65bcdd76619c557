"""gRPC over TLS: mutual TLS with grpcio both ways, optional client
certificates, a certificate from the wrong CA, and a client without ALPN.
Certificates are made at test time with the openssl CLI."""
import os
import socket
import ssl
import subprocess

import grpc
import pytest

from conftest import build_path, free_port, wait_for
from test_rpc import grpcio_server, pb  # noqa: F401

EXT = """basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=URI:spiffe://example.org/%s,DNS:localhost
"""


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   capture_output=True)


def make_ca(d, name):
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-out", name + ".key", cwd=d)
    openssl("req", "-x509", "-new", "-key", name + ".key", "-subj",
            "/CN=" + name, "-days", "2", "-out", name + ".pem", "-addext",
            "basicConstraints=critical,CA:TRUE", "-addext",
            "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def make_leaf(d, ca, name, sid):
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write(EXT % sid)
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-out", name + ".key", cwd=d)
    openssl("req", "-new", "-key", name + ".key", "-subj", "/CN=" + name,
            "-out", name + ".csr", cwd=d)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem",
            "-CAkey", ca + ".key", "-CAcreateserial", "-days", "2",
            "-out", name + ".pem", "-extfile", name + ".ext", cwd=d)
    openssl("x509", "-in", name + ".pem", "-outform", "DER", "-out",
            name + ".der", cwd=d)
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", name + ".key",
            "-outform", "DER", "-out", name + ".key.der", cwd=d)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("certs"))
    make_ca(d, "ca")
    make_ca(d, "evil")
    make_leaf(d, "ca", "server", "server")
    make_leaf(d, "ca", "client", "client")
    make_leaf(d, "evil", "intruder", "client")
    openssl("x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der",
            cwd=d)

    def read(name):
        with open(os.path.join(d, name), "rb") as f:
            return f.read()
    return d, read


def tls_channel(d, read, client="client"):
    if client:
        creds = grpc.ssl_channel_credentials(read("ca.pem"),
                                             read(client + ".key"),
                                             read(client + ".pem"))
    else:
        creds = grpc.ssl_channel_credentials(read("ca.pem"))
    return grpc.secure_channel("127.0.0.1:%d" % d.tls_port, creds, options=[
        ("grpc.ssl_target_name_override", "localhost")])


@pytest.fixture
def tlsd(testd, certs):
    return testd("-T", "127.0.0.1:0", "-c", certs[0], "-h", "2")


def test_mutual_tls_with_grpcio(tlsd, certs, pb):
    st = pb.grpc.EchoStub(tls_channel(tlsd, certs[1]))
    r = st.Unary(pb.pb.EchoRequest(text="peer"), timeout=5)
    assert r.text.endswith(" id=spiffe://example.org/client"), r.text
    rs = list(st.ServerStream(pb.pb.StreamRequest(count=5, size=70000),
                              timeout=10))
    assert len(rs) == 5
    r = st.ClientStream(iter([pb.pb.EchoRequest(text="a", number=1),
                              pb.pb.EchoRequest(text="b", number=2)]),
                        timeout=5)
    assert (r.text, r.number) == ("ab", 3)
    assert [x.number for x in st.Bidi(iter(
        [pb.pb.EchoRequest(number=i) for i in range(4)]), timeout=5)] == \
        [0, 1, 2, 3]


def test_client_without_certificate_is_accepted(tlsd, certs, pb):
    st = pb.grpc.EchoStub(tls_channel(tlsd, certs[1], client=None))
    r = st.Unary(pb.pb.EchoRequest(text="peer"), timeout=5)
    assert r.text.endswith(" id=none"), r.text


def test_client_from_another_ca_is_refused(tlsd, certs, pb):
    st = pb.grpc.EchoStub(tls_channel(tlsd, certs[1], client="intruder"))
    with pytest.raises(grpc.RpcError) as e:
        st.Unary(pb.pb.EchoRequest(text="peer"), timeout=5)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    st = pb.grpc.EchoStub(tls_channel(tlsd, certs[1]))
    assert st.Unary(pb.pb.EchoRequest(text="x"), timeout=5).text == "x"


def test_tls_client_without_alpn_is_refused(tlsd, certs, pb):
    d, read = certs
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(d, "ca.pem"))
    ctx.load_cert_chain(os.path.join(d, "client.pem"),
                        os.path.join(d, "client.key"))
    raw = socket.create_connection(("127.0.0.1", tlsd.tls_port), 5)
    got = b""
    # The handshake itself completes (the chain is good); the server then
    # sees no ALPN h2 and closes before any HTTP/2 byte moves.
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    assert s.selected_alpn_protocol() is None
    try:
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00"
                  b"\x00\x00\x00\x00")
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except (ssl.SSLError, ConnectionError, socket.timeout):
        pass
    finally:
        raw.close()
    assert got == b"", "HTTP/2 spoken without ALPN h2"
    st = pb.grpc.EchoStub(tls_channel(tlsd, certs[1]))
    assert st.Unary(pb.pb.EchoRequest(text="x"), timeout=5).text == "x"


def test_plaintext_on_the_tls_port_is_closed(tlsd, pb):
    s = socket.create_connection(("127.0.0.1", tlsd.tls_port), 5)
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    s.settimeout(5)
    try:
        data = s.recv(4096)
    except ConnectionError:
        data = b""
    # Closed, or a TLS alert: never an HTTP/2 frame.
    assert data == b"" or data[:1] == b"\x15", data[:16]
    s.close()


def run_client(target, certdir):
    return subprocess.run([build_path("tests", "system", "rpc_testd"),
                           "client", "-c", certdir, target],
                          capture_output=True, text=True, timeout=60)


def test_spirelet_tls_client_against_spirelet(tlsd, certs):
    out = run_client("127.0.0.1:%d" % tlsd.tls_port, certs[0])
    assert out.returncode == 0, out.stdout + out.stderr


def test_spirelet_tls_client_against_grpcio(grpcio_server, certs):
    port = free_port()
    grpcio_server("127.0.0.1:%d" % port, 0, certs[0])
    out = run_client("127.0.0.1:%d" % port, certs[0])
    assert out.returncode == 0, out.stdout + out.stderr
