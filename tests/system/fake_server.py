"""A deliberately wrong SPIRE server for the agent's bad-input tests,
with grpcio and stubs generated at test time from our own protos. It
attests any join token, serves one entry and a bundle, and mints
workload SVIDs as the mode file says:

    good      a proper SVID for the CSR's key
    othertd   a chain for spiffe://evil.org, under evil.org's CA
    wrongkey  the right ID, but a key that is not the CSR's

    fake_server.py PORT DIR MODEFILE [SERVER_ID]

DIR receives ca.pem (the bundle to bootstrap with). SERVER_ID is the URI
of the server's own certificate (default spiffe://example.org/spire/server).
"""
import datetime
import os
import sys
import time
from concurrent import futures

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from spire.api.server.agent.v1 import agent_pb2, agent_pb2_grpc
from spire.api.server.bundle.v1 import bundle_pb2_grpc
from spire.api.server.entry.v1 import entry_pb2, entry_pb2_grpc
from spire.api.server.svid.v1 import svid_pb2, svid_pb2_grpc
from spire.api.types import types_pb2

TD = "example.org"


def make_ca(name, uri):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subj = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subj).issuer_name(subj)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                           critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False,
                                         True, True, False, False),
                           critical=True)
            .add_extension(x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(uri)]), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_svid(ca_key, ca_cert, pub, uri, ttl):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([
                x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SPIRE")]))
            .issuer_name(ca_cert.subject).public_key(pub)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(seconds=10))
            .not_valid_after(now + datetime.timedelta(seconds=ttl))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                           critical=True)
            .add_extension(x509.KeyUsage(True, False, True, False, True,
                                         False, False, False, False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH,
                 ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(uri)]), critical=False)
            .sign(ca_key, hashes.SHA256()))


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


class Server:
    def __init__(self, modefile):
        self.modefile = modefile
        self.ca_key, self.ca = make_ca("good CA", "spiffe://" + TD)
        self.evil_key, self.evil = make_ca("evil CA", "spiffe://evil.org")

    def mode(self):
        with open(self.modefile) as f:
            return f.read().strip()


class Agent(agent_pb2_grpc.AgentServicer):
    def __init__(self, s):
        self.s = s

    def AttestAgent(self, request_iterator, context):
        req = next(request_iterator)
        token = req.params.data.payload.decode()
        csr = x509.load_der_x509_csr(req.params.params.csr)
        uri = "spiffe://%s/spire/agent/join_token/%s" % (TD, token)
        cert = make_svid(self.s.ca_key, self.s.ca, csr.public_key(), uri,
                         3600)
        yield agent_pb2.AttestAgentResponse(
            result=agent_pb2.AttestAgentResponse.Result(
                svid=types_pb2.X509SVID(cert_chain=[der(cert)],
                                        expires_at=int(time.time()) + 3600),
                reattestable=False))


class Bundle(bundle_pb2_grpc.BundleServicer):
    def __init__(self, s):
        self.s = s

    def GetBundle(self, request, context):
        return types_pb2.Bundle(trust_domain=TD, x509_authorities=[
            types_pb2.X509Certificate(asn1=der(self.s.ca))])


class Entry(entry_pb2_grpc.EntryServicer):
    def SyncAuthorizedEntries(self, request_iterator, context):
        next(request_iterator)
        yield entry_pb2.SyncAuthorizedEntriesResponse(entries=[
            types_pb2.Entry(
                id="entry-1", revision_number=1, created_at=1,
                spiffe_id=types_pb2.SPIFFEID(trust_domain=TD, path="/w"),
                selectors=[types_pb2.Selector(type="unix",
                                              value="uid:%d" % os.getuid())])])


class SVID(svid_pb2_grpc.SVIDServicer):
    def __init__(self, s):
        self.s = s

    def BatchNewX509SVID(self, request, context):
        mode = self.s.mode()
        out = []
        for p in request.params:
            csr = x509.load_der_x509_csr(p.csr)
            if mode == "othertd":
                c = make_svid(self.s.evil_key, self.s.evil,
                              csr.public_key(), "spiffe://evil.org/w", 14)
                chain = [der(c), der(self.s.evil)]
            elif mode == "wrongkey":
                other = ec.generate_private_key(ec.SECP256R1()).public_key()
                c = make_svid(self.s.ca_key, self.s.ca, other,
                              "spiffe://%s/w" % TD, 14)
                chain = [der(c)]
            else:
                c = make_svid(self.s.ca_key, self.s.ca, csr.public_key(),
                              "spiffe://%s/w" % TD, 14)
                chain = [der(c)]
            out.append(svid_pb2.BatchNewX509SVIDResponse.Result(
                status=types_pb2.Status(code=0),
                svid=types_pb2.X509SVID(cert_chain=chain)))
        return svid_pb2.BatchNewX509SVIDResponse(results=out)


def main():
    port, d, modefile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    server_id = sys.argv[4] if len(sys.argv) > 4 else \
        "spiffe://%s/spire/server" % TD
    s = Server(modefile)
    key = ec.generate_private_key(ec.SECP256R1())
    ca_key, ca = (s.evil_key, s.evil) if "evil.org" in server_id else \
        (s.ca_key, s.ca)
    cert = make_svid(ca_key, ca, key.public_key(), server_id, 3600)
    with open(os.path.join(d, "ca.pem"), "wb") as f:
        f.write(s.ca.public_bytes(serialization.Encoding.PEM))
    creds = grpc.ssl_server_credentials([(
        key.private_bytes(serialization.Encoding.PEM,
                          serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()),
        cert.public_bytes(serialization.Encoding.PEM) +
        ca.public_bytes(serialization.Encoding.PEM))])
    # Connections live 1.5 s, so the agent meets GOAWAY every few syncs
    # (spire-server sends one every 3 minutes).
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=[
        ("grpc.max_connection_age_ms", 1500),
        ("grpc.max_connection_age_grace_ms", 1000)])
    agent_pb2_grpc.add_AgentServicer_to_server(Agent(s), srv)
    bundle_pb2_grpc.add_BundleServicer_to_server(Bundle(s), srv)
    entry_pb2_grpc.add_EntryServicer_to_server(Entry(), srv)
    svid_pb2_grpc.add_SVIDServicer_to_server(SVID(s), srv)
    srv.add_secure_port("127.0.0.1:%d" % port, creds)
    srv.start()
    with open(os.path.join(d, "ready"), "w") as f:
        f.write("ok\n")
    srv.wait_for_termination()


if __name__ == "__main__":
    main()
