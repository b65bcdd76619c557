"""A few raw HTTP/2 frames for hostile-peer tests: enough to send what a
well-behaved library never would, and to read frame headers back (no
HPACK decoding: tests look at frame types and error codes only)."""
import socket
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = (
    0, 1, 3, 4, 6, 7, 8)
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1

NO_ERROR, PROTOCOL_ERROR, FLOW_CONTROL_ERROR = 0, 1, 3
FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL = 6, 7, 8


def frame(ftype, flags, sid, payload=b""):
    n = len(payload)
    return struct.pack(">BHBBI", n >> 16, n & 0xffff, ftype, flags,
                       sid & 0x7fffffff) + payload


def settings(**kv):
    ids = {"initial_window_size": 4, "max_frame_size": 5,
           "max_concurrent_streams": 3}
    return frame(SETTINGS, 0, 0, b"".join(
        struct.pack(">HI", ids[k], v) for k, v in kv.items()))


def window_update(sid, inc):
    return frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", inc))


def _hpack_int(v, prefix_bits, first=0):
    lim = (1 << prefix_bits) - 1
    if v < lim:
        return bytes([first | v])
    out = [first | lim]
    v -= lim
    while v >= 128:
        out.append((v & 0x7f) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def hpack(headers):
    """Literal header fields without indexing, new names, no Huffman."""
    out = b""
    for name, value in headers:
        name, value = name.encode(), value.encode()
        out += b"\x00" + _hpack_int(len(name), 7) + name + \
            _hpack_int(len(value), 7) + value
    return out


def grpc_headers(path, extra=()):
    return [(":method", "POST"), (":scheme", "http"), (":path", path),
            (":authority", "localhost"),
            ("content-type", "application/grpc"), ("te", "trailers")] + \
        list(extra)


def grpc_msg(body):
    return struct.pack(">BI", 0, len(body)) + body


def connect(addr):
    if isinstance(addr, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(addr)
    return s


def read_frames(s, until=None, timeout=5.0):
    """Reads frames until until(frame) is true, the peer closes, or the
    timeout; returns (frames, closed)."""
    frames, buf = [], b""
    deadline = time.monotonic() + timeout
    closed = False
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        buf += chunk
        while len(buf) >= 9:
            n = buf[0] << 16 | buf[1] << 8 | buf[2]
            if len(buf) < 9 + n:
                break
            f = (buf[3], buf[4], struct.unpack(">I", buf[5:9])[0] &
                 0x7fffffff, buf[9:9 + n])
            frames.append(f)
            buf = buf[9 + n:]
            if until is not None and until(f):
                return frames, closed
    return frames, closed


def goaway_code(frames):
    for t, _, _, p in frames:
        if t == GOAWAY:
            return struct.unpack(">I", p[4:8])[0]
    return None


def rst_codes(frames):
    return [struct.unpack(">I", p[:4])[0] for t, _, _, p in frames
            if t == RST_STREAM]
