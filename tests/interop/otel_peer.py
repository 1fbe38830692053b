"""The OpenTelemetry Python side of the ctx interop check.

`tests/interop_python.rs` starts this script once and talks to it over stdin
and stdout: one JSON request per line in, one JSON answer per line out. It
uses the reference propagators only (no tracer, no exporter):

- W3C Trace Context: opentelemetry.trace.propagation.tracecontext
- W3C Baggage:       opentelemetry.baggage.propagation
- B3 single / multi: opentelemetry.propagators.b3

Requests (`headers` is a list of [name, value] pairs, names lowercase; a name
may repeat, as an HTTP header field can):

  {"op": "info"}
      -> {"versions": {...}}
  {"op": "extract", "format": F, "headers": [[n, v], ...]}
      -> {"span": S or null, "baggage": [[k, v], ...]}
  {"op": "inject", "format": F, "span": S or null, "baggage": [[k, v], ...]}
      -> {"headers": [[n, v], ...]}
  {"op": "generate", "format": F, "seed": N, "count": C}
      -> {"cases": [{"span": S, "baggage": [...], "headers": [...]}, ...]}
         C contexts made by this side (ids from the SDK's RandomIdGenerator),
         each injected with the reference propagator.

F is one of "tracecontext", "baggage", "b3single", "b3multi". A span S is
{"trace_id": 32 hex, "span_id": 16 hex, "flags": int, "tracestate": [[k, v], ...]}.

Every answer carries "ok": true, or "ok": false with "error" (a traceback),
so a failure on this side shows up in the Rust test's message.
"""

import json
import random
import sys
import traceback
from importlib import metadata

from opentelemetry import baggage as otel_baggage
from opentelemetry import trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.b3 import B3MultiFormat, B3SingleFormat
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

PROPAGATORS = {
    "tracecontext": TraceContextTextMapPropagator(),
    "baggage": W3CBaggagePropagator(),
    "b3single": B3SingleFormat(),
    "b3multi": B3MultiFormat(),
}

ID_GENERATOR = RandomIdGenerator()


def carrier_from(pairs):
    """A dict carrier; a repeated header name becomes a list of fields,
    which the default getter hands to the propagator in order."""
    carrier = {}
    for name, value in pairs:
        carrier.setdefault(name, []).append(value)
    return carrier


def pairs_from(carrier):
    out = []
    for name, value in carrier.items():
        if isinstance(value, list):
            out.extend([name, v] for v in value)
        else:
            out.append([name, value])
    return out


def span_to_json(span_context):
    if not span_context.is_valid:
        return None
    return {
        "trace_id": trace.format_trace_id(span_context.trace_id),
        "span_id": trace.format_span_id(span_context.span_id),
        "flags": int(span_context.trace_flags),
        "tracestate": [[k, v] for k, v in span_context.trace_state.items()],
    }


def context_from(span, bag):
    ctx = Context()
    if span is not None:
        span_context = trace.SpanContext(
            trace_id=int(span["trace_id"], 16),
            span_id=int(span["span_id"], 16),
            is_remote=True,
            trace_flags=trace.TraceFlags(span["flags"]),
            trace_state=trace.TraceState([tuple(kv) for kv in span["tracestate"]]),
        )
        ctx = trace.set_span_in_context(trace.NonRecordingSpan(span_context), ctx)
    for key, value in bag:
        ctx = otel_baggage.set_baggage(key, value, context=ctx)
    return ctx


def extract(fmt, headers):
    ctx = PROPAGATORS[fmt].extract(carrier_from(headers), context=Context())
    span = span_to_json(trace.get_current_span(ctx).get_span_context())
    bag = [[k, str(v)] for k, v in otel_baggage.get_all(ctx).items()]
    return {"span": span, "baggage": bag}


def inject(fmt, span, bag):
    carrier = {}
    PROPAGATORS[fmt].inject(carrier, context=context_from(span, bag))
    return {"headers": pairs_from(carrier)}


# What this side generates. Everything here stays inside what both the
# reference and ctx define the same way; the Rust test checks the known
# differences separately, each with its own exact inputs.
LCALPHA = "abcdefghijklmnopqrstuvwxyz"
DIGIT = "0123456789"
TS_KEY_CHARS = LCALPHA + DIGIT + "_-*/"
# tracestate values: printable ASCII except ',' and '=' (space only inside).
TS_VALUE_CHARS = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in ",=")
# Baggage keys: the characters that the reference's form encoding leaves
# alone, so the key on the wire is the key in memory.
BAGGAGE_KEY_CHARS = LCALPHA + LCALPHA.upper() + DIGIT + "_.-~"
# Baggage values: delimiters, escapes and non-ASCII, but no space (the
# reference writes a space as '+', see the Rust test's known differences).
BAGGAGE_VALUE_CHARS = (
    LCALPHA + DIGIT + "=,;%+&/:?#\"\\'!*()[]{}<>@$^`|~._-\t" + "\u00e9\u00fc\u00df\u4e2d\u6587\u0416\U0001f600\u2603"
)


def random_tracestate(rng):
    n = rng.choice([0, 0, 1, 2, 3, 5, 8, 32])
    entries = {}
    while len(entries) < n:
        if rng.random() < 0.3:
            tenant = rng.choice(LCALPHA + DIGIT) + "".join(
                rng.choice(TS_KEY_CHARS) for _ in range(rng.randint(0, 20))
            )
            system = rng.choice(LCALPHA) + "".join(rng.choice(TS_KEY_CHARS) for _ in range(rng.randint(0, 13)))
            key = f"{tenant}@{system}"
        else:
            key = rng.choice(LCALPHA) + "".join(rng.choice(TS_KEY_CHARS) for _ in range(rng.randint(0, 30)))
        # 32 members of 256 bytes would pass the 8192-byte header limit.
        length = rng.choice([1, 2, 8, 16, 64, 256] if n <= 8 else [1, 2, 8, 16, 64])
        body = [rng.choice(TS_VALUE_CHARS + "  ") for _ in range(length - 1)]
        value = "".join(body) + rng.choice(TS_VALUE_CHARS)
        entries[key] = value
    return [[k, v] for k, v in entries.items()]


def random_baggage(rng):
    n = rng.choice([1, 1, 2, 3, 6, 12])
    entries = {}
    while len(entries) < n:
        key = "".join(rng.choice(BAGGAGE_KEY_CHARS) for _ in range(rng.randint(1, 16)))
        value = "".join(rng.choice(BAGGAGE_VALUE_CHARS) for _ in range(rng.randint(0, 24)))
        # The reference strips whitespace from decoded values: keep it inside.
        value = value.strip()
        entries[key] = value
    return [[k, v] for k, v in entries.items()]


def generate(fmt, seed, count):
    # The SDK's RandomIdGenerator draws from the module-level generator:
    # seeding it makes a failing case reproducible from the seed.
    random.seed(seed)
    rng = random.Random(seed ^ 0x5EED)
    cases = []
    for _ in range(count):
        span = None
        bag = []
        if fmt == "baggage":
            bag = random_baggage(rng)
        else:
            span = {
                "trace_id": trace.format_trace_id(ID_GENERATOR.generate_trace_id()),
                "span_id": trace.format_span_id(ID_GENERATOR.generate_span_id()),
                "flags": rng.choice([0, 1, 2, 3]),
                "tracestate": random_tracestate(rng) if fmt == "tracecontext" else [],
            }
            if fmt.startswith("b3") and rng.random() < 0.25:
                # A 64-bit trace id, as older Zipkin instrumentation sends.
                span["trace_id"] = "0" * 16 + span["trace_id"][16:]
        out = inject(fmt, span, bag)
        cases.append({"span": span, "baggage": bag, "headers": out["headers"]})
    return {"cases": cases}


def versions():
    names = [
        "opentelemetry-api",
        "opentelemetry-sdk",
        "opentelemetry-propagator-b3",
    ]
    return {"versions": {n: metadata.version(n) for n in names}, "python": sys.version.split()[0]}


def handle(req):
    op = req["op"]
    if op == "info":
        return versions()
    if op == "extract":
        return extract(req["format"], req["headers"])
    if op == "inject":
        return inject(req["format"], req.get("span"), req.get("baggage", []))
    if op == "generate":
        return generate(req["format"], req["seed"], req["count"])
    raise ValueError(f"unknown op {op!r}")


def main():
    # The propagators log a warning for every header they drop; the Rust
    # side checks the outcome, so keep stderr quiet.
    import logging

    logging.disable(logging.CRITICAL)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = handle(json.loads(line))
            answer["ok"] = True
        except Exception:  # noqa: BLE001 - reported to the Rust side
            answer = {"ok": False, "error": traceback.format_exc()}
        sys.stdout.write(json.dumps(answer, ensure_ascii=True) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
