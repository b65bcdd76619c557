"""The TPM in the roles, with real peers: spirelet's agent attests with
NodeAttestor "tpm_devid" to a real spire-server v1.13.3 and keeps its
own key in the TPM (KeyManager "tpm"); a real spire-agent attests with
tpm_devid to spirelet's server, whose CA and JWT keys are in a TPM of
its own; what each leaves on disk is only TPM blobs, and a TPM with
fresh state cannot use them; spirelet's server refuses a wrong EK
certificate, a DevID from another CA and a replayed response, saying
why; a TPM held busy (SIGSTOP) does not stop the Workload API; and the
TPM commands of an attestation and of a rotation are counted.

swtpm plays each TPM (tests/system/tpm_util.py). Without Go (real
SPIRE) or swtpm the tests are skipped with the reason, unless CI=true.
"""
import base64
import glob
import json
import os
import re
import signal
import time

from agent_util import TD, Agent, make_server
from conftest import wait_for
from server_util import SpireletServer
from spire import SpireAgent, run, sockdir, spire  # noqa: F401 (fixtures)
from test_tpm_spire import agent_pb, attest_agent, csr_der  # noqa: F401
from tpm_util import (DevID, DevIDAgent, lab_ca, manufacture,  # noqa: F401
                      swtpm, tpm_state)
from tpmrole_util import (TpmCounter, agent_own_record, ec_point,
                          fresh_tpm, km_tpm, lockout, parse_tpm_blob,
                          resident, second_swtpm, td_plugin_agent,
                          td_plugin_server)

UID = os.getuid()


def agent_id(devid):
    return "spiffe://%s/spire/agent/tpm_devid/%s" % (TD, devid.fingerprint())


def only_tpm_blob(data_dir, leaf):
    """The agent's own key on disk is one TPM blob whose public key is
    the SVID's, resident in the TPM; the cache names it, and holds no
    PKCS#8 for it."""
    blobs = glob.glob(os.path.join(data_dir, "svid-key-*.tpm"))
    assert len(blobs) == 1, blobs
    b = parse_tpm_blob(blobs[0])
    assert resident(b["attrs"]), hex(b["attrs"])
    assert b["private_len"] > 32
    assert (b["x"], b["y"]) == ec_point(leaf)
    assert os.stat(blobs[0]).st_mode & 0o777 == 0o600
    return os.path.basename(blobs[0])


def test_our_agent_with_tpm_devid_and_tpm_key_to_real_spire_server(
        spire, procs, sockdir, tmp_path, swtpm, tpm_state, spirelet):
    ca_pem, ca_key = lab_ca(str(tmp_path))
    devid = DevID(spirelet, swtpm.tcti, str(tmp_path), ca_pem, ca_key)
    srv = make_server("spire", spire, procs, tmp_path / "srv", sockdir,
                      plugins=td_plugin_server(ca_pem, tpm_state.ek_ca_pem)
                      ).start()
    agent = Agent(spirelet, spire, procs, tmp_path / "agent", sockdir, srv,
                  plugins=td_plugin_agent(devid, swtpm.sock),
                  key_manager=km_tpm(swtpm.sock)).start()
    aid = agent_id(devid)
    assert "node attestation was successful" in agent.log()
    assert aid in agent.log() and "reattestable=true" in agent.log()
    out = srv.cli("agent", "show", "-spiffeID", aid).stdout
    assert "tpm_devid:subject:cn:board-42" in out
    assert "tpm_devid:issuer:cn:lab-devid-ca" in out
    want = "spiffe://%s/tpm-w" % TD
    srv.entry_create(aid, want, ["unix:uid:%d" % UID])
    agent.wait_ids([want])

    # TPM-resident: the blob alone is on disk, and the cache names it.
    data = os.path.join(agent.dir, "data")
    leaf, key = agent_own_record(data)
    assert key == b"tpm:" + only_tpm_blob(data, leaf).encode()

    # The TPM held busy at start: the key cannot load, the cache serves.
    agent.stop()
    os.kill(swtpm.proc.pid, signal.SIGSTOP)
    try:
        agent.start(wait=False)
        wait_for(agent.healthy, 20, "agent serving its cache", agent.proc)
        for _ in range(5):
            assert agent.ids() == [want]
        assert "using the cached agent SVID" not in agent.log()
    finally:
        os.kill(swtpm.proc.pid, signal.SIGCONT)
    wait_for(lambda: "using the cached agent SVID" in agent.log(), 30,
             "the key loaded once the TPM answers", agent.proc)

    # Another TPM (fresh state): the blob does not load, and says so;
    # workloads are still served from the cache.
    agent.stop()
    fresh_tpm(swtpm, tmp_path)
    agent.start(wait=False)
    wait_for(lambda: "cannot load the agent key from the TPM" in
             agent.log(), 30, "the blob error", agent.proc)
    log = agent.log()
    assert "key blob does not load in this TPM" in log
    wait_for(agent.healthy, 20, "agent serving its cache", agent.proc)
    assert agent.ids() == [want]
    # tpm_devid may attest again; the DevID blob fails the same way.
    wait_for(lambda: "DevID key does not load" in agent.log(), 30,
             "the DevID's blob error", agent.proc)
    assert agent.ids() == [want]


def test_real_spire_agent_with_tpm_devid_to_our_server_with_tpm_ca(
        spire, procs, sockdir, tmp_path, swtpm, tpm_state, spirelet):
    ca_pem, ca_key = lab_ca(str(tmp_path))
    devid = DevID(spirelet, swtpm.tcti, str(tmp_path), ca_pem, ca_key)
    catpm = second_swtpm(procs, tpm_state, tmp_path, sockdir)
    srv = SpireletServer(spirelet, spire, procs, tmp_path / "srv", sockdir,
                         plugins=td_plugin_server(ca_pem,
                                                  tpm_state.ek_ca_pem),
                         keymanager=km_tpm(catpm.sock)).start()
    sa = SpireAgent(spire, procs, tmp_path / "sa", sockdir, srv.port,
                    srv.bundle_pem(),
                    plugins=td_plugin_agent(devid, swtpm.sock)).start()
    aid = agent_id(devid)
    assert re.search(r'msg="agent attested" agent="%s" type=tpm_devid'
                     % re.escape(aid), srv.log())
    out = srv.cli("agent", "show", "-spiffeID", aid).stdout
    assert "Can re-attest     : true" in out
    assert "tpm_devid:subject:cn:board-42" in out
    want = "spiffe://%s/tpm-ca-w" % TD
    srv.entry_create(aid, want, ["unix:uid:%d" % UID])

    def ids():
        r = run([spire.agent, "api", "fetch", "x509", "-socketPath",
                 sa.socket], check=False)
        return re.findall(r"SPIFFE ID:\s+(\S+)", r.stdout)
    wait_for(lambda: ids() == [want], 30, "the workload's SVID", sa.proc)
    # A JWT-SVID, signed by the JWT key in the TPM, validates.
    r = run([spire.agent, "api", "fetch", "jwt", "-socketPath", sa.socket,
             "-audience", "db"])
    tok = re.search(r"token\(%s\):\s+(\S+)" % re.escape(want),
                    r.stdout).group(1)
    r = run([spire.agent, "api", "validate", "jwt", "-socketPath",
             sa.socket, "-audience", "db", "-svid", tok])
    assert "SVID is valid." in r.stdout

    # The CA and JWT keys: TPM blobs only, the CA's public key the root's.
    data = os.path.join(srv.dir, "data")
    names = sorted(os.listdir(data))
    assert "x509-CA-A.tpm" in names and "JWT-Signer-A.tpm" in names
    assert not [n for n in names if n.endswith(".json")], names
    ca = parse_tpm_blob(os.path.join(data, "x509-CA-A.tpm"))
    jwt = parse_tpm_blob(os.path.join(data, "JWT-Signer-A.tpm"))
    assert resident(ca["attrs"]) and resident(jwt["attrs"])
    root = srv.bundle_pem().split("-----END CERTIFICATE-----")[0] + \
        "-----END CERTIFICATE-----\n"
    assert (ca["x"], ca["y"]) == ec_point(root.encode())

    # Another TPM under the running server: signing fails, and says so.
    fresh_tpm(catpm, tmp_path, "fresh-ca")
    r = srv.cli("x509", "mint", "-spiffeID", "spiffe://%s/m" % TD,
                check=False)
    assert r.returncode != 0 and "failed to sign X509-SVID" in r.stderr
    wait_for(lambda: "key blob does not load in this TPM" in srv.log(), 10,
             "the blob error in the server's log")
    # Restarted on it, the server refuses to start, naming the blob.
    srv.stop()
    p = procs([spirelet, "server", "run", "-config", srv.conf],
              name="restarted")
    assert p.wait(timeout=30) != 0
    log = p.output()
    assert "a key's TPM blob does not load" in log
    assert "key blob does not load in this TPM" in log


def test_tpm_missing_or_in_lockout_is_named(spire, procs, sockdir, tmp_path,
                                            swtpm, tpm_state, spirelet):
    """No TPM at tpm_device_path, or a TPM in dictionary-attack lockout:
    each role says so; the agent's Workload API serves its cache."""
    # A server whose TPM is not there does not start, and says why.
    bad = SpireletServer(spirelet, spire, procs, tmp_path / "bad", sockdir,
                         keymanager=km_tpm(str(tmp_path / "no-tpm")),
                         name="no-tpm-server")
    p = procs([spirelet, "server", "run", "-config", bad.conf],
              name="no-tpm-server")
    assert p.wait(timeout=30) != 0
    assert re.search(r'msg="no TPM at tpm_device_path" path=\S*no-tpm',
                     p.output()), p.output()[-2000:]

    catpm = second_swtpm(procs, tpm_state, tmp_path, sockdir)
    srv = SpireletServer(spirelet, spire, procs, tmp_path / "srv", sockdir,
                         keymanager=km_tpm(catpm.sock)).start()
    # An agent whose TPM is not there: attestation waits, and says why.
    lost = Agent(spirelet, spire, procs, tmp_path / "lost", sockdir, srv,
                 join_token=srv.token(),
                 key_manager=km_tpm(str(tmp_path / "no-tpm")),
                 name="lost").start(wait=False)
    wait_for(lambda: "no TPM at %s" % (tmp_path / "no-tpm") in lost.log(),
             20, "the missing TPM named", lost.proc)
    lost.stop()

    agent = Agent(spirelet, spire, procs, tmp_path / "agent", sockdir, srv,
                  join_token=srv.token("spiffe://%s/edge" % TD),
                  key_manager=km_tpm(swtpm.sock)).start()
    want = "spiffe://%s/lk-w" % TD
    srv.entry_create("spiffe://%s/edge" % TD, want, ["unix:uid:%d" % UID])
    agent.wait_ids([want])
    agent.stop()
    # Both TPMs locked out: their keys no longer sign.
    lockout(swtpm.tcti, str(tmp_path / "lk1"))
    lockout(catpm.tcti, str(tmp_path / "lk2"))
    r = srv.cli("x509", "mint", "-spiffeID", "spiffe://%s/m" % TD,
                check=False)
    assert r.returncode != 0 and "failed to sign X509-SVID" in r.stderr
    assert "TPM in dictionary-attack lockout" in srv.log()
    # The agent's key loads (no authorization), its handshake cannot be
    # signed; the cache is served all the same.
    agent.start(wait=False)
    wait_for(lambda: re.search(r'the agent key did not sign the TLS '
                               r'handshake" error="key device in '
                               r'dictionary-attack lockout', agent.log()),
             30, "the lockout named", agent.proc)
    wait_for(agent.healthy, 20, "agent serving its cache", agent.proc)
    assert agent.ids() == [want]


def _attest(pb, srv, bundle, payload, answer, d):
    # spirelet's server takes one AttestAgent per second per address.
    time.sleep(1.1)
    return attest_agent(pb, srv.port, bundle, payload, answer, csr_der(d))


def test_our_server_refuses_with_the_reason_logged(
        spire, procs, sockdir, tmp_path, swtpm, tpm_state, spirelet,
        agent_pb):
    import grpc
    d = str(tmp_path)
    ca_pem, ca_key = lab_ca(d)
    devid = DevID(spirelet, swtpm.tcti, d, ca_pem, ca_key)
    # Another TPM, with an EK certificate of its own (and its CA).
    other = manufacture(str(tmp_path / "other"))
    two_cas = str(tmp_path / "two-ek-cas.pem")
    with open(two_cas, "w") as f:
        for p in (tpm_state.ek_ca_pem, other.ek_ca_pem):
            with open(p) as g:
                f.write(g.read())
    other_devid_ca, _ = lab_ca(d, "another-devid-ca")
    srv = SpireletServer(spirelet, spire, procs, tmp_path / "srv", sockdir,
                         plugins=td_plugin_server(ca_pem, two_cas)).start()
    bundle = str(tmp_path / "bundle.pem")
    with open(bundle, "w") as f:
        f.write(srv.bundle_pem())

    kept = {}
    agent = DevIDAgent(swtpm.tcti, devid)
    try:
        payload = agent.payload()

        def answer(ch):
            kept["response"] = agent.answer(ch)
            return kept["response"]
        result, err = _attest(agent_pb, srv, bundle, payload, answer, d)
    finally:
        agent.close()
    assert err is None, err
    assert result.svid.id.path == "/spire/agent/tpm_devid/" + \
        devid.fingerprint()

    # The response replayed in a new attestation (new nonces): refused.
    result, err = _attest(agent_pb, srv, bundle, payload,
                          lambda ch: kept["response"], d)
    assert result is None and err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "DevID signature over the nonce invalid" in err.details()
    wait_for(lambda: re.search(r'tpm_devid attestation refused" .*'
                               r'stage=response error="DevID signature '
                               r'over the nonce invalid"', srv.log()), 10,
             "the replay's reason logged")

    # A wrong EK certificate: the other TPM's, though its CA is trusted.
    p = json.loads(payload)
    swtpm_b = second_swtpm(procs, other, tmp_path, sockdir, "tpm-other")
    devid_b = DevID(spirelet, swtpm_b.tcti, str(tmp_path / "other"),
                    ca_pem, ca_key, cn="board-43")
    agent_b = DevIDAgent(swtpm_b.tcti, devid_b)
    try:
        p["EKCert"] = json.loads(agent_b.payload())["EKCert"]
    finally:
        agent_b.close()
    assert p["EKCert"] != json.loads(payload)["EKCert"]
    result, err = _attest(agent_pb, srv, bundle, json.dumps(p),
                          lambda ch: "{}", d)
    assert result is None and err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "endorsement certificate key differs from EKPub" in err.details()
    assert re.search(r'tpm_devid attestation refused" .*stage=payload '
                     r'error="endorsement certificate key differs from '
                     r'EKPub"', srv.log())

    # A DevID from another CA than devid_ca_path's.
    srv.stop()
    srv2 = SpireletServer(spirelet, spire, procs, tmp_path / "srv2",
                          sockdir, plugins=td_plugin_server(
                              other_devid_ca, two_cas),
                          name="srv2").start()
    with open(bundle, "w") as f:
        f.write(srv2.bundle_pem())
    result, err = _attest(agent_pb, srv2, bundle, payload,
                          lambda ch: "{}", d)
    assert result is None and err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "DevID certificate does not chain to devid_ca_path" in \
        err.details()
    assert re.search(r'tpm_devid attestation refused" .*stage=payload '
                     r'error="DevID certificate does not chain', srv2.log())


def settle(counter, base, name, n):
    """The counts since base once name was counted n times, and a
    little after (so one more would show)."""
    wait_for(lambda: counter.since(base).get(name, 0) >= n, 15,
             "%d %s since the snapshot" % (n, name))
    time.sleep(0.3)
    return counter.since(base)


def _ops(counts):
    return ", ".join("%s %d" % kv for kv in sorted(counts.items()))


def test_tpm_operations_per_attestation_and_rotation(
        spire, procs, sockdir, tmp_path, swtpm, tpm_state, spirelet):
    """Counts the TPM commands of a tpm_devid attestation, of its
    re-attestation when the agent SVID is due, and of a RenewAgent
    rotation (join token) with the agent key in the TPM, through a relay
    in front of each swtpm. doc/tpm.md records these counts."""
    ca_pem, ca_key = lab_ca(str(tmp_path))
    devid = DevID(spirelet, swtpm.tcti, str(tmp_path), ca_pem, ca_key)
    counter = TpmCounter(swtpm.sock, os.path.join(sockdir, "count"))
    tpm2 = second_swtpm(procs, tpm_state, tmp_path, sockdir)
    counter2 = TpmCounter(tpm2.sock, os.path.join(sockdir, "count2"))
    srv = SpireletServer(spirelet, spire, procs, tmp_path / "srv", sockdir,
                         plugins=td_plugin_server(ca_pem,
                                                  tpm_state.ek_ca_pem),
                         x509_ttl="30s").start()
    try:
        agent = Agent(spirelet, spire, procs, tmp_path / "td", sockdir, srv,
                      plugins=td_plugin_agent(devid, counter.path),
                      key_manager=km_tpm(counter.path), name="td").start()
        first = counter.snapshot()
        # The agent SVID lives 30 s: the re-attestation comes at about
        # 15 s, its handshake at the next sync (5 s), and the one after
        # that only at about 30 s, outside the window counted.
        wait_for(lambda: agent.log().count("node attestation was "
                                           "successful") >= 2, 45,
                 "a re-attestation", agent.proc)
        # ...and the handshake with the new SVID, at the next sync.
        again = settle(counter, first, "Sign", 3)
        assert agent.log().count("node attestation was successful") == 2, \
            "a second re-attestation fell inside the counted window"
        # One agent attesting at a time: the server takes one AttestAgent
        # per second per address.
        agent.stop()
        time.sleep(1.1)
        token = srv.token("spiffe://%s/edge" % TD)
        jt = Agent(spirelet, spire, procs, tmp_path / "jt", sockdir, srv,
                   join_token=token, key_manager=km_tpm(counter2.path),
                   name="jt").start()
        base = counter2.snapshot()
        wait_for(lambda: "agent SVID renewed" in jt.log(), 45,
                 "a RenewAgent rotation", jt.proc)
        renew = settle(counter2, base, "Sign", 2)
    finally:
        counter.close()
        counter2.close()
    print("tpm_devid attestation, first:", _ops(first))
    print("tpm_devid re-attestation:", _ops(again))
    print("join token attestation, first:", _ops(base))
    print("RenewAgent rotation:", _ops(renew))
    # First: TPM2_Startup, the SRK and EK derived, the AK and the SVID
    # key made, the DevID certified, the credential activated, and three
    # signatures (DevID nonce, CSR, TLS handshake).
    assert first["CreatePrimary"] == 2, _ops(first)
    assert first["Create"] == 2 and first["Certify"] == 1
    assert first["ActivateCredential"] == 1
    assert first["Sign"] == 3, _ops(first)
    # Again: the SRK is a saved context now; everything else as before.
    assert again["CreatePrimary"] == 1, _ops(again)
    assert again["Create"] == 2 and again["Certify"] == 1
    assert again["ActivateCredential"] == 1 and again["Sign"] == 3
    # A join token: the SRK, the SVID key, its CSR and the handshake.
    assert base["CreatePrimary"] == 1 and base["Create"] == 1, _ops(base)
    assert base["Sign"] == 2, _ops(base)
    # RenewAgent: one key made, its CSR and the new handshake signed.
    assert renew.get("CreatePrimary", 0) == 0, _ops(renew)
    assert renew["Create"] == 1 and renew["Sign"] == 2, _ops(renew)
    assert "ActivateCredential" not in renew and "Certify" not in renew
