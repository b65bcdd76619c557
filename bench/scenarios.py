"""The bench's scenarios. Each measures one number for one implementation
("spirelet" or "spire") and raises NotRunnable with the reason when it
cannot; nothing here returns a made-up or zero value.
"""
import os
import shutil
import subprocess
import tempfile

_cleanups = []


class NotRunnable(Exception):
    """The scenario cannot run for this implementation; str() says why."""


def cleanup_all():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception:  # cleanup must not hide the table
            pass


class Scenario:
    name = ""
    title = ""
    unit = ""
    deterministic = False	# the same every round: measure it once

    def rounds(self, n):
        return 1 if self.deterministic else n

    def measure(self, ctx, impl):
        raise NotImplementedError


def _stripped_size(path, work):
    dst = os.path.join(work, os.path.basename(path) + ".stripped")
    shutil.copy(path, dst)
    subprocess.run(["strip", dst], check=True)
    size = os.path.getsize(dst)
    os.unlink(dst)
    return size


def _shared_libs(path):
    r = subprocess.run(["ldd", path], capture_output=True, text=True)
    if "not a dynamic executable" in r.stdout + r.stderr:
        return []
    libs = []
    for line in r.stdout.splitlines():
        name = line.split()[0]
        if name.startswith("linux-vdso") or "ld-linux" in name:
            continue
        libs.append(name)
    return libs


class BinarySize(Scenario):
    unit = "KiB"
    deterministic = True

    def __init__(self, role):
        self.role = role
        self.name = "binary_size_" + role
        self.title = "binary, stripped (%s)" % role

    def measure(self, ctx, impl):
        if impl == "spirelet":
            # One binary plays every role.
            return _stripped_size(ctx.spirelet, ctx.work) / 1024.0
        path = ctx.spire_agent if self.role == "agent" else ctx.spire_server
        return _stripped_size(path, ctx.work) / 1024.0


class SharedLibs(Scenario):
    unit = "libraries"
    deterministic = True

    def __init__(self, role):
        self.role = role
        self.name = "shared_libs_" + role
        self.title = "shared libraries needed (%s)" % role

    def measure(self, ctx, impl):
        if impl == "spirelet":
            path = ctx.spirelet
        elif self.role == "agent":
            path = ctx.spire_agent
        else:
            path = ctx.spire_server
        return float(len(_shared_libs(path)))


_SIGN_C = r"""
#include <stdio.h>
#include <time.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
int main(int argc, char **argv) {
	WC_RNG rng; ecc_key k; unsigned char h[32] = {1}, sig[80];
	word32 n; struct timespec a, b; long count = 0; double t = 0;
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	wc_InitRng(&rng); wc_ecc_init(&k);
	wc_ecc_make_key_ex(&rng, 32, &k, ECC_SECP256R1);
	clock_gettime(CLOCK_MONOTONIC, &a);
	while (t < secs) {
		for (int i = 0; i < 100; i++) {
			n = sizeof(sig);
			if (wc_ecc_sign_hash(h, 32, sig, &n, &rng, &k) != 0)
				return 1;
		}
		count += 100;
		clock_gettime(CLOCK_MONOTONIC, &b);
		t = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	}
	printf("%f\n", count / t);
	return 0;
}
"""


class RawSignRate(Scenario):
    name = "raw_sign_p256"
    title = "raw wolfSSL ECDSA P-256 signs"
    unit = "signs/s"

    def measure(self, ctx, impl):
        if impl != "spirelet":
            raise NotRunnable("the floor for spirelet's minting rate, "
                              "not a SPIRE figure")
        exe = os.path.join(ctx.work, "signrate")
        if not os.path.exists(exe):
            src = exe + ".c"
            with open(src, "w") as f:
                f.write("#include <stdlib.h>\n" + _SIGN_C)
            r = subprocess.run(["cc", "-O2", "-o", exe, src, "-lwolfssl"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise NotRunnable("cannot build the signing loop: " +
                                  r.stderr[-200:])
        secs = "0.3" if ctx.quick else "1.0"
        r = subprocess.run([exe, secs], capture_output=True, text=True)
        if r.returncode != 0:
            raise NotRunnable("the signing loop failed")
        return float(r.stdout.strip())


class Pending(Scenario):
    """A scenario the issue asks for whose spirelet side is not built
    yet: it says so rather than printing a number."""

    def __init__(self, name, title, unit, why):
        self.name = name
        self.title = title
        self.unit = unit
        self.why = why

    def measure(self, ctx, impl):
        raise NotRunnable(self.why)


def all_scenarios(quick):
    agent_todo = "needs the spirelet agent (attestation and sync)"
    server_todo = "needs the spirelet server APIs"
    return [
        BinarySize("agent"),
        BinarySize("server"),
        SharedLibs("agent"),
        SharedLibs("server"),
        RawSignRate(),
        Pending("rss_agent_idle", "RSS, agent idle, 0/100/1000 entries",
                "KiB", agent_todo),
        Pending("rss_server", "RSS, server, 1k/10k entries, 100 agents",
                "KiB", server_todo),
        Pending("first_svid_cold", "cold start to first SVID", "ms",
                agent_todo),
        Pending("fetch_x509_p99", "FetchX509SVID p99, 64 clients", "ms",
                agent_todo),
        Pending("mint_rate", "BatchNewX509SVID SVIDs/s", "SVIDs/s",
                server_todo),
        Pending("sync_10k", "sync 0 -> 10,000 entries", "s", server_todo),
    ]
