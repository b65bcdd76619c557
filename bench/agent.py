#!/usr/bin/python3
"""The agent's budgets, measured (never asserted):

  - RSS with 100 entries and 100 cached SVIDs (budget: 4 MiB)
  - first SVID served after a warm restart (budget: 50 ms)
  - FetchX509SVID p50/p99 with 64 concurrent clients on their own
    connections (budget: p99 under 1 ms), for a caller with one SVID and
    for one with all 100

    bench/agent.py [BUILD_DIR]

Uses a real spire-server v1.13.3 (scripts/build-spire.sh) and the
go-spiffe client of the system tests (built into the same cache).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "system"))
os.environ.setdefault("SPIRELET_SRC", TOP)

import h2raw  # noqa: E402
from agent_util import FAST_SERVER  # noqa: E402
from test_agent_clients import wlclient  # noqa: E402

TD = "example.org"
N = 100


def sh(*argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, check=True,
                          **kw)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise SystemExit("timed out: " + what)


def rss(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k = line.split(":")[0]
            if k in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[k] = int(line.split()[1])
    return out


def cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def raw_fetch(path):
    """One FetchX509SVID over raw HTTP/2; True once a DATA frame came."""
    try:
        s = h2raw.connect(path)
    except OSError:
        return False
    try:
        s.sendall(h2raw.PREFACE + h2raw.settings() +
                  h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, 1,
                              h2raw.hpack(h2raw.grpc_headers(
                                  "/SpiffeWorkloadAPI/FetchX509SVID",
                                  [("workload.spiffe.io", "true")]))) +
                  h2raw.frame(h2raw.DATA, h2raw.END_STREAM, 1,
                              h2raw.grpc_msg(b"")))
        frames, _ = h2raw.read_frames(
            s, until=lambda f: f[0] == h2raw.DATA and f[2] == 1 and
            len(f[3]) > 5, timeout=2)
        return any(f[0] == h2raw.DATA and len(f[3]) > 5 for f in frames)
    except OSError:
        return False
    finally:
        s.close()


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "build")
    spirelet = os.path.join(build, "spirelet")
    bins = sh("sh", os.path.join(TOP, "scripts", "build-spire.sh")
              ).stdout.strip().splitlines()[-1]
    server_bin = os.path.join(bins, "spire-server")
    client = wlclient()
    work = tempfile.mkdtemp(prefix="sp-bench-", dir="/tmp")
    os.chmod(work, 0o755)
    procs = []
    try:
        port = free_port()
        ssock = os.path.join(work, "srv.sock")
        with open(os.path.join(work, "server.conf"), "w") as f:
            f.write("""server {
 bind_address = "127.0.0.1"
 bind_port = "%d"
 socket_path = "%s"
 trust_domain = "%s"
 data_dir = "%s/sdata"
 log_level = "WARN"
 %s
}
plugins {
 DataStore "sql" { plugin_data { database_type = "sqlite3"
   connection_string = "%s/sdata/ds.sqlite3" } }
 KeyManager "memory" { plugin_data {} }
 NodeAttestor "join_token" { plugin_data {} }
}
""" % (port, ssock, TD, work, FAST_SERVER, work))
        srv = subprocess.Popen([server_bin, "run", "-config",
                                os.path.join(work, "server.conf")],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        procs.append(srv)
        wait(lambda: subprocess.run([server_bin, "healthcheck", "-socketPath",
             ssock], capture_output=True).returncode == 0, 60, "server")
        cli = [server_bin]
        bundle = sh(*cli, "bundle", "show", "-socketPath", ssock).stdout
        with open(os.path.join(work, "bundle.pem"), "w") as f:
            f.write(bundle)
        token = sh(*cli, "token", "generate", "-socketPath", ssock,
                   "-spiffeID", "spiffe://%s/edge" % TD).stdout.split()[1]
        entries = [{"parent_id": "spiffe://%s/edge" % TD,
                    "spiffe_id": "spiffe://%s/w%03d" % (TD, i),
                    "selectors": [{"type": "unix", "value": "uid:0"}]}
                   for i in range(N)]
        entries.append({"parent_id": "spiffe://%s/edge" % TD,
                        "spiffe_id": "spiffe://%s/one" % TD,
                        "selectors": [{"type": "unix",
                                       "value": "uid:65534"}]})
        with open(os.path.join(work, "entries.json"), "w") as f:
            json.dump({"entries": entries}, f)
        sh(*cli, "entry", "create", "-socketPath", ssock, "-data",
           os.path.join(work, "entries.json"))
        asock = os.path.join(work, "agent.sock")
        with open(os.path.join(work, "agent.conf"), "w") as f:
            f.write("""agent {
 data_dir = "%s/adata"
 log_level = "WARN"
 server_address = "127.0.0.1"
 server_port = "%d"
 socket_path = "%s"
 trust_bundle_path = "%s/bundle.pem"
 trust_domain = "%s"
 join_token = "%s"
}
plugins {
 NodeAttestor "join_token" { plugin_data {} }
 KeyManager "disk" { plugin_data {} }
 WorkloadAttestor "unix" { plugin_data {} }
}
""" % (work, port, asock, work, TD, token))
        argv = [spirelet, "agent", "run", "-config",
                os.path.join(work, "agent.conf")]
        ag = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        procs.append(ag)

        def count():
            r = subprocess.run([os.path.join(bins, "spire-agent"), "api",
                                "fetch", "x509", "-socketPath", asock],
                               capture_output=True, text=True)
            return r.stdout.count("SPIFFE ID:")
        wait(lambda: count() == N, 120, "%d SVIDs" % N)
        time.sleep(2)
        r = rss(ag.pid)
        print("RSS with %d entries and %d SVIDs: VmRSS %d KiB (anon %d, "
              "file %d), peak %d KiB" % (N, N, r["VmRSS"], r["RssAnon"],
                                         r["RssFile"], r["VmHWM"]))

        nobody = ["setpriv", "--reuid=65534", "--regid=65534",
                  "--clear-groups"]
        for label, user, pause in (
                ("1 SVID, back to back", nobody, "0"),
                ("1 SVID, each client every 20 ms", nobody, "20ms"),
                ("%d SVIDs, back to back" % N, [], "0"),
                ("%d SVIDs, each client every 100 ms" % N, [], "100ms")):
            a = cpu(ag.pid)
            out = subprocess.run(user + [client, "-socket", "unix://" +
                                         asock, "latency", "-c", "64",
                                         "-d", "5s", "-i", pause],
                                 capture_output=True,
                                 text=True).stdout.strip()
            print("FetchX509SVID, 64 go-spiffe clients, %s: %s; agent CPU "
                  "%.2f s" % (label, out, cpu(ag.pid) - a))
        r = rss(ag.pid)
        print("RSS after the latency runs: VmRSS %d KiB, peak %d KiB" % (
            r["VmRSS"], r["VmHWM"]))

        # Warm restart: the time from exec to the first SVID served.
        times = []
        for _ in range(5):
            ag.send_signal(signal.SIGTERM)
            ag.wait(10)
            t0 = time.monotonic()
            ag = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
            procs.append(ag)
            while not raw_fetch(asock):
                if time.monotonic() - t0 > 5:
                    raise SystemExit("no SVID within 5 s of a restart")
            times.append((time.monotonic() - t0) * 1000)
        time.sleep(1)
        r = rss(ag.pid)
        print("RSS after a warm restart and one fetch: VmRSS %d KiB (anon "
              "%d, file %d)" % (r["VmRSS"], r["RssAnon"], r["RssFile"]))
        times.sort()
        print("first SVID after a warm restart: median %.1f ms, max %.1f "
              "ms (5 restarts, exec to first response)" % (
                  times[len(times) // 2], times[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
