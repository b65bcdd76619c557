"""Helpers for the tests of the TPM in the roles (test_tpm_roles.py):
reading what the roles leave on disk (TPM blobs, the agent's cache
record of its own SVID), a relay in front of swtpm that counts the TPM
commands going through it, and the plugin blocks.
"""
import os
import shutil
import socket
import struct
import subprocess
import threading

from tpm_util import Swtpm, manufacture

# TPM2_CC_* of the commands the roles send (TPM 2.0 part 2, table 12).
TPM_CC = {
    0x11f: "NV_UndefineSpace", 0x120: "EvictControl",
    0x125: "HierarchyChangeAuth", 0x12a: "NV_DefineSpace",
    0x131: "CreatePrimary", 0x137: "NV_Write", 0x144: "Startup",
    0x145: "Shutdown", 0x147: "ActivateCredential", 0x148: "Certify",
    0x14e: "NV_Read", 0x151: "PolicySecret", 0x153: "Create",
    0x157: "Load", 0x15d: "Sign", 0x161: "ContextLoad",
    0x162: "ContextSave", 0x165: "FlushContext", 0x169: "NV_ReadPublic",
    0x173: "ReadPublic", 0x176: "StartAuthSession", 0x17a: "GetCapability",
    0x17b: "GetRandom", 0x17e: "PCR_Read", 0x16c: "PolicyGetDigest",
}


def td_plugin_agent(devid, tpm_sock):
    return ('NodeAttestor "tpm_devid" { plugin_data { '
            'devid_cert_path = "%s" devid_priv_path = "%s" '
            'devid_pub_path = "%s" tpm_device_path = "%s" } }'
            % (devid.cert, devid.priv, devid.pub, tpm_sock))


def td_plugin_server(devid_ca, ek_ca):
    return ('NodeAttestor "tpm_devid" { plugin_data { '
            'devid_ca_path = "%s" endorsement_ca_path = "%s" } }'
            % (devid_ca, ek_ca))


def km_tpm(tpm_sock):
    return ('KeyManager "tpm" { plugin_data { tpm_device_path = "%s" } }'
            % tpm_sock)


def parse_tpm_blob(path):
    """A key blob as key_tpm_save_file writes it (TPM2B_PUBLIC, then
    TPM2B_PRIVATE), checked whole: the public area's type, attributes
    and ECC point, and the size of the wrapped private part."""
    with open(path, "rb") as f:
        b = f.read()
    (n,) = struct.unpack(">H", b[:2])
    pub, rest = b[2:2 + n], b[2 + n:]
    (pn,) = struct.unpack(">H", rest[:2])
    assert len(rest) == 2 + pn, "trailing bytes after TPM2B_PRIVATE"
    typ, name_alg, attrs = struct.unpack(">HHI", pub[:8])
    off = 8
    (pol,) = struct.unpack(">H", pub[off:off + 2])
    off += 2 + pol
    assert typ == 0x0023, "not an ECC key: 0x%04x" % typ
    (sym,) = struct.unpack(">H", pub[off:off + 2])
    off += 2 if sym == 0x0010 else 6
    (scheme,) = struct.unpack(">H", pub[off:off + 2])
    off += 2 if scheme == 0x0010 else 4
    off += 2                                    # curveID
    (kdf,) = struct.unpack(">H", pub[off:off + 2])
    off += 2 if kdf == 0x0010 else 4
    (xl,) = struct.unpack(">H", pub[off:off + 2])
    x = pub[off + 2:off + 2 + xl]
    off += 2 + xl
    (yl,) = struct.unpack(">H", pub[off:off + 2])
    y = pub[off + 2:off + 2 + yl]
    assert off + 2 + yl == len(pub), "TPMT_PUBLIC has trailing bytes"
    return {"attrs": attrs, "x": int.from_bytes(x, "big"),
            "y": int.from_bytes(y, "big"), "private_len": pn}


def resident(attrs):
    """fixedTPM, fixedParent and sensitiveDataOrigin: made in this TPM,
    never to leave it."""
    return attrs & 0x02 and attrs & 0x10 and attrs & 0x20


def ec_point(cert_der_or_pem):
    from cryptography import x509
    if cert_der_or_pem.startswith(b"-----"):
        c = x509.load_pem_x509_certificate(cert_der_or_pem)
    else:
        c = x509.load_der_x509_certificate(cert_der_or_pem)
    n = c.public_key().public_numbers()
    return n.x, n.y


def agent_own_record(data_dir):
    """The agent cache's record of its own SVID (table "agent", key
    "svid"), read with mdb_dump: (leaf DER, key field)."""
    r = subprocess.run(["mdb_dump", "-s", "agent", data_dir],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    body = lines[lines.index("HEADER=END") + 1:]
    pairs = dict(zip(body[0::2], body[1::2]))
    v = bytes.fromhex(pairs[" " + b"svid".hex()].strip())
    (cl,) = struct.unpack(">I", v[33:37])
    chain = v[37:37 + cl]
    (kl,) = struct.unpack(">I", v[37 + cl:41 + cl])
    key = v[41 + cl:41 + cl + kl]
    # The leaf: one DER SEQUENCE with a two-byte length.
    (ll,) = struct.unpack(">H", chain[2:4])
    return chain[:4 + ll], key


TPM_RC_RETRY = 0x922


class TpmCounter:
    """A Unix socket relay in front of a swtpm: the roles talk to the
    TPM through it, and it counts each command by its code once the TPM
    has run it (a TPM_RC_RETRY answer, which the TSS sends again, counts
    as a retry only). The control channel, <path>.ctrl, is relayed as it
    is."""

    def __init__(self, upstream, path):
        self.upstream = upstream
        self.path = path
        self.counts = {}
        self.retries = 0
        self.lock = threading.Lock()
        self.stopped = False
        self.socks = []
        for p, up, count in ((path, upstream, True),
                             (path + ".ctrl", upstream + ".ctrl", False)):
            if os.path.exists(p):
                os.unlink(p)
            ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            ls.bind(p)
            ls.listen(8)
            self.socks.append(ls)
            threading.Thread(target=self._accept, args=(ls, up, count),
                             daemon=True).start()

    def snapshot(self):
        with self.lock:
            return dict(self.counts)

    def since(self, before):
        now = self.snapshot()
        return {k: now[k] - before.get(k, 0) for k in now
                if now[k] - before.get(k, 0)}

    def _accept(self, ls, up, count):
        while not self.stopped:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            try:
                u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                u.connect(up)
            except OSError:
                c.close()
                continue
            pending = [] if count else None
            threading.Thread(target=self._pump, args=(c, u, pending, True),
                             daemon=True).start()
            threading.Thread(target=self._pump,
                             args=(u, c, pending, False),
                             daemon=True).start()

    def _pump(self, src, dst, pending, commands):
        buf = bytearray()
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if pending is not None:
                    buf += data
                    self._parse(buf, pending, commands)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _parse(self, buf, pending, commands):
        """Commands (tag, size, code) and responses (tag, size, rc)."""
        while len(buf) >= 10:
            _, size, code = struct.unpack(">HII", bytes(buf[:10]))
            if len(buf) < size:
                return
            del buf[:size]
            with self.lock:
                if commands:
                    pending.append(TPM_CC.get(code, "0x%x" % code))
                elif pending:
                    name = pending.pop(0)
                    if code == TPM_RC_RETRY:
                        self.retries += 1
                    else:
                        self.counts[name] = self.counts.get(name, 0) + 1

    def close(self):
        self.stopped = True
        for ls in self.socks:
            ls.close()


def fresh_tpm(swtpm, tmp_path, name="fresh"):
    """Restarts swtpm as another TPM: new seeds, new EK (swtpm_setup)."""
    st = manufacture(str(tmp_path / name))
    d = str(tmp_path / (name + "-copy"))
    shutil.copytree(st.state, d)
    swtpm.restart(d)
    return st


def second_swtpm(procs, tpm_state, tmp_path, sockdir, name="tpm2"):
    """Another TPM (a copy of the session's state) on its own socket."""
    d = str(tmp_path / name)
    shutil.copytree(tpm_state.state, d)
    return Swtpm(procs, d, os.path.join(sockdir, name), name=name).start()
