"""A workload's SVID, signed by spirelet's server and delivered by a real
spire-agent, logs it into a real PostgreSQL 15 with certificate
authentication: the user name is the CN that the entry's DNS name gives,
and the server trusts spirelet's bundle."""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import free_port, wait_for
from server_util import SpireletServer, fetched_ids, openssl
from spire import SpireAgent, sockdir, spire  # noqa: F401 (fixtures)

PGBIN = "/usr/lib/postgresql/15/bin"
TD = "example.org"


def _as_pg(argv, **kw):
    """Runs argv as the postgres user when we are root (PostgreSQL
    refuses to run as root)."""
    if os.getuid() == 0:
        argv = ["runuser", "-u", "postgres", "--"] + argv
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                       **kw)
    assert r.returncode == 0, " ".join(argv) + "\n" + r.stdout + r.stderr
    return r.stdout


@pytest.fixture
def pg_skip():
    if not os.access(os.path.join(PGBIN, "initdb"), os.X_OK):
        why = "PostgreSQL 15 is not installed (scripts/install-deps.sh " \
              "--tests installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)


def test_svid_logs_into_postgres(pg_skip, spirelet, spire, procs, sockdir,
                                 tmp_path):
    srv = SpireletServer(spirelet, spire, procs, tmp_path / "srv",
                         sockdir).start()
    token = srv.token()
    agent = SpireAgent(spire, procs, tmp_path / "agent", sockdir, srv.port,
                       srv.bundle_pem(), join_token=token).start()
    agent_id = "spiffe://%s/spire/agent/join_token/%s" % (TD, token)
    srv.entry_create(agent_id, "spiffe://%s/db-client" % TD,
                     ["unix:uid:%d" % os.getuid()], "-dns", "appuser")
    out = tmp_path / "svid"
    out.mkdir()
    wait_for(lambda: fetched_ids(agent, out) ==
             ["spiffe://%s/db-client" % TD], 20, "the workload SVID")
    os.chmod(out / "svid.0.key", 0o600)

    pgdir = tempfile.mkdtemp(prefix="spg-", dir="/tmp")
    try:
        os.chmod(pgdir, 0o755)
        data = os.path.join(pgdir, "data")
        sock = os.path.join(pgdir, "sock")
        os.mkdir(sock)
        os.chmod(sock, 0o777)
        # The server's own certificate: any; the client's is the point.
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                os.path.join(pgdir, "server.key"), "-out",
                os.path.join(pgdir, "server.crt"), "-subj", "/CN=localhost",
                "-days", "1")
        with open(os.path.join(pgdir, "bundle.pem"), "w") as f:
            f.write(srv.bundle_pem())
        if os.getuid() == 0:
            shutil.chown(sock, "postgres")
            for n in ("server.key", "server.crt", "bundle.pem"):
                shutil.chown(os.path.join(pgdir, n), "postgres")
            shutil.chown(pgdir, "postgres")
        os.chmod(os.path.join(pgdir, "server.key"), 0o600)
        _as_pg([os.path.join(PGBIN, "initdb"), "-D", data, "-A", "trust",
                "-U", "postgres"])
        with open(os.path.join(data, "pg_hba.conf"), "w") as f:
            f.write("local all postgres trust\n"
                    "hostssl all all 127.0.0.1/32 cert\n")
        port = free_port()
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = '127.0.0.1'\nport = %d\n"
                    "unix_socket_directories = '%s'\nssl = on\n"
                    "ssl_cert_file = '%s/server.crt'\n"
                    "ssl_key_file = '%s/server.key'\n"
                    "ssl_ca_file = '%s/bundle.pem'\n" %
                    (port, sock, pgdir, pgdir, pgdir))
        _as_pg([os.path.join(PGBIN, "pg_ctl"), "-D", data, "-l",
                os.path.join(pgdir, "pg.log"), "-w", "start"])
        try:
            _as_pg([os.path.join(PGBIN, "psql"), "-h", sock, "-p",
                    str(port), "-U", "postgres", "-d", "postgres", "-c",
                    "CREATE ROLE appuser LOGIN"])
            conn = ("host=127.0.0.1 port=%d dbname=postgres user=appuser "
                    "sslmode=require sslcert=%s sslkey=%s" %
                    (port, out / "svid.0.pem", out / "svid.0.key"))
            r = subprocess.run([os.path.join(PGBIN, "psql"), conn, "-tAc",
                                "SELECT current_user"],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r.stderr
            assert r.stdout.strip() == "appuser"
            # Another CN is refused: the login is the certificate's.
            bad = conn.replace("user=appuser", "user=postgres")
            r = subprocess.run([os.path.join(PGBIN, "psql"), bad, "-tAc",
                                "SELECT 1"], capture_output=True, text=True,
                               timeout=30)
            assert r.returncode != 0
        finally:
            subprocess.run((["runuser", "-u", "postgres", "--"]
                            if os.getuid() == 0 else []) +
                           [os.path.join(PGBIN, "pg_ctl"), "-D", data,
                            "-m", "immediate", "stop"],
                           capture_output=True, timeout=60)
    finally:
        shutil.rmtree(pgdir, ignore_errors=True)
