"""A scripted OpenAI-compatible HTTP server on loopback, for tests and benchmarks.

It speaks enough of the OpenAI API (POST /v1/chat/completions, streamed or not, GET /v1/models)
that the real `openai` client works against it. What it answers is scripted:

    server = FakeLLM().start()
    server.enqueue("first answer", Reply(status=429), Reply(text="cut", finish_reason="length"))
    server.responder = lambda request: "answer for calls that come in any order"

Replies are taken from the queue first, then from `responder`; with neither, the server answers
500 and says the script is exhausted, so a test notices calls it did not expect.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


@dataclass
class Reply:
    """One scripted answer.

    text: the answer (None gives `content: null`); finish_reason: "stop", "length", ...;
    delay: seconds to wait before answering; status: an HTTP status other than 200 gives an
    OpenAI-style error body; body: a raw JSON body that replaces the generated one; drop: close
    the connection without answering; usage: False leaves `usage` out of the answer;
    headers: extra response headers (e.g. {"retry-after": "0"}); chunk_delay: seconds between
    the chunks of a streamed answer. A raw `body` is sent as one JSON answer even when the
    request asks for a stream, as servers that ignore `stream` do.
    """

    text: str | None = "ok"
    finish_reason: str = "stop"
    delay: float = 0.0
    status: int = 200
    body: Any = None
    drop: bool = False
    usage: bool = True
    headers: dict[str, str] | None = None
    chunk_delay: float = 0.0


Responder = Callable[[dict[str, Any]], "str | Reply"]


def _as_reply(item: str | Reply) -> Reply:
    return Reply(text=item) if isinstance(item, str) else item


def _count_tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


def completion_body(request: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """The JSON an OpenAI endpoint sends for a non-streaming chat completion."""
    prompt = "".join(str(m.get("content", "")) for m in request.get("messages", []))
    body: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "unknown"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": reply.finish_reason,
            }
        ],
    }
    if reply.usage:
        prompt_tokens = _count_tokens(prompt)
        completion_tokens = _count_tokens(reply.text or "")
        body["usage"] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
    return body


def stream_chunks(request: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
    """The chunks an OpenAI endpoint streams for `reply`: the text in pieces (of 8 characters,
    more for long answers), the finish reason, and the usage when the request asks for it."""
    whole = completion_body(request, reply)
    base = {k: whole[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    text = reply.text or ""
    size = max(8, len(text) // 500)
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": text[i:i + size]} for i in range(0, len(text), size)]
    chunks = [base | {"choices": [{"index": 0, "delta": d, "finish_reason": None}]}
              for d in deltas]
    chunks.append(base | {"choices": [{"index": 0, "delta": {},
                                       "finish_reason": reply.finish_reason}]})
    if (request.get("stream_options") or {}).get("include_usage") and "usage" in whole:
        chunks.append(base | {"choices": [], "usage": whole["usage"]})
    return chunks


def error_body(status: int, message: str) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


class FakeLLM:
    """The server; `start()` runs it in a daemon thread on 127.0.0.1 at a free port."""

    def __init__(self, *, delay: float = 0.0, models: tuple[str, ...] = ("test-model",)) -> None:
        self.delay = delay  # added to every reply, for speed measurements
        self.models = models
        self.responder: Responder | None = None
        self._queue: deque[Reply] = deque()
        self._requests: list[dict[str, Any]] = []
        self._headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._in_flight = 0
        self.max_in_flight = 0
        self.chunks_sent = 0  # of streamed answers, all together
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> FakeLLM:
        handler = type("Handler", (_Handler,), {"fake": self})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fakellm", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    # ------------------------------------------------------------ script

    def enqueue(self, *replies: str | Reply) -> None:
        with self._lock:
            self._queue.extend(_as_reply(r) for r in replies)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._requests)

    @property
    def headers(self) -> list[dict[str, str]]:
        with self._lock:
            return list(self._headers)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._requests)

    # ------------------------------------------------------------ used by the handler

    def _receive(self, request: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            self._requests.append(request)
            self._headers.append(headers)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            if self._queue:
                return self._queue.popleft()
        if self.responder is not None:
            return _as_reply(self.responder(request))
        return Reply(status=500, body=error_body(500, "fakellm: the script is exhausted"))

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLLM
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes; without this, Nagle's algorithm and delayed
        # ACKs add about 40 ms to every answer on loopback
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/v1/models":
            self._send_json(404, error_body(404, f"no route {self.path}"))
            return
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "fakellm"}
            for m in self.fake.models
        ]
        self._send_json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, error_body(404, f"no route {self.path}"))
            return
        try:
            request = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send_json(400, error_body(400, "body is not JSON"))
            return
        reply = self.fake._receive(request, {k.lower(): v for k, v in self.headers.items()})
        try:
            self._answer(request, reply)
        finally:
            self.fake._done()

    def _answer(self, request: dict[str, Any], reply: Reply) -> None:
        wait = reply.delay + self.fake.delay
        if wait:
            time.sleep(wait)
        if reply.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.body is not None:
            body = reply.body
        elif reply.status != 200:
            body = error_body(reply.status, f"fakellm: scripted status {reply.status}")
        elif request.get("stream"):
            self._send_stream(stream_chunks(request, reply), reply)
            return
        else:
            body = completion_body(request, reply)
        self._send_json(reply.status, body, reply.headers or {})

    def _send_stream(self, chunks: list[dict[str, Any]], reply: Reply) -> None:
        self.close_connection = True  # no content-length: the end of the stream ends the body
        try:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            for name, value in (reply.headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            for chunk in chunks:
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
                with self.fake._lock:
                    self.fake.chunks_sent += 1
                if reply.chunk_delay:
                    time.sleep(reply.chunk_delay)
            self.wfile.write(b"data: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout expired)
