"""Processes the bench starts, and what it reads of them in /proc.

Every process goes through start(), which registers it; stop_all() (run
by the runner in a finally) stops whatever is still running, so a
failing scenario leaves nothing behind.
"""
import os
import signal
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")

_running = []


class Failed(Exception):
    """A peer did not do what the scenario needs; str() says what."""


class Proc:
    """A process with its output in a log file."""

    def __init__(self, argv, log, env=None, stdin=None, stdout=None):
        self.argv = [str(a) for a in argv]
        self.logpath = log
        self.log = open(log, "ab")
        self.p = subprocess.Popen(
            self.argv, stdin=stdin,
            stdout=stdout if stdout is not None else self.log,
            stderr=self.log, env=env, start_new_session=True)
        self.pid = self.p.pid
        _running.append(self)

    def alive(self):
        return self.p.poll() is None

    def output(self, tail=3000):
        self.log.flush()
        try:
            with open(self.logpath, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        return data[-tail:].decode("utf-8", "replace")

    def stop(self, timeout=15):
        """SIGTERM, then SIGKILL of its process group after timeout;
        returns the exit status."""
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.p.wait()
        for f in (self.p.stdin, self.p.stdout):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        if not self.log.closed:
            self.log.close()
        if self in _running:
            _running.remove(self)
        return self.p.returncode

    # What /proc says about it.
    def rss_kib(self):
        return status_kib(self.pid, "VmRSS")

    def anon_kib(self):
        """The resident pages that are the process's own (heap, stacks,
        anonymous maps): RSS less mapped files, shared libraries and
        LMDB's map among them."""
        return status_kib(self.pid, "RssAnon")

    def rss_by_mapping(self, n=6):
        """The n largest contributors to RSS, by mapped file (shared
        libraries, the binary, LMDB's map) or anonymous, in KiB."""
        sizes = {}
        name = None
        with open("/proc/%d/smaps" % self.pid) as f:
            for line in f:
                first = line.split(None, 1)[0]
                if "-" in first and not first.endswith(":"):
                    parts = line.split()
                    name = os.path.basename(parts[5]) if len(parts) > 5 \
                        and parts[5].startswith("/") else "[anon maps]"
                elif first == "Rss:":
                    sizes[name] = sizes.get(name, 0) + int(line.split()[1])
        top = sorted(sizes.items(), key=lambda kv: -kv[1])[:n]
        return ", ".join("%s %d" % kv for kv in top if kv[1])

    def cpu_ticks(self):
        """utime + stime of every thread, in clock ticks."""
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def ctx_switches(self):
        """Voluntary and involuntary context switches summed over the
        threads alive now: each is a wake-up of the process."""
        total = 0
        d = "/proc/%d/task" % self.pid
        for tid in os.listdir(d):
            try:
                with open(os.path.join(d, tid, "status")) as f:
                    for line in f:
                        if line.startswith(("voluntary_ctxt_switches",
                                            "nonvoluntary_ctxt_switches")):
                            total += int(line.split()[1])
            except OSError:
                pass	# the thread ended while we read
        return total

    def threads(self):
        return len(os.listdir("/proc/%d/task" % self.pid))


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise Failed("no %s for pid %d" % (key, pid))


def stop_all(keep=()):
    """Stops every process started and still running, but those in
    keep."""
    for p in [p for p in reversed(_running) if p not in keep]:
        try:
            p.stop(timeout=5)
        except Exception:
            if p in _running:
                _running.remove(p)


def wait_for(pred, timeout, what, proc=None, every=0.02):
    """Polls pred() until it returns a true value, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if proc is not None and not proc.alive():
            raise Failed("%s exited (%s) waiting for %s:\n%s" % (
                os.path.basename(proc.argv[0]), proc.p.returncode, what,
                proc.output()))
        if time.monotonic() > deadline:
            tail = ("\n" + proc.output()) if proc is not None else ""
            raise Failed("timed out after %.0f s waiting for %s%s" % (
                timeout, what, tail))
        time.sleep(every)


def idle_cost(procs_, seconds):
    """CPU seconds and context switches of each process over a window."""
    before = [(p.cpu_ticks(), p.ctx_switches()) for p in procs_]
    time.sleep(seconds)
    out = []
    for p, (t0, c0) in zip(procs_, before):
        if not p.alive():
            raise Failed("%s exited during the idle window:\n%s" % (
                os.path.basename(p.argv[0]), p.output()))
        out.append(((p.cpu_ticks() - t0) / CLK_TCK,
                    p.ctx_switches() - c0))
    return out
