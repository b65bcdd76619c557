"""hal/'s TPM keys against swtpm: TPM-resident keys, the asynchronous
signing path, slots, and the errors for a missing TPM and a blob that
does not load."""
import os

from spire import sockdir  # noqa: F401 (fixture)
from tpm_util import run_testd, swtpm, tpm_state, manufacture  # noqa: F401


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
