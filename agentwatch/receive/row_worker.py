"""A row-building worker process: `python -m agentwatch.receive.row_worker`.

The listener starts it when load needs it (see receive/workers.py) and talks to
it over its stdin and stdout: each request is a length-prefixed pickle of
build_batch's arguments, each answer a kind byte and a length-prefixed pickle
of the Batch, or of the exception building it raised. It exits when its stdin
closes, which also happens when the listener dies however it dies, so it
never outlives the listener and needs no multiprocessing machinery.
"""

from __future__ import annotations

import pickle
import struct
import sys
from typing import Any, BinaryIO

from agentwatch.normalise.derive import Derivation
from agentwatch.normalise.otlp_view import ViewPolicy, batch_of
from agentwatch.receive.decode import Encoding, decode
from agentwatch.records import Batch, Signal

LENGTH = struct.Struct("!Q")
ANSWER = struct.Struct("!BQ")  # kind, length
BATCH, RAISED = 0, 1
READY = b"R"  # written once the imports are done: the listener sends work only after it


def build_batch(
    signal: Signal, encoding: Encoding, body: bytes, transport: str, received_ns: int, policy: ViewPolicy
) -> Batch:
    """Decode a request and build its rows (in the worker process)."""
    return derived_batch(signal, decode(signal, body, encoding), transport, received_ns, policy)


def derived_batch(signal: Signal, message: Any, transport: str, received_ns: int, policy: ViewPolicy) -> Batch:
    """The request's rows and the facts its agents' adapters read from them."""
    return batch_of(signal, message, transport, received_ns, policy, Derivation())


def read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    """size bytes, or None at end of stream (the other side closed its end)."""
    parts = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            return None
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)


def answer(args: tuple[Any, ...]) -> tuple[int, bytes]:
    try:
        return BATCH, pickle.dumps(build_batch(*args), pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - handed back to the listener, which answers for it
        try:
            return RAISED, pickle.dumps(exc, pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - an exception that does not pickle: its type is enough
            return RAISED, pickle.dumps(RuntimeError(type(exc).__name__), pickle.HIGHEST_PROTOCOL)


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    answers.write(READY)
    answers.flush()
    while True:
        header = read_exactly(requests, LENGTH.size)
        if header is None:
            return
        data = read_exactly(requests, LENGTH.unpack(header)[0])
        if data is None:
            return
        kind, payload = answer(pickle.loads(data))
        answers.write(ANSWER.pack(kind, len(payload)))
        answers.write(payload)
        answers.flush()


def main() -> None:
    # The pipes are the protocol: nothing else may write to stdout.
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr
    try:
        serve(requests, answers)
    except BrokenPipeError:  # the listener went away mid-answer
        pass


if __name__ == "__main__":
    main()
