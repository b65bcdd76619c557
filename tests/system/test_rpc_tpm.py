"""A gRPC client whose TLS key is in the TPM (swtpm): the handshake's
signature is made on the worker thread, and the client's event loop keeps
serving another client while the TPM is held (SIGSTOP) mid-signature."""
import os
import subprocess

from conftest import build_path
from spire import sockdir  # noqa: F401 (fixture)
from test_rpc_tls import certs, openssl  # noqa: F401 (fixture)
from tpm_util import swtpm, tpm_state  # noqa: F401 (fixtures)


def test_tpm_key_client_handshakes_off_the_loop(testd, certs, swtpm):
    d = certs[0]
    if not os.path.exists(os.path.join(d, "ca.key.der")):
        openssl("pkcs8", "-topk8", "-nocrypt", "-in", "ca.key", "-outform",
                "DER", "-out", "ca.key.der", cwd=d)
    srv = testd("-T", "127.0.0.1:0", "-c", d)
    r = subprocess.run([build_path("tests", "system", "rpc_testd"),
                        "tpmclient", "127.0.0.1:%d" % srv.tls_port, "-c", d,
                        "-k", swtpm.tcti, "-p", str(swtpm.proc.pid),
                        "-n", "3"], capture_output=True, text=True,
                       timeout=90)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    # 50 calls of another client served while the TLS handshake waited
    # on the held TPM, one signature, none on the loop thread; then the
    # call and three more on the same connection, and the rpc_testd
    # server saw the TPM key's certificate.
    assert ("local_rounds 50 tls_open_meanwhile 1 signatures_meanwhile 1 "
            "signatures 1 signer_on_loop 0 tls_calls 4 signer_released 1 "
            ) in r.stdout, out
    assert r.stdout.strip().endswith("id=spiffe://example.org/tpm-client"), \
        out
