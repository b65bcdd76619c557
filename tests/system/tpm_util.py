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


def lab_ca(d, name="lab-devid-ca"):
    """An EC P-256 CA for DevID certificates, made with openssl."""
    key = os.path.join(d, name + ".key")
    pem = os.path.join(d, name + ".pem")
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey",
                    "-noout", "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-x509", "-new", "-key", key,
                    "-subj", "/CN=" + name, "-days", "2", "-out", pem],
                   check=True, capture_output=True)
    return pem, key


class DevID:
    """A DevID provisioned in a TPM by `spirelet tpm provision`."""

    def __init__(self, spirelet, tcti, d, ca_pem, ca_key, cn="board-42"):
        self.cert = os.path.join(d, "devid.crt.pem")
        self.priv = os.path.join(d, "devid.priv.blob")
        self.pub = os.path.join(d, "devid.pub.blob")
        self.csr = os.path.join(d, "devid.csr.pem")
        r = subprocess.run([spirelet, "tpm", "provision", "-tcti", tcti,
                            "-caCert", ca_pem, "-caKey", ca_key,
                            "-commonName", cn, "-certOut", self.cert,
                            "-privOut", self.priv, "-pubOut", self.pub,
                            "-csrOut", self.csr], capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError("tpm provision failed:\n" + r.stdout +
                                 r.stderr)
        self.out = r.stdout

    def fingerprint(self):
        der = subprocess.run(["openssl", "x509", "-in", self.cert,
                              "-outform", "DER"], check=True,
                             capture_output=True).stdout
        import hashlib
        return hashlib.sha1(der).hexdigest()


class DevIDAgent:
    """Our agent half (tpm_testd devid-agent) over pipes."""

    def __init__(self, tcti, devid):
        self.p = subprocess.Popen(
            [testd(), "devid-agent", tcti, devid.cert, devid.priv,
             devid.pub], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)

    def payload(self):
        line = self.p.stdout.readline()
        assert line, "devid-agent gave no payload:\n" + self.p.stderr.read()
        return line.strip()

    def answer(self, challenge):
        self.p.stdin.write(challenge.strip() + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        assert line, "devid-agent gave no answer:\n" + self.p.stderr.read()
        return line.strip()

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            f.close()


class DevIDServer:
    """Our server-side checks (tpm_testd devid-server) over pipes; the
    log lines (reasons) are on stderr."""

    def __init__(self, devid_ca, ek_ca, again=False):
        argv = [testd(), "devid-server", devid_ca, ek_ca]
        if again:
            argv.append("again")
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)

    def send(self, line):
        self.p.stdin.write(line.strip() + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def close(self):
        out, err = self.p.communicate(timeout=30)
        return err
