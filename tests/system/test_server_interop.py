"""spirelet's server against real SPIRE v1.13.3 peers: a spire-agent
attests to it, its workloads get SVIDs spirelet signs, and the real
spire-server CLI administers it over the admin socket."""
import base64
import json
import os
import re
import time

import pytest

from conftest import wait_for
from server_util import (SpireletServer, fetched_ids, openssl,
                         verify_svid)
from spire import SpireAgent, sockdir, spire  # noqa: F401 (fixtures)

TD = "example.org"


def _jwt_check(token, bundle_json, audience):
    import jwt
    hdr = jwt.get_unverified_header(token)
    keys = json.loads(bundle_json)["keys"]
    key = [k for k in keys if k.get("kid") == hdr["kid"]]
    assert key, "kid %s not in the JWT bundle" % hdr["kid"]
    pub = jwt.algorithms.ECAlgorithm.from_jwk(json.dumps(key[0]))
    return jwt.decode(token, pub, algorithms=[hdr["alg"]], audience=audience)


def test_join_token_agent_gets_svids_and_entry_changes(
        spirelet, spire, procs, sockdir, tmp_path):
    srv = SpireletServer(spirelet, spire, procs, tmp_path / "srv",
                         sockdir).start()
    token = srv.token()
    agent = SpireAgent(spire, procs, tmp_path / "agent", sockdir, srv.port,
                       srv.bundle_pem(), join_token=token).start()
    agent_id = "spiffe://%s/spire/agent/join_token/%s" % (TD, token)
    assert srv.agents() == [agent_id]
    uid = os.getuid()
    eid = srv.entry_create(agent_id, "spiffe://%s/app" % TD,
                           ["unix:uid:%d" % uid], "-dns", "appuser")
    out = tmp_path / "x509"
    out.mkdir()
    wait_for(lambda: fetched_ids(agent, out) == ["spiffe://%s/app" % TD],
             20, "the workload SVID")
    r = verify_svid(srv.bundle_pem(), out)
    assert r.returncode == 0, r.stdout + r.stderr
    subj = openssl("x509", "-in", str(out / "svid.0.pem"), "-noout",
                   "-subject")
    assert "CN = appuser" in subj and "O = SPIRE" in subj

    # A JWT-SVID checks with a standard JWT library against the bundle.
    r = __import__("spire").run([spire.agent, "api", "fetch", "jwt",
                                 "-audience", "db", "-socketPath",
                                 agent.socket])
    token_jwt = re.search(r"token\(spiffe://[^)]*\):\s*(\S+)",
                          r.stdout).group(1)
    jwks = srv.cli("bundle", "show", "-format", "spiffe").stdout
    claims = _jwt_check(token_jwt, jwks, "db")
    assert claims["sub"] == "spiffe://%s/app" % TD
    assert claims["aud"] == ["db"] and claims["exp"] > time.time()

    # Entries added, changed and removed on spirelet reach the agent.
    eid2 = srv.entry_create(agent_id, "spiffe://%s/app2" % TD,
                            ["unix:uid:%d" % uid])
    wait_for(lambda: sorted(fetched_ids(agent, out)) ==
             ["spiffe://%s/app" % TD, "spiffe://%s/app2" % TD], 20,
             "the second entry at the agent")
    srv.cli("entry", "update", "-entryID", eid2, "-parentID", agent_id,
            "-spiffeID", "spiffe://%s/app3" % TD, "-selector",
            "unix:uid:%d" % uid)
    wait_for(lambda: sorted(fetched_ids(agent, out)) ==
             ["spiffe://%s/app" % TD, "spiffe://%s/app3" % TD], 20,
             "the updated entry at the agent")
    srv.cli("entry", "delete", "-entryID", eid)
    wait_for(lambda: fetched_ids(agent, out) == ["spiffe://%s/app3" % TD],
             20, "the deleted entry gone from the agent")
    shown = srv.cli("entry", "show").stdout
    assert eid2 in shown and eid not in shown


def test_bad_admin_input_is_refused_and_stores_nothing(
        spirelet, spire, procs, sockdir, tmp_path):
    srv = SpireletServer(spirelet, spire, procs, tmp_path / "srv",
                         sockdir).start()
    parent = "spiffe://%s/node" % TD
    for spiffe_id, why in (
            ("spiffe://other.org/app", "is not a member of trust domain"),
            ("spiffe://%s/spire/app" % TD, "reserved")):
        r = srv.cli("entry", "create", "-parentID", parent, "-spiffeID",
                    spiffe_id, "-selector", "unix:uid:1", check=False)
        assert r.returncode != 0 and why in r.stdout + r.stderr, r
    assert "Found 0 entries" in srv.cli("entry", "show").stdout
    assert srv.log().count("entry refused") == 2

    # A reused join token: the second agent is refused.
    token = srv.token()
    SpireAgent(spire, procs, tmp_path / "a1", sockdir, srv.port,
               srv.bundle_pem(), join_token=token, name="a1").start()
    a2 = SpireAgent(spire, procs, tmp_path / "a2", sockdir, srv.port,
                    srv.bundle_pem(), join_token=token, name="a2")
    a2.proc = procs([spire.agent, "run", "-config", a2.conf], name="a2")
    wait_for(lambda: "join token does not exist or has already been used"
             in srv.log(), 20, "the reused token refused")
    assert len(srv.agents()) == 1


def _x509pop_certs(d):
    """A device CA and a device certificate (EC P-256), as a factory
    would make them."""
    d = str(d)
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
            "ca.key", cwd=d)
    openssl("req", "-x509", "-new", "-key", "ca.key", "-subj",
            "/CN=device-ca", "-days", "2", "-out", "ca.pem", "-addext",
            "basicConstraints=critical,CA:TRUE", "-addext",
            "keyUsage=critical,keyCertSign", cwd=d)
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
            "dev.key", cwd=d)
    openssl("req", "-new", "-key", "dev.key", "-subj", "/CN=board-17",
            "-out", "dev.csr", cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("keyUsage=critical,digitalSignature\n"
                "basicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", "dev.csr", "-CA", "ca.pem", "-CAkey",
            "ca.key", "-CAcreateserial", "-days", "1", "-extfile",
            "ext.cnf", "-out", "dev.pem", cwd=d)
    return d


def test_x509pop_agent_attests_and_reattests(spirelet, spire, procs,
                                             sockdir, tmp_path):
    certs = _x509pop_certs(tmp_path)
    srv = SpireletServer(
        spirelet, spire, procs, tmp_path / "srv", sockdir,
        plugins='NodeAttestor "x509pop" { plugin_data { ca_bundle_path = '
        '"%s/ca.pem" } }' % certs, server_extra='agent_ttl = "20s"').start()
    pop = ('NodeAttestor "x509pop" { plugin_data { private_key_path = '
           '"%s/dev.key" certificate_path = "%s/dev.pem" } }' %
           (certs, certs))
    agent = SpireAgent(spire, procs, tmp_path / "agent", sockdir, srv.port,
                       srv.bundle_pem(), plugins=pop).start()
    fp = openssl("x509", "-in", os.path.join(certs, "dev.pem"), "-noout",
                 "-fingerprint", "-sha1").split("=")[1].strip()
    agent_id = "spiffe://%s/spire/agent/x509pop/%s" % (
        TD, fp.replace(":", "").lower())
    assert srv.agents() == [agent_id]
    shown = srv.cli("agent", "show", "-spiffeID", agent_id).stdout
    assert "x509pop:subject:cn:board-17" in shown
    assert "Can re-attest     : true" in shown
    out = tmp_path / "x509"
    out.mkdir()
    srv.entry_create(agent_id, "spiffe://%s/board-app" % TD,
                     ["unix:uid:%d" % os.getuid()])
    wait_for(lambda: fetched_ids(agent, out) ==
             ["spiffe://%s/board-app" % TD], 20, "the workload SVID")
    # agent_ttl 20 s: the agent re-attests (x509pop can) at half-life.
    wait_for(lambda: srv.log().count("type=x509pop") >= 3, 45,
             "two re-attestations")
    assert "agent SVID renewed" not in srv.log()
    assert agent.healthy()
    assert verify_svid(srv.bundle_pem(), out).returncode == 0


def test_x509pop_untrusted_device_is_refused(spirelet, spire, procs,
                                             sockdir, tmp_path):
    (tmp_path / "good").mkdir()
    (tmp_path / "rogue").mkdir()
    good = _x509pop_certs(tmp_path / "good")
    rogue = _x509pop_certs(tmp_path / "rogue")
    srv = SpireletServer(
        spirelet, spire, procs, tmp_path / "srv", sockdir,
        plugins='NodeAttestor "x509pop" { plugin_data { ca_bundle_path = '
        '"%s/ca.pem" } }' % good).start()
    pop = ('NodeAttestor "x509pop" { plugin_data { private_key_path = '
           '"%s/dev.key" certificate_path = "%s/dev.pem" } }' %
           (rogue, rogue))
    a = SpireAgent(spire, procs, tmp_path / "agent", sockdir, srv.port,
                   srv.bundle_pem(), plugins=pop)
    a.proc = procs([spire.agent, "run", "-config", a.conf], name="rogue")
    wait_for(lambda: "certificate verification failed" in srv.log(), 20,
             "the rogue device refused")
    assert srv.agents() == []


def test_paged_sync_600_entries(spirelet, spire, procs, sockdir, tmp_path):
    srv = SpireletServer(spirelet, spire, procs, tmp_path / "srv",
                         sockdir).start()
    token = srv.token()
    agent_id = "spiffe://%s/spire/agent/join_token/%s" % (TD, token)
    uid = os.getuid()
    entries = []
    for i in range(600):
        # 595 for other workloads, 5 for us.
        sel = "unix:uid:%d" % (uid if i % 120 == 0 else 100000 + i)
        t, v = sel.split(":", 1)
        entries.append({"spiffe_id": "spiffe://%s/w/%d" % (TD, i),
                        "parent_id": agent_id,
                        "selectors": [{"type": t, "value": v}]})
    data = tmp_path / "entries.json"
    data.write_text(json.dumps({"entries": entries}))
    srv.cli("entry", "create", "-data", str(data))
    assert "600" in srv.cli("entry", "count").stdout
    agent = SpireAgent(spire, procs, tmp_path / "agent", sockdir, srv.port,
                       srv.bundle_pem(), join_token=token).start()
    out = tmp_path / "x509"
    out.mkdir()
    want = sorted("spiffe://%s/w/%d" % (TD, i) for i in range(0, 600, 120))
    wait_for(lambda: sorted(fetched_ids(agent, out)) == want, 30,
             "the 5 matching SVIDs")
    assert "paged=yes" in srv.log()
    # A change among many reaches the agent through the revisions path.
    ids = re.findall(r"Entry ID\s*:\s*(\S+)\nSPIFFE ID\s*:\s*"
                     r"spiffe://example.org/w/120\n",
                     srv.cli("entry", "show", "-spiffeID",
                             "spiffe://%s/w/120" % TD).stdout)
    assert len(ids) == 1
    srv.cli("entry", "delete", "-entryID", ids[0])
    want.remove("spiffe://%s/w/120" % TD)
    wait_for(lambda: sorted(fetched_ids(agent, out)) == want, 30,
             "the deleted entry gone")


def test_rotations(spirelet, spire, procs, sockdir, tmp_path):
    """Short CA and agent TTLs: join_token agents renew, the CA rotates,
    and workload SVIDs keep verifying."""
    srv = SpireletServer(spirelet, spire, procs, tmp_path / "srv", sockdir,
                         ca_ttl="30s", x509_ttl="10s",
                         server_extra='agent_ttl = "12s"').start()
    assert "exceed what ca_ttl guarantees" in srv.log()
    token = srv.token()
    agent_id = "spiffe://%s/spire/agent/join_token/%s" % (TD, token)
    agent = SpireAgent(spire, procs, tmp_path / "agent", sockdir, srv.port,
                       srv.bundle_pem(), join_token=token).start()
    srv.entry_create(agent_id, "spiffe://%s/app" % TD,
                     ["unix:uid:%d" % os.getuid()])
    out = tmp_path / "x509"
    out.mkdir()
    wait_for(lambda: fetched_ids(agent, out) == ["spiffe://%s/app" % TD],
             20, "the workload SVID")
    first_bundle = srv.bundle_pem()
    wait_for(lambda: srv.log().count("agent SVID renewed") >= 2, 40,
             "two agent renewals")
    wait_for(lambda: "X.509 CA activated\" slot=B" in srv.log(), 30,
             "a CA rotation")
    assert srv.bundle_pem() != first_bundle
    # The agent rotates the workload SVID; each one verifies.
    for _ in range(3):
        time.sleep(3)
        assert fetched_ids(agent, out) == ["spiffe://%s/app" % TD]
        r = verify_svid(srv.bundle_pem(), out)
        assert r.returncode == 0, r.stdout + r.stderr


def test_restart_keeps_agents_entries_and_ca(spirelet, spire, procs,
                                             sockdir, tmp_path):
    srv = SpireletServer(spirelet, spire, procs, tmp_path / "srv", sockdir,
                         server_extra='agent_ttl = "16s"').start()
    token = srv.token()
    agent_id = "spiffe://%s/spire/agent/join_token/%s" % (TD, token)
    agent = SpireAgent(spire, procs, tmp_path / "agent", sockdir, srv.port,
                       srv.bundle_pem(), join_token=token).start()
    eid = srv.entry_create(agent_id, "spiffe://%s/app" % TD,
                           ["unix:uid:%d" % os.getuid()])
    out = tmp_path / "x509"
    out.mkdir()
    wait_for(lambda: fetched_ids(agent, out) == ["spiffe://%s/app" % TD],
             20, "the workload SVID")
    bundle = srv.bundle_pem()
    srv.stop()
    srv.start()
    assert srv.bundle_pem() == bundle
    assert srv.agents() == [agent_id]
    assert eid in srv.cli("entry", "show").stdout
    wait_for(lambda: "agent SVID renewed" in srv.log(), 30,
             "a renewal after the restart")
    assert agent.healthy()
    assert fetched_ids(agent, out) == ["spiffe://%s/app" % TD]
    assert verify_svid(srv.bundle_pem(), out).returncode == 0


def test_upstream_disk_ca_and_mint(spirelet, spire, procs, sockdir,
                                   tmp_path):
    """UpstreamAuthority "disk": the server's CA is signed by an
    operator's root; minted SVIDs chain through our CA to that root,
    which alone is the bundle."""
    d = str(tmp_path)
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
            "up.key", cwd=d)
    openssl("req", "-x509", "-new", "-key", "up.key", "-subj",
            "/O=Operator/CN=root", "-days", "2", "-out", "up.pem",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
            "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    srv = SpireletServer(
        spirelet, spire, procs, tmp_path / "srv", sockdir,
        plugins='UpstreamAuthority "disk" { plugin_data { cert_file_path '
        '= "%s/up.pem" key_file_path = "%s/up.key" } }' % (d, d)).start()
    root = open(os.path.join(d, "up.pem")).read()
    bundle = srv.bundle_pem()
    assert bundle.count("BEGIN CERTIFICATE") == 1
    assert "".join(bundle.split()) == "".join(root.split())
    out = tmp_path / "mint"
    out.mkdir()
    srv.cli("x509", "mint", "-spiffeID", "spiffe://%s/minted" % TD,
            "-dns", "minted.example", "-ttl", "10m", "-write", str(out))
    chain = (out / "svid.pem").read_text()
    assert chain.count("BEGIN CERTIFICATE") == 2   # leaf, our CA
    (out / "chain.pem").write_text(chain)
    r = __import__("subprocess").run(
        ["openssl", "verify", "-CAfile", os.path.join(d, "up.pem"),
         "-untrusted", str(out / "chain.pem"), str(out / "svid.pem")],
        capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    text = openssl("x509", "-in", str(out / "svid.pem"), "-noout", "-text")
    assert "URI:spiffe://example.org/minted" in text
    assert "CN = minted.example" in text
    # A JWT-SVID minted for an audience checks against the JWT bundle.
    tok = srv.cli("jwt", "mint", "-spiffeID", "spiffe://%s/minted" % TD,
                  "-audience", "svc").stdout.strip().split()[-1]
    jwks = srv.cli("bundle", "show", "-format", "spiffe").stdout
    assert _jwt_check(tok, jwks, "svc")["sub"] == \
        "spiffe://%s/minted" % TD
    # A CSR-less or foreign-domain mint is refused.
    r = srv.cli("x509", "mint", "-spiffeID", "spiffe://other.org/x",
                check=False)
    assert r.returncode != 0


def test_banned_agent_is_refused_and_stops(spirelet, spire, procs, sockdir,
                                           tmp_path):
    srv = SpireletServer(spirelet, spire, procs, tmp_path / "srv",
                         sockdir).start()
    token = srv.token()
    agent = SpireAgent(spire, procs, tmp_path / "agent", sockdir, srv.port,
                       srv.bundle_pem(), join_token=token).start()
    agent_id = "spiffe://%s/spire/agent/join_token/%s" % (TD, token)
    srv.cli("agent", "ban", "-spiffeID", agent_id)
    # PermissionDenied with AGENT_BANNED: spire-agent deletes its SVID
    # and exits, as it does against spire-server.
    wait_for(lambda: not agent.proc.alive(), 30, "the banned agent to stop")
    assert "agent is banned" in srv.log()
    assert "Banned" in srv.cli("agent", "show", "-spiffeID",
                               agent_id).stdout
