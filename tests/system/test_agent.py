"""spirelet's agent against a real spire-server v1.13.3: join token and
x509pop attestation, entries made with the real CLI reaching workloads
through the real spire-agent CLI, rotations with short TTLs, a server
outage, a restart while the server is down, and deleted entries.

The server side is the `server` fixture (agent_util.make_server), so the
same tests can run against a spirelet server once it exists.
"""
import json
import os
import re
import time

import pytest

from agent_util import (TD, Agent, as_user, cert_serial, make_server,
                        openssl, wait_until, x509pop_plugin)
from conftest import free_port, wait_for
from spire import run, sockdir, spire  # noqa: F401 (fixtures)

SERVER_KINDS = ["spire", "spirelet"]


@pytest.fixture(params=SERVER_KINDS)
def server_kind(request):
    return request.param


def test_join_token_entries_x509_and_jwt(spirelet, spire, procs, sockdir,
                                         tmp_path, server_kind):
    srv = make_server(server_kind, spire, procs, tmp_path / "srv",
                      sockdir, spirelet=spirelet).start()
    token = srv.token("spiffe://%s/edge" % TD)
    agent = Agent(spirelet, spire, procs, tmp_path / "agent", sockdir, srv,
                  join_token=token).start()
    assert "node attestation was successful" in agent.log()
    srv.entry_create("spiffe://%s/edge" % TD, "spiffe://%s/app" % TD,
                     ["unix:uid:%d" % os.getuid()])
    agent.wait_ids(["spiffe://%s/app" % TD])

    out = tmp_path / "out"
    r = agent.fetch_x509(out, check=True)
    assert "Writing SVID #0" in r.stdout
    # The chain verifies to the server's bundle, with the key that came.
    openssl("verify", "-CAfile", str(out / "bundle.0.pem"),
            str(out / "svid.0.pem"))
    pub1 = openssl("x509", "-in", str(out / "svid.0.pem"), "-noout",
                   "-pubkey").stdout
    pub2 = openssl("pkey", "-in", str(out / "svid.0.key"), "-pubout").stdout
    assert pub1 == pub2
    with open(out / "bundle.0.pem") as f:
        assert f.read().strip() == srv.bundle_pem().strip()

    r = agent.fetch_jwt("test-audience", check=True)
    tok = re.search(r"(eyJ\S+)", r.stdout).group(1)
    # Cached until half its life: the same token again.
    r2 = agent.fetch_jwt("test-audience", check=True)
    assert tok in r2.stdout
    r = run([spire.agent, "api", "validate", "jwt", "-socketPath",
             agent.socket, "-audience", "test-audience", "-svid", tok])
    assert "SVID is valid." in r.stdout
    assert '"aud":["test-audience"]' in r.stdout
    r = run([spire.agent, "api", "validate", "jwt", "-socketPath",
             agent.socket, "-audience", "other", "-svid", tok],
            check=False)
    assert r.returncode != 0

    # A workload no entry selects gets no identity.
    r = agent.fetch_x509(user=65534, timeout=2)
    assert r.returncode != 0
    assert "no identity issued" in r.stderr + r.stdout

    # The agent shows up in the server's list, attested by join token.
    r = srv.cli("agent", "list")
    assert "join_token" in r.stdout


def test_paged_sync_of_many_entries(spirelet, spire, procs, sockdir,
                                    tmp_path, server_kind):
    """More entries than one page (500): the server sends revisions in
    pages and the agent asks for the entries in sorted chunks."""
    srv = make_server(server_kind, spire, procs, tmp_path / "srv",
                      sockdir, spirelet=spirelet).start()
    token = srv.token("spiffe://%s/edge" % TD)
    n = 520
    entries = [{"parent_id": "spiffe://%s/edge" % TD,
                "spiffe_id": "spiffe://%s/many/%03d" % (TD, i),
                "selectors": [{"type": "unix",
                               "value": "uid:%d" % os.getuid()}]}
               for i in range(n)]
    data = tmp_path / "entries.json"
    data.write_text(json.dumps({"entries": entries}))
    srv.cli("entry", "create", "-data", str(data))
    agent = Agent(spirelet, spire, procs, tmp_path / "agent", sockdir, srv,
                  join_token=token).start()
    want = ["spiffe://%s/many/%03d" % (TD, i) for i in range(n)]
    agent.wait_ids(want, timeout=60)
    # The server's entry cache may fill over more than one sync, so the
    # first paged sync may fetch only some: any count will do.
    assert re.search(r"sync: %d entry revisions in pages of 500; \d+ "
                     r"entries to fetch" % (n + 1), agent.log())
    # Later syncs find every revision known: nothing to fetch.
    wait_for(lambda: "sync: %d entry revisions in pages of 500; 0 "
             "entries" % (n + 1) in agent.log(), 10, "an idle paged sync")
    r = srv.cli("entry", "show", "-spiffeID", want[7])
    eid = re.search(r"Entry ID\s*:\s*(\S+)", r.stdout).group(1)
    srv.entry_delete(eid)
    agent.wait_ids(want[:7] + want[8:], timeout=30)


def test_federated_bundles_and_hints(spirelet, spire, procs, sockdir,
                                     tmp_path, server_kind):
    """Entries that federate with another trust domain bring its bundle
    (GetFederatedBundle) to the workload; of two entries with the same
    hint only the oldest is served."""
    srv = make_server(server_kind, spire, procs, tmp_path / "srv",
                      sockdir, spirelet=spirelet).start()
    other = tmp_path / "other"
    other.mkdir()
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", "o.key",
            "-out", "o.pem", "-subj", "/O=other", "-days", "1",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-addext", "subjectAltName=URI:spiffe://other.org", cwd=other)
    srv.cli("bundle", "set", "-id", "spiffe://other.org", "-path",
            str(other / "o.pem"))
    token = srv.token("spiffe://%s/edge" % TD)
    agent = Agent(spirelet, spire, procs, tmp_path / "agent", sockdir, srv,
                  join_token=token).start()
    me = ["unix:uid:%d" % os.getuid()]
    srv.entry_create("spiffe://%s/edge" % TD, "spiffe://%s/fed" % TD, me,
                     "-federatesWith", "spiffe://other.org", "-hint", "h1")
    time.sleep(1.1)	# created_at has one-second resolution
    srv.entry_create("spiffe://%s/edge" % TD, "spiffe://%s/dup" % TD, me,
                     "-hint", "h1")
    srv.entry_create("spiffe://%s/edge" % TD, "spiffe://%s/plain" % TD, me)
    agent.wait_ids(["spiffe://%s/fed" % TD, "spiffe://%s/plain" % TD])
    out = tmp_path / "out"
    agent.fetch_x509(out, check=True)
    fed = sorted(p.name for p in out.iterdir()
                 if p.name.startswith("federated_bundle."))
    assert fed, sorted(os.listdir(out))
    got = (out / fed[0]).read_text()
    assert got.strip() == (other / "o.pem").read_text().strip()


def test_unix_selectors(spirelet, spire, procs, sockdir, tmp_path):
    """uid/user/gid/group, supplementary groups, and with
    discover_workload_path the binary's path and sha256."""
    import grp
    import hashlib
    import pwd
    srv = make_server("spire", spire, procs, tmp_path / "srv",
                      sockdir).start()
    token = srv.token("spiffe://%s/edge" % TD)
    agent = Agent(spirelet, spire, procs, tmp_path / "agent", sockdir, srv,
                  join_token=token, unix='WorkloadAttestor "unix" '
                  '{ plugin_data { discover_workload_path = true } }').start()
    with open(spire.agent, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    edge = "spiffe://%s/edge" % TD
    srv.entry_create(edge, "spiffe://%s/bin" % TD,
                     ["unix:path:%s" % os.path.realpath(spire.agent),
                      "unix:sha256:%s" % digest])
    nobody = pwd.getpwuid(65534).pw_name
    g4 = grp.getgrgid(4).gr_name
    srv.entry_create(edge, "spiffe://%s/grp" % TD,
                     ["unix:user:%s" % nobody, "unix:gid:65534",
                      "unix:supplementary_gid:4",
                      "unix:supplementary_group:%s" % g4])
    srv.entry_create(edge, "spiffe://%s/wrong-sha" % TD,
                     ["unix:uid:0", "unix:sha256:%s" % ("0" * 64)])
    agent.wait_ids(["spiffe://%s/bin" % TD])
    r = agent.fetch_x509()
    assert "wrong-sha" not in r.stdout
    # As nobody with group 4: the group entry too.
    argv = ["setpriv", "--reuid=65534", "--regid=65534", "--groups=4",
            spire.agent, "api", "fetch", "x509", "-socketPath",
            agent.socket]

    def both():
        r = run(argv, check=False)
        return "spiffe://%s/grp" % TD in r.stdout and \
            "spiffe://%s/bin" % TD in r.stdout
    wait_for(both, 20, "SVIDs by group and by binary", agent.proc)


def make_device_pki(d):
    """A CA and a device certificate (EC P-256) for x509pop."""
    d.mkdir()
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
            "ca.key", cwd=d)
    openssl("req", "-x509", "-new", "-key", "ca.key", "-subj",
            "/CN=device CA", "-days", "2", "-out", "ca.pem",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-out", "dev.key", cwd=d)
    openssl("req", "-new", "-key", "dev.key", "-subj", "/CN=device-1",
            "-out", "dev.csr", cwd=d)
    with open(d / "ext.cnf", "w") as f:
        f.write("keyUsage=critical,digitalSignature\n"
                "basicConstraints=critical,CA:FALSE\n")
    openssl("x509", "-req", "-in", "dev.csr", "-CA", "ca.pem", "-CAkey",
            "ca.key", "-CAcreateserial", "-days", "2", "-extfile",
            "ext.cnf", "-out", "dev.pem", cwd=d)
    fp = openssl("x509", "-in", "dev.pem", "-noout", "-fingerprint",
                 "-sha1", cwd=d).stdout
    sha1 = fp.split("=", 1)[1].strip().replace(":", "").lower()
    return d, sha1


def test_x509pop_attestation(spirelet, spire, procs, sockdir, tmp_path,
                             server_kind):
    pki, sha1 = make_device_pki(tmp_path / "pki")
    srv = make_server(server_kind, spire, procs, tmp_path / "srv", sockdir,
                      spirelet=spirelet, plugins=x509pop_plugin(pki /
                                                                "ca.pem")).start()
    plugins = ('NodeAttestor "x509pop" { plugin_data { '
               'private_key_path = "%s" certificate_path = "%s" } }'
               % (pki / "dev.key", pki / "dev.pem"))
    agent = Agent(spirelet, spire, procs, tmp_path / "agent", sockdir, srv,
                  plugins=plugins).start()
    agent_id = "spiffe://%s/spire/agent/x509pop/%s" % (TD, sha1)
    assert agent_id in agent.log()
    assert "reattestable=true" in agent.log()
    srv.entry_create(agent_id, "spiffe://%s/pop-app" % TD,
                     ["unix:uid:%d" % os.getuid()])
    agent.wait_ids(["spiffe://%s/pop-app" % TD])
    # The server's node selectors come from the certificate.
    r = srv.cli("agent", "show", "-spiffeID", agent_id)
    assert "x509pop:subject:cn:device-1" in r.stdout


def test_rotation_outage_restart_and_deletion(spirelet, spire, procs,
                                              sockdir, tmp_path,
                                              server_kind):
    srv = make_server(server_kind, spire, procs, tmp_path / "srv",
                      sockdir, spirelet=spirelet).start()
    token = srv.token("spiffe://%s/edge" % TD)
    agent = Agent(spirelet, spire, procs, tmp_path / "agent", sockdir, srv,
                  join_token=token).start()
    eid = srv.entry_create("spiffe://%s/edge" % TD,
                           "spiffe://%s/short" % TD,
                           ["unix:uid:%d" % os.getuid()],
                           "-x509SVIDTTL", "14")
    agent.wait_ids(["spiffe://%s/short" % TD])

    # Short TTLs: several rotations are seen by a workload.
    serials = set()
    out = tmp_path / "rot"

    def rotated():
        if agent.fetch_x509(out).returncode == 0:
            serials.add(cert_serial(out / "svid.0.pem"))
        return len(serials) >= 3
    wait_until(rotated, 25, "three X509-SVID rotations")

    # The server stops for longer than a sync: the agent keeps serving.
    srv.stop()
    time.sleep(1.5)
    assert agent.ids() == ["spiffe://%s/short" % TD]

    # The agent restarts while the server is down: the cache serves at
    # once, without attesting again (the join token is spent anyway).
    assert agent.stop() == 0
    agent.start()
    assert agent.ids() == ["spiffe://%s/short" % TD]
    log = agent.log()
    assert "using the cached agent SVID" in log
    assert "attesting" not in log

    # The server is back; an entry deleted there vanishes.
    srv.start()
    eid2 = srv.entry_create("spiffe://%s/edge" % TD,
                            "spiffe://%s/second" % TD,
                            ["unix:uid:%d" % os.getuid()])
    agent.wait_ids(["spiffe://%s/short" % TD, "spiffe://%s/second" % TD])
    srv.entry_delete(eid)
    agent.wait_ids(["spiffe://%s/second" % TD])
    srv.entry_delete(eid2)

    def gone():
        r = agent.fetch_x509(timeout=2)
        return r.returncode != 0 and "no identity issued" in (
            r.stderr + r.stdout)
    wait_until(gone, 20, "no identity once every entry is deleted")


def test_agent_svid_renewed_and_reattested(spirelet, spire, procs, sockdir,
                                           tmp_path, server_kind):
    """Short agent SVIDs: a join-token agent renews with RenewAgent, an
    x509pop agent attests again, and both keep syncing with the new
    certificate."""
    pki, sha1 = make_device_pki(tmp_path / "pki")
    srv = make_server(server_kind, spire, procs, tmp_path / "srv", sockdir,
                      spirelet=spirelet, x509_ttl="14s",
                      plugins=x509pop_plugin(pki / "ca.pem")).start()
    token = srv.token("spiffe://%s/edge" % TD)
    jt = Agent(spirelet, spire, procs, tmp_path / "jt", sockdir, srv,
               join_token=token, name="jt").start()
    plugins = ('NodeAttestor "x509pop" { plugin_data { '
               'private_key_path = "%s" certificate_path = "%s" } }'
               % (pki / "dev.key", pki / "dev.pem"))
    pop = Agent(spirelet, spire, procs, tmp_path / "pop", sockdir, srv,
                plugins=plugins, name="pop").start()
    pop_id = "spiffe://%s/spire/agent/x509pop/%s" % (TD, sha1)
    srv.entry_create("spiffe://%s/edge" % TD, "spiffe://%s/jt-w" % TD,
                     ["unix:uid:%d" % os.getuid()])
    srv.entry_create(pop_id, "spiffe://%s/pop-w" % TD,
                     ["unix:uid:%d" % os.getuid()])
    wait_for(lambda: jt.log().count("agent SVID renewed") >= 2, 40,
             "two RenewAgent rotations", jt.proc)
    wait_for(lambda: pop.log().count("node attestation was successful")
             >= 3, 40, "two re-attestations", pop.proc)
    # Still authorized with the new certificates: entries keep coming.
    srv.entry_create("spiffe://%s/edge" % TD, "spiffe://%s/jt-late" % TD,
                     ["unix:uid:%d" % os.getuid()])
    srv.entry_create(pop_id, "spiffe://%s/pop-late" % TD,
                     ["unix:uid:%d" % os.getuid()])
    jt.wait_ids(["spiffe://%s/jt-w" % TD, "spiffe://%s/jt-late" % TD])
    pop.wait_ids(["spiffe://%s/pop-w" % TD, "spiffe://%s/pop-late" % TD])


HTTPS_SERVER = r"""
import http.server, ssl, sys
port, d = int(sys.argv[1]), sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(d + "/web.pem", d + "/web.key")
class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=d + "/www", **k)
srv = http.server.HTTPServer(("127.0.0.1", port), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("ready", flush=True)
srv.serve_forever()
"""


def test_trust_bundle_url(spirelet, spire, procs, sockdir, tmp_path):
    """The bootstrap bundle over HTTPS, checked with Web PKI rules: the
    roots in SSL_CERT_FILE and the URL's host name."""
    srv = make_server("spire", spire, procs, tmp_path / "srv",
                      sockdir).start()
    d = tmp_path / "web"
    (d / "www").mkdir(parents=True)
    (d / "www" / "bundle.pem").write_text(srv.bundle_pem())
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-subj", "/CN=web CA", "-days", "1", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", "web.key", "-out", "web.csr", "-subj",
            "/CN=localhost", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost\n")
    openssl("x509", "-req", "-in", "web.csr", "-CA", "ca.pem", "-CAkey",
            "ca.key", "-CAcreateserial", "-days", "1", "-extfile",
            "ext.cnf", "-out", "web.pem", cwd=d)
    port = free_port()
    web = procs(["/usr/bin/python3", "-c", HTTPS_SERVER, str(port), str(d)],
                name="https")
    wait_for(lambda: "ready" in web.output(), 10, "https server", web)
    token = srv.token("spiffe://%s/edge" % TD)
    url = "https://localhost:%d/bundle.pem" % port
    agent = Agent(spirelet, spire, procs, tmp_path / "agent", sockdir, srv,
                  join_token=token, bundle_url=url,
                  env=dict(os.environ, SSL_CERT_FILE=str(d / "ca.pem")))
    agent.start()
    assert "trust bundle fetched" in agent.log()
    srv.entry_create("spiffe://%s/edge" % TD, "spiffe://%s/u" % TD,
                     ["unix:uid:%d" % os.getuid()])
    agent.wait_ids(["spiffe://%s/u" % TD])
    # Roots that do not vouch for the web server: refused, retried.
    bad = Agent(spirelet, spire, procs, tmp_path / "bad", sockdir, srv,
                join_token=srv.token(), bundle_url=url, name="bad",
                env=dict(os.environ, SSL_CERT_FILE=str(
                    tmp_path / "agent" / "bootstrap.pem")))
    bad.start(wait=False)
    wait_for(lambda: "cannot fetch the trust bundle" in bad.log(), 15,
             "the agent refusing the web server", bad.proc)
    assert bad.proc.alive()


def test_banned_agent_stops(spirelet, spire, procs, sockdir, tmp_path,
                            server_kind):
    srv = make_server(server_kind, spire, procs, tmp_path / "srv",
                      sockdir, spirelet=spirelet).start()
    token = srv.token()
    agent = Agent(spirelet, spire, procs, tmp_path / "agent", sockdir, srv,
                  join_token=token).start()
    agent_id = "spiffe://%s/spire/agent/join_token/%s" % (TD, token)
    srv.agent_ban(agent_id)
    # PermissionDenied with AGENT_BANNED: it stops, and says why.
    agent.proc.wait(timeout=20)
    assert agent.proc.p.returncode == 1
    assert "agent is banned" in agent.log()


def test_evicted_x509pop_agent_attests_again(spirelet, spire, procs,
                                             sockdir, tmp_path,
                                             server_kind):
    pki, sha1 = make_device_pki(tmp_path / "pki")
    srv = make_server(server_kind, spire, procs, tmp_path / "srv", sockdir,
                      spirelet=spirelet, plugins=x509pop_plugin(pki /
                                                                "ca.pem")).start()
    plugins = ('NodeAttestor "x509pop" { plugin_data { '
               'private_key_path = "%s" certificate_path = "%s" } }'
               % (pki / "dev.key", pki / "dev.pem"))
    agent = Agent(spirelet, spire, procs, tmp_path / "agent", sockdir, srv,
                  plugins=plugins).start()
    agent_id = "spiffe://%s/spire/agent/x509pop/%s" % (TD, sha1)
    srv.entry_create(agent_id, "spiffe://%s/pop" % TD,
                     ["unix:uid:%d" % os.getuid()])
    agent.wait_ids(["spiffe://%s/pop" % TD])
    srv.cli("agent", "evict", "-spiffeID", agent_id)
    wait_for(lambda: agent.log().count("node attestation was successful")
             >= 2, 30, "the agent attesting again", agent.proc)
    assert "attest again" in agent.log()
    agent.wait_ids(["spiffe://%s/pop" % TD])
    assert agent.proc.alive()


@pytest.mark.parametrize("body,want", [
    ('agent { server_address = "127.0.0.1" }\n'
     'plugins { NodeAttestor "join_token" { plugin_data {} } }',
     "one of trust_bundle_path"),
    ('agent { trust_bundle_path = "/x" insecure_bootstrap = true }',
     "only one of trust_bundle_path"),
    ('agent {}\nplugins {\n  NodeAttestor "k8s_psat" { plugin_data {} }\n}',
     ":3: NodeAttestor \"k8s_psat\": no such agent plugin"),
    ('agent {}\nplugins {\n  WorkloadAttestor "unix" { plugin_data {\n'
     '    discover_path = true } }\n}', ":4:"),
    ('agent {}\nplugins {\n  NodeAttestor "x509pop" { plugin_data {} }\n}',
     "private_key_path"),
    ('agent { workload_x509_svid_key_type = "rsa-2048" }', "rsa-2048"),
    ('agent { trust_bundle_url = "http://x/b" }', "https:// URL"),
])
def test_agent_config_errors(spirelet, tmp_path, body, want):
    conf = tmp_path / "agent.conf"
    conf.write_text(body + "\n")
    r = run([spirelet, "agent", "validate", "-config", str(conf)],
            check=False)
    assert r.returncode == 1
    assert want in r.stderr, r.stderr
