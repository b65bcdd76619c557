"""swtpm for the TPM tests: a manufactured TPM state (EK certificates in
NV, signed by a local test CA that swtpm_setup makes) built once per
session, and a fresh copy of it per test, served on a Unix socket.

Where CI=true the TPM tests must run, so a missing swtpm fails them;
elsewhere they are skipped with the reason.
"""
import os
import shutil
import subprocess

import pytest

from conftest import build_path, wait_for


def _unavailable(why):
    msg = "TPM test needs swtpm, swtpm-tools and tpm2-tools: " + why
    if os.environ.get("CI") == "true":
        pytest.fail(msg + " (CI=true: TPM tests must run)")
    pytest.skip(msg)


def _need(tool):
    if shutil.which(tool) is None:
        _unavailable(tool + " is not installed "
                     "(scripts/install-deps.sh --tests)")


class TpmState:
    """A manufactured TPM state directory and the CA behind its EK
    certificate."""

    def __init__(self, root):
        self.root = root
        self.state = os.path.join(root, "state")
        self.ca = os.path.join(root, "ca")

    @property
    def ek_ca_pem(self):
        """The EK certificate's issuer and its root, PEM."""
        return os.path.join(self.root, "ek-ca.pem")


def manufacture(root):
    """Runs swtpm_setup with our own local CA: RSA and ECC EKs, their
    certificates in NV (0x01c00002 for RSA)."""
    _need("swtpm")
    _need("swtpm_setup")
    st = TpmState(root)
    os.makedirs(st.state)
    os.makedirs(st.ca)
    conf = os.path.join(root, "localca.conf")
    with open(conf, "w") as f:
        f.write("statedir = %s\nsigningkey = %s/signkey.pem\n"
                "issuercert = %s/issuercert.pem\n"
                "certserial = %s/certserial\n" % ((st.ca,) * 4))
    setup = os.path.join(root, "setup.conf")
    with open(setup, "w") as f:
        f.write("create_certs_tool = /usr/bin/swtpm_localca\n"
                "create_certs_tool_config = %s\n"
                "create_certs_tool_options = /etc/swtpm-localca.options\n"
                "active_pcr_banks = sha256\n" % conf)
    r = subprocess.run(["swtpm_setup", "--tpm2", "--tpmstate", st.state,
                        "--create-ek-cert", "--config", setup,
                        "--overwrite"], capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        raise AssertionError("swtpm_setup failed:\n" + r.stdout + r.stderr)
    with open(st.ek_ca_pem, "w") as out:
        for name in ("issuercert.pem", "swtpm-localca-rootca-cert.pem"):
            with open(os.path.join(st.ca, name)) as f:
                out.write(f.read())
    return st


@pytest.fixture(scope="session")
def tpm_state(tmp_path_factory):
    """One manufactured TPM state for the session (about a second)."""
    return manufacture(str(tmp_path_factory.mktemp("tpmstate")))


class Swtpm:
    """One swtpm serving a copy of a TPM state on a Unix socket."""

    def __init__(self, procs, state_dir, sock, name="swtpm"):
        self.procs = procs
        self.state = state_dir
        self.sock = sock
        self.name = name
        self.proc = None

    @property
    def tcti(self):
        return "swtpm:path=" + self.sock

    def start(self):
        for p in (self.sock, self.sock + ".ctrl"):
            if os.path.exists(p):
                os.unlink(p)
        self.proc = self.procs(
            ["swtpm", "socket", "--tpm2", "--tpmstate",
             "dir=" + self.state, "--server",
             "type=unixio,path=" + self.sock, "--ctrl",
             "type=unixio,path=" + self.sock + ".ctrl",
             "--flags", "startup-clear"], name=self.name)
        wait_for(lambda: os.path.exists(self.sock), 15, "swtpm socket",
                 self.proc)
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def restart(self, fresh_state=None):
        """Stops the TPM; with fresh_state (a directory), it comes back
        as another TPM with seeds of its own."""
        self.stop()
        if fresh_state is not None:
            self.state = fresh_state
        return self.start()


@pytest.fixture
def swtpm(procs, sockdir, tmp_path, tpm_state):
    d = str(tmp_path / "tpm")
    shutil.copytree(tpm_state.state, d)
    t = Swtpm(procs, d, os.path.join(sockdir, "tpm")).start()
    yield t
    t.stop()


def testd():
    path = build_path("tests", "system", "tpm_testd")
    assert os.access(path, os.X_OK), "build tpm_testd first: " + path
    return path


def run_testd(*args, check=True, timeout=60):
    r = subprocess.run([testd(), *map(str, args)], capture_output=True,
                       text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("tpm_testd %s failed (%d):\n%s%s" % (
            " ".join(map(str, args)), r.returncode, r.stdout, r.stderr))
    return r
