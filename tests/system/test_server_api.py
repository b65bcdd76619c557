"""spirelet's server APIs called directly with grpcio on the admin
socket: the statuses SPIRE gives for bad input, and that nothing is
stored then."""
import os
import subprocess
import sys
import time

import grpc
import pytest

from conftest import src_path
from server_util import SpireletServer
from spire import sockdir, spire  # noqa: F401 (fixtures)

TD = "example.org"


@pytest.fixture(scope="session")
def spire_pb(tmp_path_factory):
    """Python stubs of our SPIRE API protos, as package "spireapi" (a
    package named spire would collide with the spire.py test module;
    test_tpm_spire.py makes the same package the same way, so whichever
    runs first registers the descriptors once)."""
    import grpc_tools
    out = tmp_path_factory.mktemp("spirepb")
    pkg = out / "spireapi"
    pkg.mkdir()
    for name, path in (("types", "spire/api/types/types.proto"),
                       ("agent", "spire/api/server/agent/v1/agent.proto"),
                       ("entry", "spire/api/server/entry/v1/entry.proto"),
                       ("svid", "spire/api/server/svid/v1/svid.proto")):
        with open(src_path("proto", *path.split("/"))) as f:
            text = f.read().replace('import "spire/api/types/types.proto"',
                                    'import "spireapi/types.proto"')
        (pkg / (name + ".proto")).write_text(text)
    inc = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    subprocess.run(["/usr/bin/python3", "-m", "grpc_tools.protoc",
                    "-I" + inc, "-I" + str(out), "--python_out=" + str(out),
                    "--grpc_python_out=" + str(out)] +
                   ["spireapi/%s.proto" % n for n in
                    ("types", "agent", "entry", "svid")], check=True)
    sys.path.insert(0, str(out))
    from spireapi import (agent_pb2, agent_pb2_grpc, entry_pb2,
                          entry_pb2_grpc, svid_pb2, svid_pb2_grpc,
                          types_pb2)

    class PB:
        pass
    pb = PB()
    for m in (agent_pb2, agent_pb2_grpc, entry_pb2, entry_pb2_grpc,
              svid_pb2, svid_pb2_grpc, types_pb2):
        setattr(pb, m.__name__.split(".")[-1], m)
    return pb


@pytest.fixture
def server(spirelet, spire, procs, sockdir, tmp_path):
    return SpireletServer(spirelet, spire, procs, tmp_path / "srv",
                          sockdir).start()


def _channel(srv):
    return grpc.insecure_channel("unix://" + srv.socket)


def test_bad_csr_and_missing_selectors(server, spire_pb):
    pb = spire_pb
    ch = _channel(server)
    svid = pb.svid_pb2_grpc.SVIDStub(ch)
    with pytest.raises(grpc.RpcError) as e:
        svid.MintX509SVID(pb.svid_pb2.MintX509SVIDRequest(csr=b"junk"))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "malformed CSR" in e.value.details()

    entry = pb.entry_pb2_grpc.EntryStub(ch)
    sid = pb.types_pb2.SPIFFEID
    r = entry.BatchCreateEntry(pb.entry_pb2.BatchCreateEntryRequest(
        entries=[pb.types_pb2.Entry(
            spiffe_id=sid(trust_domain=TD, path="/w"),
            parent_id=sid(trust_domain=TD, path="/node"))]))
    assert r.results[0].status.code == grpc.StatusCode.INVALID_ARGUMENT.\
        value[0]
    assert "selector list is empty" in r.results[0].status.message
    assert entry.CountEntries(pb.entry_pb2.CountEntriesRequest()).count == 0
    assert "selector list is empty" in server.log()

    # Positional results: one good entry between two bad ones.
    sel = [pb.types_pb2.Selector(type="unix", value="uid:1")]
    r = entry.BatchCreateEntry(pb.entry_pb2.BatchCreateEntryRequest(
        entries=[
            pb.types_pb2.Entry(spiffe_id=sid(trust_domain="other.org",
                                             path="/w"),
                               parent_id=sid(trust_domain=TD, path="/n"),
                               selectors=sel),
            pb.types_pb2.Entry(spiffe_id=sid(trust_domain=TD, path="/ok"),
                               parent_id=sid(trust_domain=TD, path="/n"),
                               selectors=sel),
            pb.types_pb2.Entry(spiffe_id=sid(trust_domain=TD,
                                             path="/spire/x"),
                               parent_id=sid(trust_domain=TD, path="/n"),
                               selectors=sel)]))
    assert [x.status.code for x in r.results] == [3, 0, 3]
    assert r.results[1].entry.id
    assert entry.CountEntries(pb.entry_pb2.CountEntriesRequest()).count == 1
    # The same entry again: AlreadyExists, and the existing one back.
    r2 = entry.BatchCreateEntry(pb.entry_pb2.BatchCreateEntryRequest(
        entries=[pb.types_pb2.Entry(
            spiffe_id=sid(trust_domain=TD, path="/ok"),
            parent_id=sid(trust_domain=TD, path="/n"), selectors=sel)]))
    assert r2.results[0].status.code == 6
    assert r2.results[0].entry.id == r.results[1].entry.id


def test_join_tokens_expire_and_are_single_use(server, spire_pb):
    pb = spire_pb
    ch = _channel(server)
    agent = pb.agent_pb2_grpc.AgentStub(ch)
    with pytest.raises(grpc.RpcError) as e:
        agent.CreateJoinToken(pb.agent_pb2.CreateJoinTokenRequest(ttl=0))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    agent.CreateJoinToken(pb.agent_pb2.CreateJoinTokenRequest(
        ttl=1, token="short"))
    time.sleep(2.1)

    def attest(token):
        req = pb.agent_pb2.AttestAgentRequest(
            params=pb.agent_pb2.AttestAgentRequest.Params(
                data=pb.types_pb2.AttestationData(type="join_token",
                                                  payload=token.encode()),
                params=pb.agent_pb2.AgentX509SVIDParams(csr=b"x")))
        return list(agent.AttestAgent(iter([req])))

    with pytest.raises(grpc.RpcError) as e:
        attest("short")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "join token expired" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        attest("short")
    assert "does not exist or has already been used" in e.value.details()
    assert agent.CountAgents(pb.agent_pb2.CountAgentsRequest()).count == 0


def test_agent_only_methods_refuse_the_admin_socket(server, spire_pb):
    pb = spire_pb
    svid = pb.svid_pb2_grpc.SVIDStub(_channel(server))
    with pytest.raises(grpc.RpcError) as e:
        svid.BatchNewX509SVID(pb.svid_pb2.BatchNewX509SVIDRequest(
            params=[pb.svid_pb2.NewX509SVIDParams(entry_id="x",
                                                  csr=b"y")]))
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_batches_larger_than_a_transaction(server, spire_pb):
    """BatchCreateEntry and BatchDeleteEntry write SERVER_BATCH_TXN_MAX
    (64) items a transaction: 150 entries, the last a copy of the first,
    come back positionally with the copy refused as similar; deleting
    them with a missing and an unknown ID among them, likewise."""
    pb = spire_pb
    entry = pb.entry_pb2_grpc.EntryStub(_channel(server))
    sid = pb.types_pb2.SPIFFEID

    def mk(i):
        return pb.types_pb2.Entry(
            spiffe_id=sid(trust_domain=TD, path="/w/%d" % i),
            parent_id=sid(trust_domain=TD, path="/n"),
            selectors=[pb.types_pb2.Selector(type="unix",
                                             value="uid:%d" % i)])
    r = entry.BatchCreateEntry(pb.entry_pb2.BatchCreateEntryRequest(
        entries=[mk(i) for i in range(149)] + [mk(0)]))
    codes = [x.status.code for x in r.results]
    assert codes == [0] * 149 + [6]
    assert r.results[149].status.message == "similar entry already exists"
    assert r.results[149].entry.id == r.results[0].entry.id
    assert entry.CountEntries(pb.entry_pb2.CountEntriesRequest()).count == \
        149
    ids = [x.entry.id for x in r.results[:149]]
    d = entry.BatchDeleteEntry(pb.entry_pb2.BatchDeleteEntryRequest(
        ids=ids[:70] + [""] + ids[70:] + ["no-such-entry"]))
    codes = [x.status.code for x in d.results]
    assert codes == [0] * 70 + [3] + [0] * 79 + [5]
    assert [x.id for x in d.results][:70] == ids[:70]
    assert entry.CountEntries(pb.entry_pb2.CountEntriesRequest()).count == 0
