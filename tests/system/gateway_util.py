"""Fixtures for the gateway tests: spirelet nested under a parent (a real
spire-server, or spirelet's own server), in SPIRE's shape (`spirelet
server run` with a separate agent supplying the downstream SVID) or as
one process (`spirelet run` with its own link to the parent); and the
cross-tier checks (mTLS both ways with openssl, JWT-SVIDs validated on
the other side).

    root = Root(spire, procs, tmp_path / "root", sockdir).start()
    gw = Gateway(spirelet, spire, procs, tmp_path / "gw", sockdir, root,
                 link=LinkJoinToken(root)).start()
"""
import os
import re
import subprocess
import time

from agent_util import ServerSide
from conftest import free_port, wait_for
from spire import Daemon, ServerCli, healthcheck, run

TD = "example.org"
UID = os.getuid()


def x509pop_server_plugin(ca_path):
    return ('NodeAttestor "x509pop" { plugin_data { ca_bundle_path = "%s" '
            '} }' % ca_path)


def make_device_pki(d, cn="gateway-1"):
    """A device CA and a device certificate (EC P-256) for x509pop; the
    directory and the agent ID the certificate attests as."""
    d.mkdir(parents=True, exist_ok=True)
    ossl = lambda *a: openssl(*a, cwd=str(d))  # noqa: E731
    ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
         "ca.key")
    ossl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=device CA",
         "-days", "2", "-out", "ca.pem", "-addext",
         "basicConstraints=critical,CA:TRUE", "-addext",
         "keyUsage=critical,keyCertSign,cRLSign")
    ossl("genpkey", "-algorithm", "EC", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-out", "dev.key")
    ossl("req", "-new", "-key", "dev.key", "-subj", "/CN=" + cn, "-out",
         "dev.csr")
    with open(os.path.join(str(d), "ext.cnf"), "w") as f:
        f.write("keyUsage=critical,digitalSignature\n"
                "basicConstraints=critical,CA:FALSE\n")
    ossl("x509", "-req", "-in", "dev.csr", "-CA", "ca.pem", "-CAkey",
         "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf",
         "-out", "dev.pem")
    fp = ossl("x509", "-in", "dev.pem", "-noout", "-fingerprint", "-sha1")
    sha1 = fp.split("=", 1)[1].strip().replace(":", "").lower()
    return d, "spiffe://%s/spire/agent/x509pop/%s" % (TD, sha1)


def openssl(*args, cwd=None, check=True, timeout=30, input=None):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True,
                       cwd=cwd, timeout=timeout, input=input)
    if check and r.returncode != 0:
        raise AssertionError("openssl %s: %s" % (" ".join(args), r.stderr))
    return r.stdout


class Root(ServerSide):
    """The parent: a real spire-server (kind "spire") or spirelet's
    server ("spirelet"), with the fixture interface of agent_util."""

    def __init__(self, spire, procs, workdir, sockdir, kind="spire",
                 spirelet=None, ca_ttl="1h", x509_ttl="1m", plugins="",
                 name="root"):
        ServerSide.__init__(self, kind, spire, procs, workdir, sockdir,
                            spirelet=spirelet, plugins=plugins,
                            x509_ttl=x509_ttl, ca_ttl=ca_ttl, name=name)

    def stop(self):
        """SIGTERM, and SIGKILL after 10 s, whichever the kind."""
        if self.srv.proc is not None and self.srv.proc.alive():
            self.srv.proc.stop()


class LinkJoinToken:
    """The gateway attests to the parent with a join token; the parent
    has the gateway's downstream entry under that agent."""

    def __init__(self, root, entry_id="spiffe://%s/gateway" % TD):
        self.root = root
        self.token = root.token()
        self.agent_id = "spiffe://%s/spire/agent/join_token/%s" % (
            TD, self.token)
        self.spiffe_id = entry_id
        root.entry_create(self.agent_id, entry_id, ["unix:uid:%d" % UID],
                          "-downstream")

    def conf(self):
        return 'join_token = "%s"' % self.token


class LinkX509pop:
    """The gateway attests to the parent with x509pop (reattestable: it
    recovers after an outage longer than its agent SVID)."""

    def __init__(self, root, pki, agent_id,
                 entry_id="spiffe://%s/gateway" % TD):
        self.root = root
        self.pki = pki
        self.agent_id = agent_id
        self.spiffe_id = entry_id
        root.entry_create(agent_id, entry_id, ["unix:uid:%d" % UID],
                          "-downstream")

    def conf(self):
        return ('plugins { NodeAttestor "x509pop" { plugin_data { '
                'private_key_path = "%s" certificate_path = "%s" } } }'
                % (os.path.join(str(self.pki), "dev.key"),
                   os.path.join(str(self.pki), "dev.pem")))


class Gateway(Daemon, ServerCli):
    """`spirelet run` nested under root: server, the agent for this
    host's workloads, and the link to the parent, in one process."""

    def __init__(self, spirelet, spire, procs, workdir, sockdir, root,
                 link, ca_ttl="10m", x509_ttl="1m", name="gateway",
                 server_plugins="", extra=""):
        Daemon.__init__(self, procs, workdir, sockdir, name,
                        socket=name + "-srv.sock")
        self.spirelet = spirelet
        self.spire = spire
        self.server_cli = spire.server
        self.root = root
        self.link = link
        self.agent_socket = os.path.join(sockdir, name + "-wl.sock")
        os.chmod(sockdir, 0o755)
        self.port = free_port()
        self.trust_domain = TD
        self.agent_alias = "spiffe://%s/spirelet/agent" % TD
        bundle = os.path.join(self.dir, "parent.pem")
        with open(bundle, "w") as f:
            f.write(root.bundle_pem())
        self.conf = os.path.join(self.dir, "gateway.conf")
        with open(self.conf, "w") as f:
            f.write("""server {
    trust_domain = "%(td)s"
    bind_address = "127.0.0.1"
    bind_port = %(port)d
    socket_path = "%(sock)s"
    data_dir = "%(dir)s/server"
    ca_ttl = "%(ca_ttl)s"
    default_x509_svid_ttl = "%(x509_ttl)s"
    log_level = "DEBUG"
    %(extra)s
    plugins {
        KeyManager "disk" { plugin_data {
            keys_path = "%(dir)s/server/keys.json" } }
        NodeAttestor "join_token" { plugin_data {} }
        UpstreamAuthority "spire" { plugin_data {
            server_address = "127.0.0.1"
            server_port = "%(rport)d" } }
        %(plugins)s
    }
}
agent {
    data_dir = "%(dir)s/agent"
    socket_path = "%(asock)s"
    sync_interval = "500ms"
    plugins { WorkloadAttestor "unix" { plugin_data {} } }
}
upstream_agent {
    data_dir = "%(dir)s/upstream"
    trust_bundle_path = "%(bundle)s"
    sync_interval = "1s"
    %(link)s
}
""" % {"td": TD, "port": self.port, "sock": self.socket, "dir": self.dir,
                "ca_ttl": ca_ttl, "x509_ttl": x509_ttl, "extra": extra,
                "rport": root.port, "plugins": server_plugins,
                "asock": self.agent_socket, "bundle": bundle,
                "link": link.conf()})

    def start(self, wait=True, log_name=None):
        self._start([self.spirelet, "run", "-config", self.conf], 60,
                    "gateway server healthy", wait=wait, name=log_name)
        if wait:
            wait_for(self.agent_healthy, 60, "gateway agent healthy",
                     self.proc)
        return self

    def agent_healthy(self):
        return healthcheck(self.spire.agent, self.agent_socket)


class Workload:
    """What a workload gets from an agent's Workload API: its SVID chain,
    key and bundle as files (spire-agent api fetch x509 -write)."""

    def __init__(self, spire, socket, outdir):
        self.spire = spire
        self.socket = socket
        self.dir = str(outdir)
        os.makedirs(self.dir, exist_ok=True)

    def fetch(self, want=None, timeout=30):
        """Writes the first SVID (optionally: of SPIFFE ID want)."""
        got = []

        def ok():
            r = run([self.spire.agent, "api", "fetch", "x509",
                     "-socketPath", self.socket, "-write", self.dir,
                     "-timeout", "5s"], check=False, timeout=20)
            got[:] = re.findall(r"SPIFFE ID:\s*(\S+)", r.stdout)
            return r.returncode == 0 and (want is None or want in got)
        wait_for(ok, timeout, "an SVID%s at %s" % (
            " for " + want if want else "", self.socket))
        self.split()
        return got

    def split(self):
        with open(self.path("svid.0.pem")) as f:
            certs = re.findall(r"-----BEGIN CERTIFICATE-----.*?"
                               r"-----END CERTIFICATE-----", f.read(),
                               re.S)
        with open(self.path("leaf.pem"), "w") as f:
            f.write(certs[0] + "\n")
        with open(self.path("chain.pem"), "w") as f:
            f.write("\n".join(certs[1:]) + "\n")
        self.ncerts = len(certs)

    def path(self, name):
        return os.path.join(self.dir, name)

    def chain_args(self):
        """openssl's -cert_chain for the intermediates, when there are."""
        return ["-cert_chain", self.path("chain.pem")] if \
            self.ncerts > 1 else []

    def not_after(self):
        out = openssl("x509", "-in", self.path("leaf.pem"), "-noout",
                      "-enddate")
        return out.strip().split("=", 1)[1]

    def serial(self):
        return openssl("x509", "-in", self.path("leaf.pem"), "-noout",
                       "-serial").strip()

    def verify(self, bundle_pem):
        """openssl verify of the chain against bundle_pem (PEM text)."""
        b = self.path("verify-bundle.pem")
        with open(b, "w") as f:
            f.write(bundle_pem)
        return subprocess.run(["openssl", "verify", "-CAfile", b,
                               "-untrusted", self.path("svid.0.pem"),
                               self.path("leaf.pem")],
                              capture_output=True, text=True)

    def jwt(self, audience):
        r = run([self.spire.agent, "api", "fetch", "jwt", "-audience",
                 audience, "-socketPath", self.socket], check=False)
        m = re.search(r"token\(spiffe://[^)]*\):\s*(\S+)", r.stdout)
        return m.group(1) if m else None

    def validate_jwt(self, audience, token):
        return run([self.spire.agent, "api", "validate", "jwt",
                    "-audience", audience, "-svid", token, "-socketPath",
                    self.socket], check=False)


def mtls(server, client):
    """One TLS handshake, each side presenting its SVID and chain and
    checking the other's against its own bundle (verify errors fail it).
    Returns (ok, output)."""
    port = free_port()
    srv = subprocess.Popen(
        ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port,
         "-cert", server.path("leaf.pem"), *server.chain_args(), "-key",
         server.path("svid.0.key"), "-CAfile", server.path("bundle.0.pem"),
         "-Verify", "4", "-verify_return_error", "-naccept", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        # Until the server listens the client is refused (a probe of
        # our own would be the one connection the server takes).
        deadline = time.monotonic() + 10
        while True:
            r = subprocess.run(
                ["openssl", "s_client", "-connect",
                 "127.0.0.1:%d" % port, "-cert", client.path("leaf.pem"),
                 *client.chain_args(), "-key",
                 client.path("svid.0.key"), "-CAfile",
                 client.path("bundle.0.pem"), "-verify", "4",
                 "-verify_return_error", "-brief"],
                input="hello\n", capture_output=True, text=True,
                timeout=20)
            out = r.stdout + r.stderr
            if "errno=111" not in out and "refused" not in out.lower():
                break
            if time.monotonic() > deadline or srv.poll() is not None:
                break
            time.sleep(0.1)
        ok = r.returncode == 0 and "Verification: OK" in out
    finally:
        if srv.poll() is None:
            srv.kill()
        sout = srv.communicate(timeout=10)[0]
    return ok and "verify error" not in sout.lower(), out + sout


def mtls_both_ways(a, b):
    ok1, out1 = mtls(a, b)
    ok2, out2 = mtls(b, a)
    assert ok1, "mTLS %s -> %s failed:\n%s" % (b.dir, a.dir, out1)
    assert ok2, "mTLS %s -> %s failed:\n%s" % (a.dir, b.dir, out2)


def jwt_both_ways(a, b, audience="cross-tier"):
    """a's JWT-SVID validates at b's Workload API and the reverse."""
    for x, y in ((a, b), (b, a)):
        last = []

        def ok():
            tok = x.jwt(audience)
            if tok is None:
                return False
            r = y.validate_jwt(audience, tok)
            last[:] = [r.stdout + r.stderr]
            return r.returncode == 0 and "SVID is valid" in r.stdout
        try:
            wait_for(ok, 40, "JWT-SVID of %s valid at %s" % (x.dir, y.dir))
        except AssertionError:
            raise AssertionError("%s; last answer: %s" % (
                "JWT-SVID of %s not valid at %s" % (x.dir, y.dir), last))


def count(text, what):
    return len(re.findall(re.escape(what), text))


def sleep_until(t):
    d = t - time.monotonic()
    if d > 0:
        time.sleep(d)
