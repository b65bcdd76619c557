"""Shared fixtures for the system tests.

Every process a test starts goes through `procs`, which stops it when the
test ends, pass or fail, and keeps its log for the failure report.
"""
import os
import signal
import socket
import subprocess
import time

import pytest

BUILD = os.environ.get("SPIRELET_BUILD", os.path.join(
    os.path.dirname(__file__), "..", "..", "build"))
SRC = os.environ.get("SPIRELET_SRC", os.path.join(
    os.path.dirname(__file__), "..", ".."))


def build_path(*parts):
    return os.path.join(BUILD, *parts)


def src_path(*parts):
    return os.path.join(SRC, *parts)


@pytest.fixture
def spirelet():
    """Path of the spirelet binary under test."""
    path = build_path("spirelet")
    assert os.access(path, os.X_OK), "build spirelet first: " + path
    return path


class Proc:
    """A process started for a test, with its output in a log file."""

    def __init__(self, argv, logpath, env=None, cwd=None):
        self.argv = argv
        self.logpath = logpath
        self.log = open(logpath, "wb")
        self.p = subprocess.Popen(argv, stdout=self.log,
                                  stderr=subprocess.STDOUT, env=env,
                                  cwd=cwd, start_new_session=True)
        self.pid = self.p.pid

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.p.poll() is None

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def signal(self, sig):
        if self.alive():
            self.p.send_signal(sig)

    def wait(self, timeout=20):
        return self.p.wait(timeout=timeout)

    def stop(self, timeout=10):
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.p.wait()
        self.log.close()
        return self.p.returncode


class Procs:
    """Processes started for a test (the procs fixture) or a whole module
    (cli_util), each logging to d/NAME.log. stop_all stops every one and,
    when the test or module failed, prints the last tail characters of
    each log."""

    def __init__(self, d, tail=8000):
        self.dir = d
        self.tail = tail
        self.started = []

    def __call__(self, argv, name=None, env=None, cwd=None):
        name = name or os.path.basename(argv[0])
        p = Proc(argv, os.path.join(self.dir, name + ".log"), env=env,
                 cwd=cwd)
        self.started.append(p)
        return p

    def stop_all(self, failed):
        for p in self.started:
            p.stop()
        if failed:
            for p in self.started:
                print("---- log of %s ----" % " ".join(p.argv))
                print(p.output()[-self.tail:])


@pytest.fixture
def procs(tmp_path, request):
    """Starts processes and always stops them; prints their logs on
    failure."""
    started = Procs(str(tmp_path))
    yield started
    rep = getattr(request.node, "rep_call", None)
    started.stop_all(rep is not None and rep.failed)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def wait_for(pred, timeout=15.0, what="condition", proc=None):
    """Polls pred() until it is true; fails naming what it waited for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        if proc is not None and not proc.alive():
            raise AssertionError("process exited while waiting for %s:\n%s"
                                 % (what, proc.output()[-4000:]))
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def wait_for_socket(path, timeout=15.0, proc=None):
    """Waits until a Unix socket at path accepts connections."""
    def ready():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return True
        except OSError:
            return False
        finally:
            s.close()
    wait_for(ready, timeout, "socket " + path, proc)


def wait_for_port(host, port, timeout=15.0, proc=None):
    def ready():
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_for(ready, timeout, "%s:%d" % (host, port), proc)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# gRPC stubs for the rpc tests, generated at test time (never committed)
# with Debian's grpc_tools from our own .proto files.
@pytest.fixture(scope="session")
def grpc_gen(tmp_path_factory):
    """Directory holding echo_pb2, hc.health_pb2 and google.rpc.status_pb2,
    already on sys.path."""
    import shutil
    import sys
    out = tmp_path_factory.mktemp("grpcgen")
    # grpc.health.v1's file path would shadow the grpc package: copy it.
    (out / "hc").mkdir()
    shutil.copy(src_path("proto", "grpc", "health", "v1", "health.proto"),
                out / "hc" / "health.proto")
    for argv in (
            ["-I" + src_path("tests", "system", "proto"),
             "-I" + src_path("proto"), "echo.proto",
             "google/rpc/status.proto"],
            ["-I" + str(out), str(out / "hc" / "health.proto")]):
        subprocess.run(["/usr/bin/python3", "-m", "grpc_tools.protoc",
                        "--python_out=" + str(out),
                        "--grpc_python_out=" + str(out)] + argv,
                       check=True)
    sys.path.insert(0, str(out))
    return str(out)


class Testd:
    """rpc_testd serving Echo and health on a Unix socket and TCP."""

    def __init__(self, proc, unix_path, tcp_port, tls_port=None):
        self.proc = proc
        self.unix_path = unix_path
        self.unix = "unix:" + unix_path
        self.port = tcp_port
        self.tcp = "127.0.0.1:%d" % tcp_port
        self.tls_port = tls_port


@pytest.fixture
def testd(procs, tmp_path):
    """Starts rpc_testd; call with extra serve flags."""
    def start(*extra, name="rpc_testd"):
        sock = str(tmp_path / ("%s.d" % name) / "echo.sock")
        ready = tmp_path / ("%s.ready" % name)
        argv = [build_path("tests", "system", "rpc_testd"), "serve",
                "-u", "unix:" + sock, "-t", "127.0.0.1:0", "-r",
                str(ready)] + list(extra)
        p = procs(argv, name=name)
        lines = {}

        def up():
            if not ready.exists():
                return False
            txt = ready.read_text()
            if not txt.endswith("\n"):
                return False
            for line in txt.splitlines():
                k, v = line.split()
                lines[k] = v
            return "tcp" in lines
        wait_for(up, 10, "rpc_testd ready", p)
        return Testd(p, sock, int(lines["tcp"]),
                     int(lines["tls"]) if "tls" in lines else None)
    return start


def sanitized():
    """True for a build with AddressSanitizer, whose quarantine and shadow
    memory make RSS measurements meaningless."""
    try:
        with open(build_path("config.h")) as f:
            return "#define SPIRELET_SANITIZERS 1" in f.read()
    except OSError:
        return False


needs_plain_memory = pytest.mark.skipif(
    sanitized(), reason="RSS is not measurable under AddressSanitizer")
