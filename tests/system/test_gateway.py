"""Gateway mode against real peers: spirelet nested under a real SPIRE
server (and under spirelet's own server) as a downstream CA, in SPIRE's
shape and as one process, with CA rotation under short TTLs, a parent
outage with a restart in the middle, and cross-tier mTLS and JWT-SVIDs
between workloads under the gateway and under the root."""
import re
import time

from conftest import wait_for
from gateway_util import (TD, UID, Gateway, LinkJoinToken,
                          LinkX509pop, Root, Workload, count,
                          jwt_both_ways, make_device_pki, mtls_both_ways,
                          openssl, x509pop_server_plugin)
from server_util import SpireletServer
from spire import SpireAgent, run, sockdir, spire  # noqa: F401 (fixtures)


def _seconds(text):
    """Seconds of a "1h2m3s" text as the gateway logs them."""
    total = 0
    for n, unit in re.findall(r"(\d+)([hms])", text):
        total += int(n) * {"h": 3600, "m": 60, "s": 1}[unit]
    return total


def test_spire_shape_nested_server(spirelet, spire, procs, sockdir,
                                   tmp_path):
    """SPIRE's own shape: a real spire-agent attested to the real root
    supplies the downstream SVID to `spirelet server run` over its
    Workload API; a second real spire-agent attests to spirelet, and its
    workload's chain verifies against the root's bundle."""
    root = Root(spire, procs, tmp_path / "root", sockdir).start()
    token = root.token()
    a1 = SpireAgent(spire, procs, tmp_path / "a1", sockdir, root.port,
                    root.bundle_pem(), join_token=token, name="a1").start()
    a1_id = "spiffe://%s/spire/agent/join_token/%s" % (TD, token)
    root.entry_create(a1_id, "spiffe://%s/nested" % TD,
                      ["unix:uid:%d" % UID], "-downstream")
    plugins = ('UpstreamAuthority "spire" { plugin_data { '
               'server_address = "127.0.0.1" server_port = "%d" '
               'workload_api_socket = "%s" } }' % (root.port, a1.socket))
    srv = SpireletServer(spirelet, spire, procs, tmp_path / "nested",
                         sockdir, plugins=plugins, ca_ttl="10m",
                         x509_ttl="1m", name="nested")
    srv.proc = procs([spirelet, "server", "run", "-config", srv.conf],
                     name="nested")
    wait_for(srv.healthy, 60, "nested spirelet server healthy", srv.proc)
    log = srv.log()
    assert "downstream SVID received" in log
    assert "spiffe://%s/nested" % TD in log
    # The bundle it serves is the root's: it never adds its own CA.
    root_pem = root.bundle_pem()
    assert srv.bundle_pem() == root_pem

    t2 = srv.token()
    a2 = SpireAgent(spire, procs, tmp_path / "a2", sockdir, srv.port,
                    root_pem, join_token=t2, name="a2").start()
    a2_id = "spiffe://%s/spire/agent/join_token/%s" % (TD, t2)
    srv.entry_create(a2_id, "spiffe://%s/w2" % TD, ["unix:uid:%d" % UID])
    w = Workload(spire, a2.socket, tmp_path / "w2")
    w.fetch("spiffe://%s/w2" % TD)
    # [leaf, spirelet's CA]: the root stays out of the chain.
    assert w.ncerts == 2
    r = w.verify(root_pem)
    assert r.returncode == 0, r.stdout + r.stderr
    inter = openssl("x509", "-in", w.path("chain.pem"), "-noout",
                    "-subject", "-ext", "subjectAltName")
    assert "OU = DOWNSTREAM-1" in inter and "URI:spiffe://%s" % TD in inter
    # The root signed it through NewDownstreamX509CA, for our ca_ttl.
    assert "Signed X509 CA SVID" in root.log()


def _three_tiers(spirelet, spire, procs, sockdir, tmp_path, root_kind):
    root = Root(spire, procs, tmp_path / "root", sockdir, kind=root_kind,
                spirelet=spirelet).start()
    gw = Gateway(spirelet, spire, procs, tmp_path / "gw", sockdir, root,
                 LinkJoinToken(root)).start()
    root_pem = root.bundle_pem()
    assert gw.bundle_pem() == root_pem

    # A real spire-agent and a spirelet agent attested to the gateway.
    t1 = gw.token()
    ra = SpireAgent(spire, procs, tmp_path / "ra", sockdir, gw.port,
                    root_pem, join_token=t1, name="gw-spire-agent").start()
    gw.entry_create("spiffe://%s/spire/agent/join_token/%s" % (TD, t1),
                    "spiffe://%s/edge/spire-app" % TD,
                    ["unix:uid:%d" % UID])
    from agent_util import Agent

    class Side:
        port = gw.port
        trust_domain = TD

        @staticmethod
        def bundle_pem():
            return root_pem

    t2 = gw.token()
    sa = Agent(spirelet, spire, procs, tmp_path / "sa", sockdir, Side,
               join_token=t2, name="gw-spirelet-agent").start()
    gw.entry_create("spiffe://%s/spire/agent/join_token/%s" % (TD, t2),
                    "spiffe://%s/edge/spirelet-app" % TD,
                    ["unix:uid:%d" % UID])
    # The gateway's own workloads, from its agent in the same process.
    gw.entry_create(gw.agent_alias, "spiffe://%s/edge/local-app" % TD,
                    ["unix:uid:%d" % UID])
    # A real spire-agent attached directly to the root, with a workload.
    t3 = root.token()
    rr = SpireAgent(spire, procs, tmp_path / "rr", sockdir, root.port,
                    root_pem, join_token=t3, name="root-agent").start()
    root.entry_create("spiffe://%s/spire/agent/join_token/%s" % (TD, t3),
                      "spiffe://%s/core/app" % TD, ["unix:uid:%d" % UID])

    edge = []
    for sock, name in ((ra.socket, "spire-app"),
                       (sa.socket, "spirelet-app"),
                       (gw.agent_socket, "local-app")):
        w = Workload(spire, sock, tmp_path / ("w-" + name))
        w.fetch("spiffe://%s/edge/%s" % (TD, name))
        assert w.ncerts == 2, "chain of %s: [leaf, gateway CA]" % name
        r = w.verify(root_pem)
        assert r.returncode == 0, r.stdout + r.stderr
        edge.append(w)
    core = Workload(spire, rr.socket, tmp_path / "w-core")
    core.fetch("spiffe://%s/core/app" % TD)
    for w in edge:
        mtls_both_ways(w, core)
    jwt_both_ways(edge[0], core)
    jwt_both_ways(edge[2], core)
    return root, gw


def test_three_tiers_one_process(spirelet, spire, procs, sockdir,
                                 tmp_path):
    """Real spire-server (root) -> `spirelet run` gateway -> a real
    spire-agent and a spirelet agent -> workloads; they and the
    gateway's own workloads authenticate a workload under a real agent
    on the root with mTLS both ways, and validate each other's
    JWT-SVIDs."""
    root, gw = _three_tiers(spirelet, spire, procs, sockdir, tmp_path,
                            "spire")
    log = gw.log()
    assert "JWT key published to the parent" in log
    assert "offline budget" in log


def test_nested_under_spirelet(spirelet, spire, procs, sockdir, tmp_path):
    """spirelet as the parent: NewDownstreamX509CA and
    PublishJWTAuthority for the gateway's downstream entry."""
    root, gw = _three_tiers(spirelet, spire, procs, sockdir, tmp_path,
                            "spirelet")
    assert "downstream X.509 CA signed" in root.log()
    assert "downstream JWT key published" in root.log()
    # The root's bundle holds the gateway's JWT key (and its own).
    jwks = root.cli("bundle", "show", "-format", "spiffe").stdout
    assert jwks.count('"use": "jwt-svid"') >= 2


def test_nested_rotation(spirelet, spire, procs, sockdir, tmp_path):
    """SPIRE's nested-rotation shape, compressed: a root CA of 2 minutes,
    a gateway CA of 1 minute, 15-second SVIDs. For two minutes, across
    several rotations of both CAs, workloads under the gateway and under
    the root keep authenticating each other; no CA the gateway activates
    is too short for its SVIDs, and nothing it signs outlives the root's
    CA."""
    root = Root(spire, procs, tmp_path / "root", sockdir, ca_ttl="2m",
                x509_ttl="15s").start()
    gw = Gateway(spirelet, spire, procs, tmp_path / "gw", sockdir, root,
                 LinkJoinToken(root), ca_ttl="1m", x509_ttl="15s").start()
    gw.entry_create(gw.agent_alias, "spiffe://%s/edge/app" % TD,
                    ["unix:uid:%d" % UID])
    t = root.token()
    rr = SpireAgent(spire, procs, tmp_path / "rr", sockdir, root.port,
                    root.bundle_pem(), join_token=t,
                    name="root-agent").start()
    root.entry_create("spiffe://%s/spire/agent/join_token/%s" % (TD, t),
                      "spiffe://%s/core/app" % TD, ["unix:uid:%d" % UID])
    edge = Workload(spire, gw.agent_socket, tmp_path / "edge")
    core = Workload(spire, rr.socket, tmp_path / "core")
    deadline = time.monotonic() + 125
    rounds = 0
    intermediates = set()
    while time.monotonic() < deadline:
        edge.fetch("spiffe://%s/edge/app" % TD)
        core.fetch("spiffe://%s/core/app" % TD)
        intermediates.add(open(edge.path("chain.pem")).read())
        mtls_both_ways(edge, core)
        rounds += 1
        time.sleep(8)
    log = gw.log()
    activated = count(log, 'msg="X.509 CA activated"')
    assert activated >= 3, "gateway CA rotations: %d" % activated
    assert len(intermediates) >= 3, "intermediates seen: %d" % len(
        intermediates)
    # The root rotated too, and its new roots reached the gateway.
    assert count(root.log(), 'msg="X509 CA activated"') >= 2
    assert count(log, "parent bundle changed") >= 2
    assert rounds >= 8
    jwt_both_ways(edge, core)
    # No CA was activated with less left than the SVIDs it must cover
    # (10 s: what a 1-minute CA guarantees), and none outlived the
    # root's CA; every chain served verified above.
    for b in re.findall(r'event="X.509 CA activated" parent=\S+ '
                        r'budget=(\S+)', log):
        assert _seconds(b) >= 10, "a CA activated with %s left" % b
    assert "outlives what signed it" not in log


def test_parent_outage_and_restart(spirelet, spire, procs, sockdir,
                                   tmp_path):
    """The root goes away for longer than several SVID lifetimes (15 s),
    less than the gateway CA's remaining life: workloads under the
    gateway keep getting fresh SVIDs, the gateway restarts in the middle
    and keeps serving from its journal, and once the root is back the
    gateway rotates as usual."""
    pki, link_id = make_device_pki(tmp_path / "pki")
    root = Root(spire, procs, tmp_path / "root", sockdir, ca_ttl="1h",
                x509_ttl="15s",
                plugins=x509pop_server_plugin(pki / "ca.pem")).start()
    gw = Gateway(spirelet, spire, procs, tmp_path / "gw", sockdir, root,
                 LinkX509pop(root, pki, link_id), ca_ttl="150s",
                 x509_ttl="15s").start()
    t0 = time.monotonic()
    gw.entry_create(gw.agent_alias, "spiffe://%s/edge/app" % TD,
                    ["unix:uid:%d" % UID])
    edge = Workload(spire, gw.agent_socket, tmp_path / "edge")
    edge.fetch("spiffe://%s/edge/app" % TD)
    root_pem = root.bundle_pem()

    root.stop()
    wait_for(lambda: "parent server unreachable" in gw.log(), 30,
             "the gateway to notice")
    assert re.search(r'offline budget.*parent=unreachable.*budget=\S+',
                     gw.log())
    seen = set()
    outage = time.monotonic()
    restarted = False
    while time.monotonic() - outage < 60:
        edge.fetch("spiffe://%s/edge/app" % TD)
        r = edge.verify(root_pem)
        assert r.returncode == 0, r.stdout + r.stderr
        seen.add(edge.serial())
        if not restarted and time.monotonic() - outage > 25:
            # A restart while the parent is down: no waiting for it.
            assert "parent server unreachable" in gw.log()
            gw.stop()
            gw.start(log_name="gateway-restarted")
            log = gw.log()
            assert "using the cached agent SVID" in log
            assert re.search(r"offline budget.*event=start", log)
            restarted = True
        time.sleep(5)
    # Fresh SVIDs kept coming (15 s each, renewed at half life).
    assert len(seen) >= 5, "SVIDs seen during the outage: %d" % len(seen)
    assert restarted

    root.srv.start()
    wait_for(lambda: "parent server reachable" in gw.log(), 60,
             "the gateway to reconnect")
    # The CA issued at start is replaced while the root is back: the
    # gateway prepared (and activated) a new one from the root.
    wait_for(lambda: 'msg="X.509 CA activated"' in gw.log(), 150 - (
        time.monotonic() - t0) + 30, "a rotation after the outage")
    edge.fetch("spiffe://%s/edge/app" % TD)
    r = edge.verify(root.bundle_pem())
    assert r.returncode == 0, r.stdout + r.stderr


def test_config_errors(spirelet, tmp_path):
    """The shapes that cannot work are refused with file:line errors."""
    def write(name, text):
        p = tmp_path / name
        p.write_text(text)
        return str(p)

    up = ('UpstreamAuthority "spire" { plugin_data { server_address = '
          '"127.0.0.1" server_port = 8081 } }')
    conf = write("srv.conf", "server {}\nplugins {\n  %s\n}\n" % up)
    r = run([spirelet, "validate", "-config", conf],
            check=False)
    assert r.returncode == 1
    assert conf + ":3:" in r.stderr and "workload_api_socket" in r.stderr
    conf = write("both.conf", "server {\n  plugins {\n    %s\n  }\n}\n"
                 "agent {}\n" % up)
    r = run([spirelet, "validate", "-config", conf], check=False)
    assert r.returncode == 1 and "upstream_agent" in r.stderr
    conf = write("extra.conf", "server {}\nagent {}\nupstream_agent {\n"
                 '  join_token = "x"\n}\n')
    r = run([spirelet, "validate", "-config", conf], check=False)
    assert r.returncode == 1 and conf + ":3:" in r.stderr
    conf = write("pq.conf", "server {}\nplugins {\n  UpstreamAuthority "
                 '"spire" { plugin_data { server_address = "h" '
                 'server_port = "8081" workload_api_socket = "/s" '
                 "experimental { require_pq_kem = true } } }\n}\n")
    r = run([spirelet, "validate", "-config", conf],
            check=False)
    assert r.returncode == 1 and "require_pq_kem" in r.stderr
