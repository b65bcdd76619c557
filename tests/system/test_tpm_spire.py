"""tpm_devid interop with the real SPIRE v1.13.3, both directions: the
payload and challenge response our agent half makes (hal/ and attest/
against swtpm) are accepted by a real spire-server configured with
NodeAttestor "tpm_devid", which issues the agent ID our server half
computes; and a real spire-agent with tpm_devid, loading the DevID
blobs `spirelet tpm provision` wrote, passes our server-side checks.

AttestAgent is driven by a small grpcio client with stubs generated at
test time from our proto/ files. Python's grpc cannot skip host-name
checks, and SPIRE's server certificate carries only a SPIFFE ID, so the
client talks h2c to a local TLS relay that checks the server's chain
against the bundle (ALPN h2) and forwards the bytes.
"""
import os
import queue
import re
import select
import shutil
import socket
import ssl
import subprocess
import sys
import threading

import pytest

from conftest import src_path
from spire import SpireServer, sockdir, spire  # noqa: F401 (fixtures)
from tpm_util import (DevID, DevIDAgent, lab_ca, swtpm,  # noqa: F401
                      tpm_state)


@pytest.fixture(scope="module")
def agent_pb(tmp_path_factory):
    """agent_pb2, agent_pb2_grpc and types_pb2 for SPIRE's Agent API.
    The protos are copied under another directory name: a package named
    "spire" would collide with the spire.py test module."""
    out = tmp_path_factory.mktemp("spirepb")
    pkg = out / "spireapi"
    pkg.mkdir()
    shutil.copy(src_path("proto", "spire", "api", "types", "types.proto"),
                pkg / "types.proto")
    with open(src_path("proto", "spire", "api", "server", "agent", "v1",
                       "agent.proto")) as f:
        text = f.read().replace('import "spire/api/types/types.proto"',
                                'import "spireapi/types.proto"')
    (pkg / "agent.proto").write_text(text)
    import grpc_tools
    inc = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    subprocess.run(["/usr/bin/python3", "-m", "grpc_tools.protoc",
                    "-I" + inc, "-I" + str(out), "--python_out=" + str(out),
                    "--grpc_python_out=" + str(out),
                    "spireapi/types.proto", "spireapi/agent.proto"],
                   check=True)
    sys.path.insert(0, str(out))
    from spireapi import agent_pb2, agent_pb2_grpc, types_pb2
    return agent_pb2, agent_pb2_grpc, types_pb2


class TlsRelay:
    """Plain TCP on a local port to TLS (ALPN h2) at the server, whose
    chain must verify against cafile; host names are not checked."""

    def __init__(self, port, cafile):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ctx.check_hostname = False
        self.ctx.load_verify_locations(cafile)
        self.ctx.set_alpn_protocols(["h2"])
        self.upstream = port
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(4)
        self.port = self.ls.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self._pump, args=(c,),
                             daemon=True).start()

    def _pump(self, c):
        try:
            u = self.ctx.wrap_socket(socket.create_connection(
                ("127.0.0.1", self.upstream), timeout=10))
            u.settimeout(None)
            while not self.stopped:
                r = [u] if u.pending() else select.select([c, u], [], [],
                                                          1)[0]
                for s in r:
                    try:
                        data = s.recv(65536)
                    except ssl.SSLWantReadError:
                        continue
                    if not data:
                        return
                    (u if s is c else c).sendall(data)
        except OSError:
            return
        finally:
            c.close()

    def close(self):
        self.stopped = True
        self.ls.close()


def csr_der(d):
    key = os.path.join(d, "agent.key")
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey",
                    "-noout", "-out", key], check=True, capture_output=True)
    return subprocess.run(["openssl", "req", "-new", "-key", key, "-subj",
                           "/C=US/O=SPIRE", "-outform", "DER"], check=True,
                          capture_output=True).stdout


def attest_agent(pb, port, bundle, payload, answer, csr):
    """AttestAgent with a tpm_devid payload: (result, error)."""
    import grpc
    agent_pb2, agent_pb2_grpc, types_pb2 = pb
    relay = TlsRelay(port, bundle)
    answers = queue.Queue()
    req = agent_pb2.AttestAgentRequest

    def requests():
        yield req(params=req.Params(
            data=types_pb2.AttestationData(type="tpm_devid",
                                           payload=payload.encode()),
            params=agent_pb2.AgentX509SVIDParams(csr=csr)))
        a = answers.get(timeout=30)
        if a is not None:
            yield req(challenge_response=a)

    ch = grpc.insecure_channel("127.0.0.1:%d" % relay.port)
    result = None
    try:
        for resp in agent_pb2_grpc.AgentStub(ch).AttestAgent(requests(),
                                                              timeout=30):
            if resp.HasField("challenge"):
                answers.put(answer(resp.challenge.decode()).encode())
            elif resp.HasField("result"):
                result = resp.result
        return result, None
    except grpc.RpcError as e:
        answers.put(None)
        return None, e
    finally:
        ch.close()
        relay.close()


def test_real_spire_server_accepts_our_tpm_devid(spire, procs, sockdir,
                                                  tmp_path, swtpm,
                                                  tpm_state, spirelet,
                                                  agent_pb):
    ca_pem, ca_key = lab_ca(str(tmp_path))
    devid = DevID(spirelet, swtpm.tcti, str(tmp_path), ca_pem, ca_key)
    plugin = """NodeAttestor "tpm_devid" {
        plugin_data {
            devid_ca_path = "%s"
            endorsement_ca_path = "%s"
        }
    }""" % (ca_pem, tpm_state.ek_ca_pem)
    srv = SpireServer(spire, procs, tmp_path / "srv", sockdir,
                      plugins=plugin).start()
    bundle = str(tmp_path / "bundle.pem")
    with open(bundle, "w") as f:
        f.write(srv.bundle_pem())
    agent = DevIDAgent(swtpm.tcti, devid)
    try:
        result, err = attest_agent(agent_pb, srv.port, bundle,
                                   agent.payload(), agent.answer,
                                   csr_der(str(tmp_path)))
    finally:
        agent.close()
    assert err is None, "AttestAgent failed: %s\n%s" % (
        err, srv.proc.output()[-3000:])
    want = "/spire/agent/tpm_devid/" + devid.fingerprint()
    assert result.svid.id.trust_domain == "example.org"
    assert result.svid.id.path == want
    assert result.reattestable
    # The server records the selectors our server half computes too.
    out = srv.cli("agent", "show", "-spiffeID",
                  "spiffe://example.org" + want).stdout
    assert "tpm_devid:subject:cn:board-42" in out
    assert "tpm_devid:issuer:cn:lab-devid-ca" in out
    assert re.search(r"tpm_devid:ca:fingerprint:[0-9a-f]{40}", out)


def test_real_spire_server_refuses_a_wrong_ek_ca(spire, procs, sockdir,
                                                 tmp_path, swtpm,
                                                 spirelet, agent_pb):
    # The server trusts a CA that did not sign this TPM's EK.
    other_ca, _ = lab_ca(str(tmp_path), "not-the-vendor")
    ca_pem, ca_key = lab_ca(str(tmp_path))
    devid = DevID(spirelet, swtpm.tcti, str(tmp_path), ca_pem, ca_key)
    plugin = """NodeAttestor "tpm_devid" {
        plugin_data {
            devid_ca_path = "%s"
            endorsement_ca_path = "%s"
        }
    }""" % (ca_pem, other_ca)
    srv = SpireServer(spire, procs, tmp_path / "srv", sockdir,
                      plugins=plugin).start()
    bundle = str(tmp_path / "bundle.pem")
    with open(bundle, "w") as f:
        f.write(srv.bundle_pem())
    agent = DevIDAgent(swtpm.tcti, devid)
    try:
        result, err = attest_agent(agent_pb, srv.port, bundle,
                                   agent.payload(), agent.answer,
                                   csr_der(str(tmp_path)))
    finally:
        agent.close()
    assert result is None and err is not None
    assert "cannot verify EK signature" in err.details()


def _x509_ca_and_server(d):
    """A CA, and an X509-SVID for spiffe://example.org/spire/server it
    signed, with the cryptography package: (ca_key, ca_cert, key_pem,
    chain_pem, bundle_path)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
    now = datetime.datetime.utcnow()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                         critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False,
                                       True, True, False, False),
                         critical=True)
          .add_extension(x509.SubjectAlternativeName([
                             x509.UniformResourceIdentifier(
                                 "spiffe://example.org")]),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.UniformResourceIdentifier(
                    "spiffe://example.org/spire/server")]), critical=True)
            .add_extension(x509.KeyUsage(True, False, True, False, True,
                                         False, False, False, False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([
                ExtendedKeyUsageOID.SERVER_AUTH,
                ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    bundle = os.path.join(d, "test-ca.pem")
    with open(bundle, "wb") as f:
        f.write(ca.public_bytes(pem))
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return ca_key, ca, key_pem, leaf.public_bytes(pem), bundle


def test_real_spire_agent_attests_to_our_checks(spire, procs, sockdir,
                                                tmp_path, swtpm, tpm_state,
                                                spirelet, agent_pb):
    """A real spire-agent with NodeAttestor tpm_devid, its TPM our swtpm
    on a Unix socket, attests to a small gRPC server whose AttestAgent
    runs our server-side checks (tpm_testd devid-server)."""
    import datetime
    from concurrent import futures
    import grpc
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from tpm_util import DevIDServer
    agent_pb2, agent_pb2_grpc, types_pb2 = agent_pb
    ca_pem, ca_key = lab_ca(str(tmp_path))
    devid = DevID(spirelet, swtpm.tcti, str(tmp_path), ca_pem, ca_key)
    tca_key, tca, key_pem, chain_pem, bundle = _x509_ca_and_server(
        str(tmp_path))
    verdicts = queue.Queue()

    class Agent(agent_pb2_grpc.AgentServicer):
        def AttestAgent(self, request_iterator, context):
            first = next(request_iterator)
            checks = DevIDServer(ca_pem, tpm_state.ek_ca_pem)
            try:
                chal = checks.send(first.params.data.payload.decode())
                if chal.startswith("REFUSED"):
                    verdicts.put(chal)
                    context.abort(grpc.StatusCode.PERMISSION_DENIED, chal)
                yield agent_pb2.AttestAgentResponse(
                    challenge=chal.encode())
                resp = next(request_iterator)
                v = checks.send(resp.challenge_response.decode())
            finally:
                checks.close()
            verdicts.put(v)
            if not v.startswith("ACCEPTED"):
                context.abort(grpc.StatusCode.PERMISSION_DENIED, v)
            path = v.split()[1]
            csr = x509.load_der_x509_csr(first.params.params.csr)
            now = datetime.datetime.utcnow()
            svid = (x509.CertificateBuilder().subject_name(x509.Name([]))
                    .issuer_name(tca.subject).public_key(csr.public_key())
                    .serial_number(3)
                    .not_valid_before(now - datetime.timedelta(minutes=1))
                    .not_valid_after(now + datetime.timedelta(hours=1))
                    .add_extension(x509.SubjectAlternativeName([
                        x509.UniformResourceIdentifier(
                            "spiffe://example.org" + path)]),
                        critical=True)
                    .sign(tca_key, hashes.SHA256()))
            yield agent_pb2.AttestAgentResponse(
                result=agent_pb2.AttestAgentResponse.Result(
                    svid=types_pb2.X509SVID(
                        cert_chain=[svid.public_bytes(
                            serialization.Encoding.DER)],
                        id=types_pb2.SPIFFEID(trust_domain="example.org",
                                              path=path),
                        expires_at=int(now.timestamp()) + 3600),
                    reattestable=True))

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    agent_pb2_grpc.add_AgentServicer_to_server(Agent(), server)
    port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials(
        [(key_pem, chain_pem)]))
    server.start()
    try:
        d = tmp_path / "agent"
        d.mkdir()
        conf = d / "agent.conf"
        conf.write_text("""agent {
    data_dir = "%(d)s/data"
    log_level = "DEBUG"
    server_address = "127.0.0.1"
    server_port = "%(port)d"
    socket_path = "%(sock)s/agent.sock"
    trust_bundle_path = "%(bundle)s"
    trust_domain = "example.org"
}
plugins {
    NodeAttestor "tpm_devid" {
        plugin_data {
            devid_cert_path = "%(cert)s"
            devid_priv_path = "%(priv)s"
            devid_pub_path = "%(pub)s"
            tpm_device_path = "%(tpm)s"
        }
    }
    KeyManager "memory" { plugin_data {} }
    WorkloadAttestor "unix" { plugin_data {} }
}
""" % {"d": d, "port": port, "sock": sockdir, "bundle": bundle,
            "cert": devid.cert, "priv": devid.priv, "pub": devid.pub,
            "tpm": swtpm.sock})
        agent = procs([spire.agent, "run", "-config", str(conf)],
                      name="spire-agent")
        try:
            v = verdicts.get(timeout=60)
        except queue.Empty:
            raise AssertionError("spire-agent never attested:\n" +
                                 agent.output()[-4000:])
        assert v.startswith("ACCEPTED /spire/agent/tpm_devid/" +
                            devid.fingerprint()), v
        assert "subject:cn:board-42" in v.split()
    finally:
        server.stop(0)
