"""Canned answers for every request an extension makes to the outside world during checks."""

from __future__ import annotations

import json
from dataclasses import dataclass

from healer.checks.extension.spec import Stub

STUB_ANSWER = "This is a stubbed answer from healer's extension check."
CORS_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-allow-headers": "*",
    "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
}


@dataclass
class StubResponse:
    status: int
    body: str
    content_type: str
    source: str  # which stub answered: a pattern, or a description of the default

    @property
    def headers(self) -> dict[str, str]:
        return dict(CORS_HEADERS)


def _chat_completion() -> str:
    return json.dumps(
        {
            "id": "chatcmpl-healer-stub",
            "object": "chat.completion",
            "created": 0,
            "model": "stub",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": STUB_ANSWER},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    )


def _chat_completion_stream() -> str:
    chunk = {
        "id": "chatcmpl-healer-stub",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "stub",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": STUB_ANSWER}}],
    }
    done = dict(chunk, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])
    return f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(done)}\n\ndata: [DONE]\n\n"


def _wants_stream(post_data: str | None) -> bool:
    try:
        return bool(json.loads(post_data or "").get("stream"))
    except (ValueError, AttributeError):
        return False


def default_response(method: str, url: str, post_data: str | None) -> StubResponse:
    path = url.split("?", 1)[0]
    if method.upper() == "OPTIONS":
        return StubResponse(204, "", "text/plain", "default: CORS preflight")
    if path.endswith("/chat/completions"):
        if _wants_stream(post_data):
            return StubResponse(
                200,
                _chat_completion_stream(),
                "text/event-stream",
                "default: chat completion stream",
            )
        return StubResponse(200, _chat_completion(), "application/json", "default: chat completion")
    return StubResponse(200, "{}", "application/json", "default: {}")


def choose_response(
    method: str, url: str, post_data: str | None, stubs: list[Stub]
) -> StubResponse:
    """The first declared stub that matches, else a sensible default."""
    for stub in stubs:
        if stub.matches(method, url):
            return StubResponse(stub.status, stub.body, stub.content_type, stub.pattern)
    return default_response(method, url, post_data)
