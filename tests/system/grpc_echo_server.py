"""A grpcio server of spirelet.test.Echo, for rpc_testd's client mode:
proves spirelet's gRPC client against the real gRPC library.

    grpc_echo_server.py GENDIR LISTEN [MAX_CONNECTION_AGE_MS [CERTDIR]]

With CERTDIR (server.pem, server.key, ca.pem) it serves TLS and requires
a client certificate from the test CA.
"""
import sys
import time
from concurrent import futures

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
import echo_pb2 as pb  # noqa: E402
import echo_pb2_grpc as pbg  # noqa: E402
from google.rpc import status_pb2  # noqa: E402


class Echo(pbg.EchoServicer):
    def Unary(self, req, ctx):
        text = req.text
        if text == "metadata":
            text = dict(ctx.invocation_metadata()).get(
                "workload.spiffe.io", "")
        chunks = [] if req.flags & 1 else list(req.chunks)
        return pb.EchoReply(text=text, number=req.number,
                            total=sum(len(c) for c in req.chunks),
                            count=len(req.chunks), chunks=chunks)

    def ServerStream(self, req, ctx):
        for i in range(req.count):
            yield pb.EchoReply(number=i, total=req.size,
                               chunks=[b"a" * req.size] if req.size else [])

    def ClientStream(self, it, ctx):
        text, num, count = "", 0, 0
        for r in it:
            text += r.text
            num += r.number
            count += 1
        return pb.EchoReply(text=text, number=num, count=count)

    def Bidi(self, it, ctx):
        for r in it:
            yield pb.EchoReply(text=r.text, number=r.number)

    def Fail(self, req, ctx):
        st = status_pb2.Status(code=req.code, message=req.message)
        if req.detail_type_url:
            st.details.add(type_url=req.detail_type_url,
                           value=req.detail_value)
        ctx.set_trailing_metadata(
            [("grpc-status-details-bin", st.SerializeToString())])
        code = [c for c in grpc.StatusCode if c.value[0] == req.code][0]
        ctx.abort(code, req.message)

    def Sleep(self, req, ctx):
        end = time.monotonic() + req.ms / 1000
        while time.monotonic() < end and ctx.is_active():
            time.sleep(0.01)
        return pb.EchoReply(text="slept")


def main():
    opts = []
    if len(sys.argv) > 3 and int(sys.argv[3]) > 0:
        opts = [("grpc.max_connection_age_ms", int(sys.argv[3])),
                ("grpc.max_connection_age_grace_ms", 10000)]
    server = grpc.server(futures.ThreadPoolExecutor(8), options=opts)
    pbg.add_EchoServicer_to_server(Echo(), server)
    if len(sys.argv) > 4:
        d = sys.argv[4]

        def read(name):
            with open(d + "/" + name, "rb") as f:
                return f.read()
        creds = grpc.ssl_server_credentials(
            [(read("server.key"), read("server.pem"))],
            root_certificates=read("ca.pem"), require_client_auth=True)
        port = server.add_secure_port(sys.argv[2], creds)
    else:
        port = server.add_insecure_port(sys.argv[2])
    if port == 0:
        sys.exit("cannot listen on " + sys.argv[2])
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
