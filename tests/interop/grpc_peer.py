"""The Python gRPC side of ctx's gRPC interop check (tests/interop_grpc.rs).

A grpcio peer instrumented with OpenTelemetry's gRPC instrumentation
(GrpcInstrumentorServer, GrpcInstrumentorClient) and the SDK's tracer
provider (real ids, exported to memory only). The default propagators are
OpenTelemetry's: W3C Trace Context and W3C Baggage.

No protoc: the method handlers take and give raw bytes, and the one message
this side writes, `Seen` of tests/support/grpc.rs, is encoded here by hand
(string fields only).

  python grpc_peer.py server
      Serves `/ctx.test.Probe/Seen` on 127.0.0.1, prints {"port": N} on one
      line, and runs until stdin closes. The answer is a `Seen` of the
      handler's view: its OpenTelemetry span's trace id, span id and parent
      span id, the baggage member `user`, and the `x-request-id` metadata.

  python grpc_peer.py client HOST:PORT
      Inside a root span, with baggage user=py-user, calls
      `/ctx.test.Probe/Seen` (metadata x-request-id: py-req-1) and prints one
      JSON line: {"trace_id", "root_span_id", "client_span_id" (the span the
      instrumentation sent), "response" (the answer's bytes, hex)}.
"""

import json
import sys
from concurrent import futures

from opentelemetry import baggage, context, trace
from opentelemetry.instrumentation.grpc import (
    GrpcInstrumentorClient,
    GrpcInstrumentorServer,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

EXPORTER = InMemorySpanExporter()
PROVIDER = TracerProvider()
PROVIDER.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(PROVIDER)

# The instrumentors patch grpc.server and grpc.insecure_channel: before use.
GrpcInstrumentorServer().instrument()
GrpcInstrumentorClient().instrument()

import grpc  # noqa: E402

SERVICE = "ctx.test.Probe"


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def string_field(tag, value):
    data = value.encode("utf-8")
    return varint(tag << 3 | 2) + varint(len(data)) + data


def seen(request, servicer_context):
    span = trace.get_current_span()
    sc = span.get_span_context()
    parent = getattr(span, "parent", None)
    metadata = dict(servicer_context.invocation_metadata())
    fields = [
        (1, trace.format_trace_id(sc.trace_id) if sc.is_valid else ""),
        (2, trace.format_span_id(sc.span_id) if sc.is_valid else ""),
        (3, trace.format_span_id(parent.span_id) if parent is not None else ""),
        (4, baggage.get_baggage("user") or ""),
        (5, metadata.get("x-request-id", "")),
    ]
    return b"".join(string_field(tag, value) for tag, value in fields if value)


def serve():
    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {"Seen": grpc.unary_unary_rpc_method_handler(seen)},
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(json.dumps({"port": port}), flush=True)
    sys.stdin.read()  # until the test closes stdin, or exits
    server.stop(None)


def call(target):
    tracer = trace.get_tracer("grpc_peer")
    token = context.attach(baggage.set_baggage("user", "py-user"))
    try:
        with tracer.start_as_current_span("py-root") as root:
            with grpc.insecure_channel(target) as channel:
                method = channel.unary_unary("/%s/Seen" % SERVICE)
                response = method(b"", metadata=(("x-request-id", "py-req-1"),), timeout=10)
            rc = root.get_span_context()
    finally:
        context.detach(token)
    clients = [s for s in EXPORTER.get_finished_spans() if s.kind == trace.SpanKind.CLIENT]
    print(
        json.dumps(
            {
                "trace_id": trace.format_trace_id(rc.trace_id),
                "root_span_id": trace.format_span_id(rc.span_id),
                "client_span_id": [
                    trace.format_span_id(s.context.span_id) for s in clients
                ],
                "client_parent_span_id": [
                    trace.format_span_id(s.parent.span_id) if s.parent else "" for s in clients
                ],
                "response": response.hex(),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["server"]:
        serve()
    elif sys.argv[1:2] == ["client"] and len(sys.argv) == 3:
        call(sys.argv[2])
    else:
        sys.exit("usage: grpc_peer.py server | client HOST:PORT")
