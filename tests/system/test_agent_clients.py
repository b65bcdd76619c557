"""Clients nobody here wrote, against spirelet's Workload API: py-spiffe
(PyPI `spiffe`, pinned, installed outside the repository), a go-spiffe
v2 program holding an X509Source open across rotations, two workloads
authenticating each other over mTLS with openssl, and a workload
logging into a real PostgreSQL with its SVID.
"""
import hashlib
import os
import shutil
import subprocess
import tempfile

import pytest

from agent_util import TD, Agent, as_user, make_server, openssl
from conftest import free_port, src_path, wait_for, wait_for_port
from spire import sockdir, spire  # noqa: F401 (fixtures)

CACHE = os.environ.get("SPIRELET_CACHE", os.path.join(
    os.environ.get("HOME", "/root"), ".cache", "spirelet"))
GO_SPIFFE = "v2.6.0"


def unavailable(why):
    if os.environ.get("CI") == "true":
        pytest.fail(why + " (CI=true: interop tests must run)")
    pytest.skip(why)


def pyspiffe_dir():
    r = subprocess.run(["sh", src_path("scripts", "install-pyspiffe.sh")],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        unavailable("py-spiffe could not be installed:\n" + r.stderr[-2000:])
    return r.stdout.strip().splitlines()[-1]


def wlclient():
    """The go-spiffe test client, built once into the cache."""
    go = shutil.which("go")
    if go is None:
        unavailable("go is not installed")
    src = src_path("tests", "system", "wlclient", "main.go")
    with open(src, "rb") as f:
        h = hashlib.sha256(f.read()).hexdigest()[:12]
    d = os.path.join(CACHE, "wlclient-" + h)
    exe = os.path.join(d, "wlclient")
    if os.access(exe, os.X_OK):
        return exe
    os.makedirs(d, exist_ok=True)
    shutil.copy(src, os.path.join(d, "main.go"))
    env = dict(os.environ, GOFLAGS="-mod=mod")
    steps = [[go, "mod", "init", "spirelet.local/wlclient"],
             [go, "get", "github.com/spiffe/go-spiffe/v2@" + GO_SPIFFE],
             [go, "build", "-o", exe, "."]]
    if os.path.exists(os.path.join(d, "go.mod")):
        steps = steps[1:]
    for argv in steps:
        r = subprocess.run(argv, cwd=d, capture_output=True, text=True,
                           timeout=900, env=env)
        if r.returncode != 0:
            unavailable("cannot build the go-spiffe client: %s\n%s" % (
                " ".join(argv), r.stderr[-2000:]))
    return exe


@pytest.fixture(params=["spire", "spirelet"])
def setup(request, spirelet, spire, procs, sockdir, tmp_path):
    srv = make_server(request.param, spire, procs, tmp_path / "srv",
                      sockdir, spirelet=spirelet).start()
    token = srv.token("spiffe://%s/edge" % TD)
    agent = Agent(spirelet, spire, procs, tmp_path / "agent", sockdir, srv,
                  join_token=token).start()
    return srv, agent


def test_pyspiffe_fetches_x509_and_jwt(setup):
    srv, agent = setup
    pydir = pyspiffe_dir()
    srv.entry_create("spiffe://%s/edge" % TD, "spiffe://%s/py" % TD,
                     ["unix:uid:%d" % os.getuid()])
    agent.wait_ids(["spiffe://%s/py" % TD])
    # -S: py-spiffe's pinned install only, not Debian's site packages.
    r = subprocess.run(["/usr/bin/python3", "-S", src_path("tests", "system",
                       "pyspiffe_client.py"), "unix://" + agent.socket,
                        "py-audience"], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, PYTHONPATH=pydir))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert "x509 spiffe://%s/py" % TD in lines
    assert "x509bundle %s" % TD in lines
    assert "jwt spiffe://%s/py" % TD in lines
    assert "validated spiffe://%s/py" % TD in lines
    assert "jwtbundle %s" % TD in lines


def test_gospiffe_x509source_sees_rotations_on_one_stream(setup):
    srv, agent = setup
    exe = wlclient()
    srv.entry_create("spiffe://%s/edge" % TD, "spiffe://%s/go" % TD,
                     ["unix:uid:%d" % os.getuid()], "-x509SVIDTTL", "14")
    agent.wait_ids(["spiffe://%s/go" % TD])
    r = subprocess.run([exe, "-socket", "unix://" + agent.socket, "watch",
                        "-rotations", "3", "-timeout", "40s"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "saw 3 SVIDs on one stream" in r.stdout


def shared_dir(prefix):
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o777)
    return d


def test_two_workloads_mtls_with_openssl(setup, procs):
    srv, agent = setup
    srv.entry_create("spiffe://%s/edge" % TD, "spiffe://%s/web" % TD,
                     ["unix:uid:0"], "-dns", "web.example")
    srv.entry_create("spiffe://%s/edge" % TD, "spiffe://%s/client" % TD,
                     ["unix:uid:65534"])
    agent.wait_ids(["spiffe://%s/web" % TD])
    agent.wait_ids(["spiffe://%s/client" % TD], user=65534)
    sd, cd = shared_dir("sp-web-"), shared_dir("sp-cli-")
    try:
        agent.fetch_x509(sd, check=True)
        agent.fetch_x509(cd, check=True, user=65534)
        port = free_port()
        s = procs(["openssl", "s_server", "-accept", str(port), "-cert",
                   sd + "/svid.0.pem", "-key", sd + "/svid.0.key",
                   "-CAfile", sd + "/bundle.0.pem", "-Verify", "2",
                   "-verify_return_error", "-naccept", "1", "-rev"],
                  name="s_server")
        # No probe connection: it would take the one accept.
        wait_for(lambda: "ACCEPT" in s.output(), 10, "s_server", s)
        r = subprocess.run(as_user(65534) + [
            "openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
            "-cert", cd + "/svid.0.pem", "-key", cd + "/svid.0.key",
            "-CAfile", cd + "/bundle.0.pem", "-verify_return_error",
            "-brief"], input="ping\n", capture_output=True, text=True,
            timeout=30)
        # s_server demanded and checked the client's SVID (-Verify with
        # -verify_return_error), s_client checked the server's.
        assert r.returncode == 0, r.stderr
        assert "Verification: OK" in r.stdout + r.stderr
        assert "CONNECTION ESTABLISHED" in r.stdout + r.stderr
        assert "spiffe://%s/client" % TD in openssl(
            "x509", "-in", cd + "/svid.0.pem", "-noout", "-ext",
            "subjectAltName").stdout
    finally:
        shutil.rmtree(sd, ignore_errors=True)
        shutil.rmtree(cd, ignore_errors=True)


PG_BIN = "/usr/lib/postgresql/15/bin"


def test_postgres_login_with_svid(setup, procs):
    if not os.access(os.path.join(PG_BIN, "postgres"), os.X_OK):
        unavailable("PostgreSQL 15 is not installed (scripts/install-deps.sh"
                    " --tests installs it)")
    import pwd
    pg = pwd.getpwnam("postgres")
    srv, agent = setup
    # The database's certificate is an SVID too, for its own uid.
    srv.entry_create("spiffe://%s/edge" % TD, "spiffe://%s/db" % TD,
                     ["unix:uid:%d" % pg.pw_uid], "-dns", "localhost")
    # CN = the entry's first DNS name = the database role.
    srv.entry_create("spiffe://%s/edge" % TD, "spiffe://%s/app" % TD,
                     ["unix:uid:0"], "-dns", "app")
    agent.wait_ids(["spiffe://%s/app" % TD])
    agent.wait_ids(["spiffe://%s/db" % TD], user=pg.pw_uid)
    top = tempfile.mkdtemp(prefix="sp-pg-", dir="/tmp")
    try:
        os.chmod(top, 0o755)
        data, certs, app = (os.path.join(top, x) for x in
                            ("data", "certs", "app"))
        for d in (data, certs):
            os.mkdir(d, 0o700)
            os.chown(d, pg.pw_uid, pg.pw_gid)
        pgu = as_user(pg.pw_uid)
        agent.fetch_x509(certs, check=True, user=pg.pw_uid)
        agent.fetch_x509(app, check=True)
        r = subprocess.run(pgu + [PG_BIN + "/initdb", "-D", data, "-A",
                           "trust", "-U", "postgres"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        port = free_port()
        with open(os.path.join(data, "pg_hba.conf"), "w") as f:
            f.write("local all postgres trust\n"
                    "hostssl all app 127.0.0.1/32 cert\n")
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            f.write("ssl = on\nssl_cert_file = '%(c)s/svid.0.pem'\n"
                    "ssl_key_file = '%(c)s/svid.0.key'\n"
                    "ssl_ca_file = '%(c)s/bundle.0.pem'\n"
                    "listen_addresses = '127.0.0.1'\nport = %(p)d\n"
                    "unix_socket_directories = '%(t)s'\n"
                    % {"c": certs, "p": port, "t": data})
        p = procs(pgu + [PG_BIN + "/postgres", "-D", data], name="postgres")
        wait_for_port("127.0.0.1", port, 30, proc=p)
        created = []

        def create_role():
            # The port opens before recovery ends: retry until it takes.
            r = subprocess.run(pgu + [PG_BIN + "/psql", "-h", data, "-p",
                               str(port), "-U", "postgres", "-c",
                               "CREATE ROLE app LOGIN"],
                               capture_output=True, text=True, timeout=30)
            created[:] = [r.stderr]
            return r.returncode == 0
        wait_for(create_role, 30, "PostgreSQL to take connections", p)
        dsn = ("host=localhost hostaddr=127.0.0.1 port=%d user=app "
               "dbname=postgres sslmode=verify-full sslrootcert=%s "
               "sslcert=%s sslkey=%s" % (port, app + "/bundle.0.pem",
                                         app + "/svid.0.pem",
                                         app + "/svid.0.key"))
        r = subprocess.run([PG_BIN + "/psql", dsn, "-At", "-c",
                            "SELECT current_user"], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "app"
    finally:
        shutil.rmtree(top, ignore_errors=True)
