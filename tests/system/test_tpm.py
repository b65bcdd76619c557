"""hal/'s TPM keys against swtpm: TPM-resident keys, the asynchronous
signing path, slots, and the errors for a missing TPM and a blob that
does not load."""
import os
import subprocess

import pytest

from spire import sockdir  # noqa: F401 (fixture)
from tpm_util import (DevID, DevIDAgent, DevIDServer, lab_ca,  # noqa: F401
                      manufacture, run_testd, swtpm, tpm_state)


def test_key_create_sign_verify_and_only_blobs_on_disk(swtpm, tmp_path):
    blob = tmp_path / "agent.key"
    r = run_testd("keygen", swtpm.tcti, blob)
    assert "backend tpm blocking 1" in r.stdout
    spki = r.stdout.split()[1]
    assert os.stat(blob).st_mode & 0o777 == 0o600
    # The file is a TPM2B_PUBLIC then a TPM2B_PRIVATE, nothing else: the
    # public point is in it, the private scalar is not (it is wrapped).
    data = blob.read_bytes()
    publen = int.from_bytes(data[:2], "big")
    privlen = int.from_bytes(data[2 + publen:4 + publen], "big")
    assert 4 + publen + privlen == len(data)
    r = run_testd("sign", swtpm.tcti, blob)
    assert r.stdout.split()[1] == spki and "signed" in r.stdout


def test_signing_fails_once_the_tpm_has_fresh_state(swtpm, tmp_path,
                                                    procs):
    blob = tmp_path / "agent.key"
    run_testd("keygen", swtpm.tcti, blob)
    swtpm.restart()
    run_testd("sign", swtpm.tcti, blob)       # same TPM, after a reset
    fresh = manufacture(str(tmp_path / "other"))
    swtpm.restart(fresh_state=fresh.state)
    r = run_testd("sign", swtpm.tcti, blob, check=False)
    assert r.returncode != 0
    assert "key blob does not load in this TPM" in r.stderr


def test_async_sign_leaves_the_loop_running(swtpm, tmp_path):
    blob = tmp_path / "k"
    run_testd("keygen", swtpm.tcti, blob)
    r = run_testd("async", swtpm.tcti, blob, swtpm.proc.pid)
    # The loop ran all its work while the TPM was held, and the
    # signature came only after the TPM was let go.
    assert "loop_work 2000 done_before_resume 0 soft_immediate 1" \
        in r.stdout


def test_more_keys_than_slots(swtpm, tmp_path):
    blob = tmp_path / "k"
    run_testd("keygen", swtpm.tcti, blob)
    assert "signatures 12" in run_testd("slots", swtpm.tcti, blob,
                                        12).stdout


def test_persistent_key_sign_and_evict(swtpm, tmp_path):
    blob = tmp_path / "k"
    run_testd("keygen", swtpm.tcti, blob)
    r = run_testd("persist", swtpm.tcti, blob, "0x81000010")
    assert "persistent signed" in r.stdout
    assert "evicted: no key at that TPM handle" in r.stdout


def test_tpm_missing_is_named(tmp_path):
    r = run_testd("sign", "swtpm:path=" + str(tmp_path / "none"),
                  tmp_path / "k", check=False)
    assert r.returncode != 0
    assert "no TPM at the configured TCTI" in r.stderr


def test_blob_that_does_not_load_is_named(swtpm, tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(os.urandom(120))
    r = run_testd("sign", swtpm.tcti, bad, check=False)
    assert r.returncode != 0
    assert "key blob does not load in this TPM" in r.stderr
    r = run_testd("sign", swtpm.tcti, tmp_path / "absent", check=False)
    assert "key file unreadable" in r.stderr


@pytest.fixture
def devid(swtpm, spirelet, tmp_path):
    ca_pem, ca_key = lab_ca(str(tmp_path))
    d = DevID(spirelet, swtpm.tcti, str(tmp_path), ca_pem, ca_key)
    d.ca_pem = ca_pem
    return d


def attest(swtpm, devid, devid_ca, ek_ca, again=False):
    """One attestation, our agent half against our server half: the
    server's verdict lines and its log."""
    agent = DevIDAgent(swtpm.tcti, devid)
    server = DevIDServer(devid_ca, ek_ca, again)
    try:
        chal = server.send(agent.payload())
        if chal.startswith("REFUSED"):
            return [chal], server.close(), None
        resp = agent.answer(chal)
        verdicts = [server.send(resp)]
        if again:
            verdicts.append(server.send(resp))
        return verdicts, server.close(), resp
    finally:
        agent.close()


def test_provision_writes_spire_blobs_and_a_csr(devid):
    assert os.stat(devid.priv).st_mode & 0o777 == 0o600
    # devid_pub_path holds a TPMT_PUBLIC without a size prefix: it
    # starts with TPM_ALG_ECC, as go-tpm's DecodePublic wants.
    with open(devid.pub, "rb") as f:
        assert f.read(2) == b"\x00\x23"
    r = subprocess.run(["openssl", "req", "-in", devid.csr, "-noout",
                        "-verify"], capture_output=True, text=True)
    assert "verify OK" in r.stdout + r.stderr


def test_devid_attestation_end_to_end(swtpm, devid, tpm_state):
    verdicts, log, _ = attest(swtpm, devid, devid.ca_pem,
                              tpm_state.ek_ca_pem, again=True)
    fp = devid.fingerprint()
    v = verdicts[0].split()
    assert v[0] == "ACCEPTED", verdicts
    assert v[1] == "/spire/agent/tpm_devid/" + fp
    assert "subject:cn:board-42" in v and "issuer:cn:lab-devid-ca" in v
    assert any(s.startswith("ca:fingerprint:") for s in v)
    # The same response again, to the same challenge: refused.
    assert verdicts[1] == "REFUSED challenge already answered"
    assert "challenge already answered" in log


def test_devid_replayed_response_is_refused(swtpm, devid, tpm_state):
    _, _, old = attest(swtpm, devid, devid.ca_pem, tpm_state.ek_ca_pem)
    # A new attestation draws new nonces: the old answer does not fit.
    agent = DevIDAgent(swtpm.tcti, devid)
    server = DevIDServer(devid.ca_pem, tpm_state.ek_ca_pem)
    try:
        server.send(agent.payload())
        verdict = server.send(old)
    finally:
        agent.close()
    log = server.close()
    assert verdict == "REFUSED DevID signature over the nonce invalid"
    assert "attestation refused" in log and "DevID signature" in log


def test_devid_from_another_ca_is_refused(swtpm, devid, tpm_state,
                                          tmp_path):
    other, _ = lab_ca(str(tmp_path), "other-ca")
    verdicts, log, _ = attest(swtpm, devid, other, tpm_state.ek_ca_pem)
    assert verdicts == [
        "REFUSED DevID certificate does not chain to devid_ca_path"]
    assert "devid_issuer_cn=lab-devid-ca" in log


def test_wrong_ek_certificate_is_refused(swtpm, devid, tmp_path):
    # A TPM manufactured by another vendor CA: its EK CA is not ours.
    other = manufacture(str(tmp_path / "vendor2"))
    verdicts, log, _ = attest(swtpm, devid, devid.ca_pem, other.ek_ca_pem)
    assert verdicts == ["REFUSED endorsement certificate does not chain "
                        "to endorsement_ca_path"]
    assert "reason=" in log and "endorsement" in log
