"""spirelet's operator commands (`spirelet server entry|agent|token|bundle|
x509|jwt ...`, `spirelet agent api ...`) side by side with spire-server's
and spire-agent's own CLI on the same server and agent: the same text,
the same -output json structure, the same files, the same errors.

The world (server, agent, workload entry) is built once per backend; see
cli_util.py. Tests run in file order: the ones that change agents or
make SVIDs rotate come last.
"""
import json
import os
import re
import stat
import time

import pytest

from cli_util import (FED_TD, NODE_ID, WORKLOAD_ID, Tool, World, interrupt,
                      run, same, world_fixture)
from conftest import wait_for


@pytest.fixture(scope="module", params=["spire", "spirelet"])
def world(request, tmp_path_factory):
    yield from world_fixture(request, tmp_path_factory)


def both(w, *args, stdin=None):
    """The same admin command through spire-server and spirelet server."""
    return w.go(*args, stdin=stdin), w.ours(*args, stdin=stdin)


def both_api(w, *args):
    return w.go_api(*args), w.ours_api(*args)


def jload(r):
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


# ---- entries ---------------------------------------------------------

def spirelet_server_gap(request, w, reason):
    """Marks a check of the server's behaviour that spirelet's server
    does not match yet (strict: it fails once the server does)."""
    if w.backend == "spirelet":
        request.node.add_marker(pytest.mark.xfail(strict=True,
                                                  reason=reason))


def test_entry_created_by_spirelet_shows_in_spire_server(world, request):
    w = world
    r = w.ours.ok("entry", "create", "-parentID", NODE_ID, "-spiffeID",
                  "spiffe://example.org/svc/a", "-selector", "unix:uid:4001",
                  "-selector", "unix:gid:4001", "-dns", "a.example",
                  "-dns", "b.example", "-hint", "ha", "-admin",
                  "-x509SVIDTTL", "300", "-jwtSVIDTTL", "60",
                  "-entryExpiry", "1900000000", "-storeSVID")
    eid = World.entry_id(r.stdout)
    go, ours = both(w, "entry", "show", "-entryID", eid)
    same(go, ours)
    # What spirelet printed at creation is the block spire-server shows.
    assert go.stdout.split("\n", 1)[1] == r.stdout
    for line in ("X509-SVID TTL    : 300", "JWT-SVID TTL     : 60",
                 "Expiration time  : 2030-03-17 17:46:40 +0000 UTC",
                 "Selector         : unix:gid:4001",
                 "DNS name         : b.example", "Admin            : true",
                 "StoreSvid        : true", "Hint             : ha"):
        assert line in go.stdout
    go, ours = both(w, "entry", "show", "-entryID", eid, "-output", "json")
    assert jload(go) == jload(ours)
    assert go.stdout == ours.stdout


def test_entry_created_by_spire_server_shows_in_spirelet(world, request):
    w = world
    r = w.go.ok("entry", "create", "-parentID", NODE_ID, "-spiffeID",
                "spiffe://example.org/svc/b", "-selector", "unix:uid:4002",
                "-downstream", "-federatesWith", FED_TD)
    eid = World.entry_id(r.stdout)
    r2 = w.ours.ok("entry", "show", "-entryID", eid)
    assert "Downstream       : true" in r2.stdout
    assert "FederatesWith    : fed.example" in r2.stdout
    same(w.go("entry", "show", "-entryID", eid), r2)


def test_entry_create_json_output(world):
    w = world
    args = ["entry", "create", "-parentID", NODE_ID, "-spiffeID",
            "spiffe://example.org/svc/json", "-selector", "unix:uid:4003",
            "-output", "json"]
    ours = jload(w.ours(*args))
    res = ours["results"][0]
    assert res["status"] == {"code": 0, "message": "OK"}
    assert res["entry"]["spiffe_id"] == {"trust_domain": "example.org",
                                         "path": "/svc/json"}
    # A duplicate fails; both tools report it in the results, exit 0.
    go, ours = both(w, *args)
    assert go.returncode == ours.returncode == 0
    assert jload(go) == jload(ours)
    assert jload(go)["results"][0]["status"]["code"] == 6


@pytest.mark.parametrize("filters", [
    [],
    ["-spiffeID", WORKLOAD_ID],
    ["-parentID", NODE_ID],
    ["-selector", "unix:uid:4001"],
    ["-selector", "unix:uid:4001", "-selector", "unix:gid:4001",
     "-matchSelectorsOn", "exact"],
    ["-selector", "unix:uid:4001", "-matchSelectorsOn", "any"],
    ["-hint", "ha"],
    ["-downstream"],
    ["-federatesWith", FED_TD, "-matchFederatesWithOn", "subset"],
    ["-output", "json"],
    ["-parentID", NODE_ID, "-output", "json"],
], ids=lambda f: " ".join(f) or "all")
def test_entry_show_and_count_filters(world, filters):
    same(*both(world, "entry", "show", *filters))
    count = [f for f in filters if f not in ("-output", "json")]
    same(*both(world, "entry", "count", *count))
    same(*both(world, "entry", "count", *count, "-output", "json"))


def test_entry_update_then_delete(world):
    w = world
    eid = World.entry_id(w.go.ok(
        "entry", "create", "-parentID", NODE_ID, "-spiffeID",
        "spiffe://example.org/svc/upd", "-selector", "unix:uid:4004").stdout)
    r = w.ours.ok("entry", "update", "-entryID", eid, "-parentID", NODE_ID,
                  "-spiffeID", "spiffe://example.org/svc/upd", "-selector",
                  "unix:uid:4005", "-x509SVIDTTL", "120", "-dns", "u.example")
    assert "Revision         : 1" in r.stdout
    shown = w.go.ok("entry", "show", "-entryID", eid).stdout
    assert "Selector         : unix:uid:4005" in shown
    assert "X509-SVID TTL    : 120" in shown
    assert "DNS name         : u.example" in shown
    r = w.ours("entry", "delete", "-entryID", eid)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("Deleted entry with ID: %s\n\n\n"
                        "Deleted 1 entries successfully" % eid)
    assert "NotFound" in w.go("entry", "show", "-entryID", eid).stderr
    # Deleting it again fails the same way in both tools.
    same(*both(w, "entry", "delete", "-entryID", eid))
    same(*both(w, "entry", "delete", "-entryID", eid, "-output", "json"))


def test_entry_data_file_and_stdin(world, tmp_path):
    w = world
    doc = {"entries": [
        {"selectors": [{"type": "unix", "value": "uid:4101"}],
         "spiffe_id": "spiffe://example.org/data/1",
         "parent_id": NODE_ID, "x509_svid_ttl": 200,
         "dns_names": ["d1.example"], "entryExpiry": 1900000000,
         "admin": True, "hint": "d1"},
        {"selectors": [{"type": "unix", "value": "uid:4102"}],
         "spiffe_id": "spiffe://example.org/data/2",
         "parent_id": NODE_ID, "federates_with": [FED_TD]},
    ]}
    path = tmp_path / "entries.json"
    path.write_text(json.dumps(doc))
    r = w.ours.ok("entry", "create", "-data", str(path))
    assert r.stdout.count("Entry ID") == 2
    shown = w.go.ok("entry", "show", "-spiffeID",
                    "spiffe://example.org/data/1").stdout
    assert "Hint             : d1" in shown
    assert "X509-SVID TTL    : 200" in shown
    # Again: both tools print the same two failures and exit 1.
    go, ours = both(w, "entry", "create", "-data", str(path))
    same(go, ours)
    assert go.returncode == 1 and "AlreadyExists" in go.stderr
    # The same from stdin ("-").
    go, ours = both(w, "entry", "create", "-data", "-", stdin=path.read_text())
    same(go, ours)
    # Batch delete from a file.
    ids = [World.entry_id(w.go.ok("entry", "show", "-spiffeID",
                                  "spiffe://example.org/data/%d" % i).stdout)
           for i in (1, 2)]
    dpath = tmp_path / "ids.json"
    dpath.write_text(json.dumps({"ids": ids}))
    r = w.ours.ok("entry", "delete", "-file", str(dpath))
    assert "Deleted 2 entries successfully" in r.stdout
    same(*both(w, "entry", "delete", "-file", str(dpath)))


@pytest.mark.parametrize("args", [
    ["entry", "show", "-entryID", "no-such-entry"],
    ["entry", "show", "-entryID", "x", "-spiffeID", WORKLOAD_ID],
    ["entry", "show", "-spiffeID", "spiffe://Example.org/x"],
    ["entry", "show", "-parentID", "example.org/x"],
    ["entry", "show", "-selector", "nocolon"],
    ["entry", "show", "-selector", "unix:uid:1", "-matchSelectorsOn",
     "most"],
    ["entry", "count", "-selector", "nocolon"],
    ["entry", "create", "-parentID", NODE_ID, "-spiffeID",
     "spiffe://example.org/x", "-selector", "bad"],
    ["entry", "create", "-parentID", NODE_ID, "-spiffeID",
     "spiffe://example.org/x"],
    ["entry", "create", "-spiffeID", "spiffe://example.org/x",
     "-selector", "a:b"],
    ["entry", "create", "-parentID", NODE_ID, "-selector", "a:b"],
    ["entry", "create", "-node", "-spiffeID", "spiffe://example.org/x",
     "-selector", "a:b", "-federatesWith", FED_TD],
    ["entry", "create", "-parentID", NODE_ID, "-spiffeID",
     "spiffe://example.org/x", "-selector", "a:b", "-x509SVIDTTL", "-1"],
    ["entry", "create", "-parentID", NODE_ID, "-spiffeID",
     "spiffe://other.org/x", "-selector", "a:b"],
    ["entry", "create", "-parentID", NODE_ID, "-spiffeID",
     "spiffe://example.org/x/", "-selector", "a:b"],
    ["entry", "update", "-parentID", NODE_ID, "-spiffeID",
     "spiffe://example.org/x", "-selector", "a:b"],
    ["entry", "update", "-entryID", "no-such-entry", "-parentID", NODE_ID,
     "-spiffeID", "spiffe://example.org/x", "-selector", "a:b"],
    ["entry", "delete"],
], ids=lambda a: " ".join(a[1:4]))
def test_entry_errors(world, args):
    go, ours = both(world, *args)
    assert go.returncode == 1
    same(go, ours)


def test_node_entry_parent_is_the_server(world):
    w = world
    r = w.ours.ok("entry", "create", "-node", "-spiffeID",
                  "spiffe://example.org/nodes/group", "-selector",
                  "join_token:none")
    assert "Parent ID        : spiffe://example.org/spire/server" in r.stdout
    eid = World.entry_id(r.stdout)
    same(*both(w, "entry", "show", "-entryID", eid))


# ---- tokens, agents --------------------------------------------------

def test_token_generate(world):
    w = world
    r = w.ours.ok("token", "generate")
    assert re.fullmatch(r"Token: [0-9a-f-]{36}\nWarning: Missing SPIFFE "
                        r"ID\.\n", r.stdout), r.stdout
    r = w.ours.ok("token", "generate", "-spiffeID",
                  "spiffe://example.org/tok", "-ttl", "60")
    token = re.match(r"Token: (\S+)\n$", r.stdout).group(1)
    # The token's node alias is an entry spire-server sees.
    shown = w.go.ok("entry", "show", "-spiffeID",
                    "spiffe://example.org/tok").stdout
    assert "Parent ID        : spiffe://example.org/spire/agent/" \
        "join_token/" + token in shown
    go = jload(w.go("token", "generate", "-output", "json"))
    ours = jload(w.ours("token", "generate", "-output", "json"))
    assert sorted(go) == sorted(ours) == ["expires_at", "value"]
    assert abs(int(go["expires_at"]) - int(ours["expires_at"])) < 60
    same(*both(w, "token", "generate", "-spiffeID", "not-an-id"))
    same(*both(w, "token", "generate", "-ttl", "99999999999"))


def agent_id(w):
    out = w.go.ok("agent", "list").stdout
    return re.search(r"SPIFFE ID\s*:\s*(\S+)", out).group(1)


@pytest.mark.parametrize("args", [
    ["agent", "list"],
    ["agent", "list", "-output", "json"],
    ["agent", "list", "-attestationType", "join_token"],
    ["agent", "list", "-attestationType", "x509pop"],
    ["agent", "list", "-banned", "false"],
    ["agent", "list", "-canReattest", "true", "-output", "json"],
    ["agent", "list", "-expiresBefore", "2999-01-02 15:04:05 +0000 +00"],
    ["agent", "list", "-selector", "nocolon"],
    ["agent", "list", "-selector", "a:b", "-matchSelectorsOn", "most"],
    ["agent", "count"],
    ["agent", "count", "-output", "json"],
    ["agent", "count", "-banned", "true"],
    ["agent", "show"],
    ["agent", "show", "-spiffeID", "bad"],
    ["agent", "show", "-spiffeID", "spiffe://example.org/spire/agent/x"],
    ["agent", "evict"],
    ["agent", "ban", "-spiffeID", "spiffe://"],
], ids=lambda a: " ".join(a))
def test_agent_commands(world, args):
    same(*both(world, *args))


def test_agent_list_bad_date(world):
    go, ours = both(world, "agent", "list", "-expiresBefore", "tomorrow")
    prefix = ('Error: date is not valid: parsing time "tomorrow" as '
              '"2006-01-02 15:04:05 -0700 -07": cannot parse')
    assert go.returncode == ours.returncode == 1
    assert go.stderr.startswith(prefix) and ours.stderr.startswith(prefix)


def test_agent_show(world):
    w = world
    aid = agent_id(w)
    go, ours = both(w, "agent", "show", "-spiffeID", aid)
    same(go, ours)
    assert go.stdout.startswith("Found an attested agent given its SPIFFE "
                                "ID\n\nSPIFFE ID         : " + aid)
    go, ours = both(w, "agent", "show", "-spiffeID", aid, "-output", "json")
    same(go, ours)
    assert jload(ours)["attestation_type"] == "join_token"


# ---- bundles ---------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["bundle", "show"],
    ["bundle", "show", "-format", "spiffe"],
    ["bundle", "show", "-format", "SPIFFE"],
    ["bundle", "show", "-output", "json"],
    ["bundle", "show", "-format", "der"],
    ["bundle", "count"],
    ["bundle", "count", "-output", "json"],
    ["bundle", "list"],
    ["bundle", "list", "-format", "spiffe"],
    ["bundle", "list", "-output", "json"],
    ["bundle", "list", "-id", FED_TD],
    ["bundle", "list", "-id", FED_TD, "-format", "spiffe"],
    ["bundle", "list", "-id", FED_TD, "-output", "json"],
    ["bundle", "list", "-id", "spiffe://nowhere.example"],
    ["bundle", "set"],
    ["bundle", "set", "-id", FED_TD, "-format", "jwks"],
    ["bundle", "set", "-id", FED_TD, "-path", "/nonexistent/b.pem"],
    ["bundle", "delete"],
    ["bundle", "delete", "-id", FED_TD, "-mode", "sometimes"],
    ["bundle", "delete", "-id", "spiffe://nowhere.example"],
], ids=lambda a: " ".join(a))
def test_bundle_commands(world, args):
    """bundle show is byte-identical in pem, spiffe and json."""
    same(*both(world, *args))


def test_bundle_set_list_delete(world, tmp_path):
    w = world
    other = "spiffe://other.example"
    # A PEM bundle, then a SPIFFE document with a JWT key, a sequence
    # number and a refresh hint (the server's own, under another name).
    pem = tmp_path / "own.pem"
    pem.write_text(w.go.ok("bundle", "show").stdout)
    r = w.ours.ok("bundle", "set", "-id", other, "-path", str(pem))
    assert r.stdout == "bundle set.\n"
    same(*both(w, "bundle", "list", "-id", other))
    doc = json.loads(w.go.ok("bundle", "show", "-format", "spiffe").stdout)
    doc["spiffe_refresh_hint"] = 300
    doc["spiffe_sequence"] = 7
    spf = tmp_path / "own.json"
    spf.write_text(json.dumps(doc))
    r = w.ours.ok("bundle", "set", "-id", other, "-path", str(spf),
                  "-format", "spiffe", "-output", "json")
    res = json.loads(r.stdout)["results"][0]
    assert res["status"]["code"] == 0
    assert res["bundle"]["refresh_hint"] == "300"
    assert res["bundle"]["sequence_number"] == "7"
    for fmt in ("pem", "spiffe"):
        same(*both(w, "bundle", "list", "-format", fmt))
        same(*both(w, "bundle", "list", "-id", other, "-format", fmt))
    listed = json.loads(w.ours.ok("bundle", "list", "-id", other,
                                  "-format", "spiffe").stdout)
    assert listed["spiffe_refresh_hint"] == 300
    assert [k["use"] for k in listed["keys"]] == ["x509-svid", "jwt-svid"]
    same(*both(w, "bundle", "count"))
    # From stdin, as Go reads it without -path.
    r = w.ours("bundle", "set", "-id", other, stdin=pem.read_text())
    assert r.stdout == "bundle set.\n", r.stderr
    r = w.ours.ok("bundle", "delete", "-id", other)
    assert r.stdout == "bundle deleted.\n"
    assert w.go("bundle", "list", "-id", other).returncode == 1
    same(*both(w, "bundle", "delete", "-id", other))
    same(*both(w, "bundle", "delete", "-id", other, "-output", "json"))


# ---- minting ---------------------------------------------------------

def openssl(*args):
    r = run(["openssl", *args])
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_x509_mint_write(world, tmp_path):
    w = world
    d = tmp_path / "mint"
    d.mkdir()
    r = w.ours.ok("x509", "mint", "-spiffeID",
                  "spiffe://example.org/minted", "-dns", "m1.example",
                  "-dns", "m2.example", "-ttl", "10m", "-write", str(d))
    assert r.stdout == ("X509-SVID written to %s/svid.pem\nPrivate key "
                        "written to %s/key.pem\nRoot CAs written to "
                        "%s/bundle.pem\n" % (d, d, d))
    # Go's check says a lifetime of exactly -ttl was capped, and so do we.
    assert "X509-SVID lifetime was capped shorter than specified ttl" \
        in r.stderr
    assert "OK" in openssl("verify", "-CAfile", str(d / "bundle.pem"),
                           str(d / "svid.pem"))
    text = openssl("x509", "-in", str(d / "svid.pem"), "-noout", "-text")
    assert "DNS:m1.example, DNS:m2.example, URI:spiffe://example.org/" \
        "minted" in text
    assert openssl("pkey", "-in", str(d / "key.pem"), "-pubout") == \
        openssl("x509", "-in", str(d / "svid.pem"), "-pubkey", "-noout")
    assert stat.S_IMODE(os.stat(d / "key.pem").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d / "svid.pem").st_mode) == 0o644
    assert (d / "bundle.pem").read_text() == w.go.ok("bundle",
                                                     "show").stdout


def test_x509_mint_outputs(world):
    w = world
    args = ["x509", "mint", "-spiffeID", "spiffe://example.org/minted"]
    go, ours = both(w, *args, "-output", "json")
    go, ours = jload(go), jload(ours)
    assert isinstance(go, list) and isinstance(ours, list)
    assert list(go[0]) == list(ours[0]) == ["x509_svid", "private_key",
                                            "root_cas"]
    assert go[0]["root_cas"] == ours[0]["root_cas"]
    r = w.ours.ok(*args)
    assert re.fullmatch(r"X509-SVID:\n(-----BEGIN CERTIFICATE-----\n"
                        r"[^-]+-----END CERTIFICATE-----\n)+\nPrivate "
                        r"key:\n-----BEGIN PRIVATE KEY-----\n[^-]+-----END "
                        r"PRIVATE KEY-----\n\nRoot CAs:\n(-----BEGIN "
                        r"CERTIFICATE-----\n[^-]+-----END CERTIFICATE"
                        r"-----\n)+\n", r.stdout), r.stdout
    for bad in ([], ["-spiffeID", "spiffe://other.org/x"],
                ["-spiffeID", "nope"]):
        same(*both(w, "x509", "mint", *bad))


def jwt_claims(token):
    import base64
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_jwt_mint(world, tmp_path):
    w = world
    r = w.ours.ok("jwt", "mint", "-spiffeID", "spiffe://example.org/j",
                  "-audience", "a1", "-audience", "a2", "-ttl", "2m")
    claims = jwt_claims(r.stdout.strip())
    assert claims["sub"] == "spiffe://example.org/j"
    assert claims["aud"] == ["a1", "a2"]
    assert 100 <= claims["exp"] - claims["iat"] <= 120
    go, ours = both(w, "jwt", "mint", "-spiffeID", "spiffe://example.org/j",
                    "-audience", "a1", "-output", "json")
    go, ours = jload(go), jload(ours)
    assert sorted(go["svid"]) == sorted(ours["svid"])
    assert go["svid"]["id"] == ours["svid"]["id"]
    path = tmp_path / "token"
    r = w.ours.ok("jwt", "mint", "-spiffeID", "spiffe://example.org/j",
                  "-audience", "a1", "-write", str(path))
    assert r.stdout == "JWT-SVID written to %s\n" % path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert jwt_claims(path.read_text())["aud"] == ["a1"]
    for bad in ([], ["-spiffeID", "spiffe://example.org/j"],
                ["-spiffeID", "bad", "-audience", "x"]):
        same(*both(w, "jwt", "mint", *bad))


# ---- the Workload API ------------------------------------------------

def normalized(text):
    """fetch x509's text without the time the answer took."""
    return re.sub(r"after \S+\n", "after T\n", text)


def test_fetch_x509_files_match_spire_agent(world, tmp_path):
    w = world
    dg, do = tmp_path / "go", tmp_path / "ours"
    dg.mkdir()
    do.mkdir()
    for _ in range(3):
        go = w.go_api.ok("fetch", "x509", "-write", str(dg))
        ours = w.ours_api.ok("fetch", "x509", "-write", str(do))
        if (dg / "svid.0.pem").read_bytes() == \
                (do / "svid.0.pem").read_bytes():
            break
        time.sleep(1)   # an SVID rotated between the two fetches
    assert normalized(go.stdout) == normalized(ours.stdout).replace(
        str(do), str(dg))
    assert re.match(r"Received 1 svid after [0-9.]+(ms|µs|s)\n", ours.stdout)
    assert "Hint:\t\t\twl\n" in ours.stdout
    assert "[%s] CA #1 Valid After:\t" % FED_TD in ours.stdout
    names = sorted(os.listdir(do))
    assert names == sorted(os.listdir(dg)) == [
        "bundle.0.pem", "federated_bundle.0.0.pem", "svid.0.key",
        "svid.0.pem"]
    for n in names:
        assert (dg / n).read_bytes() == (do / n).read_bytes(), n
    assert "OK" in openssl("verify", "-CAfile", str(do / "bundle.0.pem"),
                           str(do / "svid.0.pem"))
    assert openssl("pkey", "-in", str(do / "svid.0.key"), "-pubout") == \
        openssl("x509", "-in", str(do / "svid.0.pem"), "-pubkey", "-noout")
    assert stat.S_IMODE(os.stat(do / "svid.0.key").st_mode) == 0o600
    assert (do / "federated_bundle.0.0.pem").read_text() == \
        open(w.fed_pem).read()
    assert (do / "bundle.0.pem").read_text() == w.go.ok("bundle",
                                                        "show").stdout


def test_fetch_x509_other_forms(world):
    w = world
    go, ours = both_api(w, "fetch", "x509", "-output", "json")
    go, ours = jload(go), jload(ours)
    assert sorted(go) == sorted(ours) == ["crl", "federated_bundles",
                                          "svids"]
    assert sorted(go["svids"][0]) == sorted(ours["svids"][0])
    assert go["svids"][0]["spiffe_id"] == ours["svids"][0]["spiffe_id"]
    assert go["svids"][0]["bundle"] == ours["svids"][0]["bundle"]
    assert go["federated_bundles"] == ours["federated_bundles"]
    # Plain "fetch" is fetch x509; -silent prints nothing.
    r = w.ours_api.ok("fetch")
    assert r.stdout.startswith("Received 1 svid after ")
    assert w.ours_api.ok("fetch", "x509", "-silent").stdout == ""


def test_fetch_jwt_and_validate(world):
    w = world
    r = w.ours_api.ok("fetch", "jwt", "-audience", "aud1,aud2")
    m = re.match(r"token\((\S+)\):\n\t(\S+)\nhint\(\S+\):\n\twl\n"
                 r"bundle\(spiffe://example.org\):\n\t\{", r.stdout)
    assert m, r.stdout
    assert m.group(1) == WORKLOAD_ID
    token = m.group(2)
    assert jwt_claims(token)["aud"] == ["aud1", "aud2"]
    go, ours = both_api(w, "validate", "jwt", "-audience", "aud1", "-svid",
                        token)
    same(go, ours)
    assert ours.stdout.startswith("SVID is valid.\nSPIFFE ID : %s\n"
                                  "Claims    : {\"aud\":" % WORKLOAD_ID)
    same(*both_api(w, "validate", "jwt", "-audience", "aud1", "-svid",
                   token, "-output", "json"))
    # A token from spire-agent validates with spirelet and back.
    gtok = re.search(r"\t(\S+\.\S+\.\S+)\n", w.go_api.ok(
        "fetch", "jwt", "-audience", "x").stdout).group(1)
    w.ours_api.ok("validate", "jwt", "-audience", "x", "-svid", gtok)
    # Tampered (last signature character changed), wrong audience.
    bad = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for args in (["-audience", "aud1", "-svid", bad],
                 ["-audience", "other", "-svid", token],
                 ["-audience", "aud1", "-svid", "not.a.jwt"]):
        go, ours = both_api(w, "validate", "jwt", *args)
        same(go, ours)
        assert ours.returncode == 1
        assert ours.stderr.startswith("SVID is not valid: ")
    go, ours = both_api(w, "fetch", "jwt", "-audience", "a", "-output",
                        "json")
    go, ours = jload(go), jload(ours)
    assert [sorted(x) for x in go] == [sorted(x) for x in ours] == \
        [["svids"], ["bundles"]]
    assert go[1] == ours[1]


@pytest.mark.parametrize("args", [
    ["fetch", "jwt"],
    ["fetch", "jwt", "-audience", "a", "-spiffeID", "spiffe://example.org/x"],
    ["validate", "jwt"],
    ["validate", "jwt", "-audience", "a"],
    ["validate", "jwt", "-svid", "x"],
], ids=lambda a: " ".join(a))
def test_api_errors(world, args):
    same(*both_api(world, *args))


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to run as nobody")
def test_fetch_without_identity(world):
    """A caller no entry matches: the agent's PermissionDenied, as is."""
    w = world
    os.chmod(w.sockdir, 0o755)
    want = "rpc error: code = PermissionDenied desc = no identity issued\n"
    for args in (["fetch", "x509"], ["fetch", "jwt", "-audience", "a"]):
        r = w.ours_api(*args, user=65534, group=65534)
        assert (r.returncode, r.stdout, r.stderr) == (1, "", want)
    r = w.ours_api("validate", "jwt", "-audience", "a", "-svid", "x.y.z",
                   user=65534, group=65534)
    assert r.returncode == 1


def test_tools_without_a_peer(world, tmp_path):
    """Nothing listens: status 1 and grpc-go's Unavailable error."""
    w = world
    missing = str(tmp_path / "none.sock")
    for args, prefix in ((["entry", "show"], "Error: error fetching "
                          "entries: rpc error: code = Unavailable desc = "),
                         (["bundle", "show"], "Error: rpc error: code = "
                          "Unavailable desc = ")):
        go, ours = w.go(*args, socket=missing), w.ours(*args, socket=missing)
        assert go.returncode == ours.returncode == 1
        assert go.stderr.startswith(prefix)
        assert ours.stderr.startswith(prefix), ours.stderr
    go = w.go_api("fetch", "x509", socket=missing)
    ours = w.ours_api("fetch", "x509", socket=missing)
    assert go.returncode == ours.returncode == 1
    assert ours.stderr.startswith("rpc error: code = Unavailable desc = ")
    ours = w.ours_api("fetch", "jwt", "-audience", "a", "-timeout", "1s",
                      socket=missing)
    assert ours.returncode == 1


def test_usage_errors_exit_2(world):
    w = world
    for args in (["entry", "show", "-noSuchFlag"],
                 ["entry", "show", "-output", "yaml"],
                 ["x509", "mint", "-ttl", "soon"]):
        r = w.ours(*args)
        assert r.returncode == 2, r.stderr
        assert "Usage of " in r.stderr
    r = w.ours_api("fetch", "x509", "-timeout", "later")
    assert r.returncode == 2 and "Usage of fetch x509:" in r.stderr
    r = w.ours("entry", "create", "-h")
    assert r.returncode == 0 and "-selector value" in r.stderr


# ---- changes to agents and rotations, last --------------------------

def test_watch_prints_rotations(world, procs):
    w = world
    sid = "spiffe://example.org/rotating"
    w.go.ok("entry", "create", "-parentID", NODE_ID, "-spiffeID", sid,
            "-selector", "unix:uid:%d" % os.getuid(), "-x509SVIDTTL", "10")
    p = procs([w.spirelet, "agent", "api", "watch", "-socketPath",
               w.agent.socket], name="watch")

    def rotated():
        blocks = p.output().split("Received ")
        seen = set()
        for b in blocks:
            m = re.search(re.escape(sid) + r"\nSVID Valid After:\t(.+)\n", b)
            if m:
                seen.add(m.group(1))
        return len(seen) >= 2
    wait_for(rotated, 60, "two SVIDs of %s in api watch" % sid, p)
    out = p.output()
    assert re.match(r"Received [12] svids? after ", out)
    assert "Hint:" not in out       # as spire-agent's watch prints them
    assert interrupt(p) == 0


def test_agent_ban_and_evict(world):
    w = world
    token = w.join_token("spiffe://example.org/node2")
    agent2 = w.start_agent("agent2", token)
    aid = "spiffe://example.org/spire/agent/join_token/" + token
    wait_for(lambda: aid in w.go("agent", "list").stdout, 30,
             "the second agent listed")
    same(*both(w, "agent", "count"))
    r = w.ours.ok("agent", "ban", "-spiffeID", aid)
    assert r.stdout == "Agent banned successfully\n"
    shown = w.go.ok("agent", "show", "-spiffeID", aid).stdout
    assert "Banned            : true" in shown
    same(*both(w, "agent", "list", "-banned", "true"))
    same(*both(w, "agent", "list", "-banned", "true", "-output", "json"))
    r = w.ours.ok("agent", "evict", "-spiffeID", aid, "-output", "json")
    assert r.stdout == "{}\n"
    assert "NotFound" in w.go("agent", "show", "-spiffeID", aid).stderr
    same(*both(w, "agent", "evict", "-spiffeID", aid))
    agent2.proc.stop()
