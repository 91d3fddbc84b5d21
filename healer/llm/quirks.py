"""What an OpenAI-compatible endpoint accepts, learned once from its refusals and shared by
every thread of a client: `max_completion_tokens` instead of `max_tokens` and only the default
temperature (reasoning models), no streaming, no `response_format`."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import openai

from healer.llm.call_errors import describe

log = logging.getLogger(__name__)


class EndpointQuirks:
    def __init__(self, endpoint: str, *, stream: bool, llama_cpp: bool) -> None:
        self.endpoint = endpoint
        self.llama_cpp = llama_cpp
        self.schema_supported = True
        self.token_limit_param = "max_tokens"
        self.temperature_supported = True
        self.stream_supported = stream
        self._lock = threading.Lock()

    def shaped(self, kwargs: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
        """The request's parameters as this endpoint takes them."""
        sent = dict(kwargs)
        if self.token_limit_param != "max_tokens":
            sent[self.token_limit_param] = sent.pop("max_tokens")
        if not self.temperature_supported:
            sent.pop("temperature", None)
        if self.stream_supported:
            sent["stream"] = True
            sent["stream_options"] = {"include_usage": True}
            if self.llama_cpp:  # its usage, cache hits included, on every chunk
                sent["extra_body"] = {"timings_per_token": True}
        if schema is not None and self.schema_supported:
            sent["response_format"] = response_format(schema)
        return sent

    def adapt(self, error: openai.BadRequestError, sent: dict[str, Any]) -> bool:
        """Learn what the endpoint refused; True when the request is worth sending again in
        another shape."""
        with self._lock:
            if self._learn(error):
                return True
            if sent.get("stream") and "stream" in describe(error).lower():
                log.info("%s refused a streamed answer (%s); asking without streaming",
                         self.endpoint, error)
                self.stream_supported = False
                return True
            if "response_format" in sent:
                log.info("%s refused response_format (%s); asking without it",
                         self.endpoint, error)
                self.schema_supported = False
                return True
            return False

    def _learn(self, error: openai.BadRequestError) -> bool:
        param = getattr(error, "param", None) or ""
        message = describe(error)
        if (param == "max_tokens" or "'max_tokens'" in message) and (
            "max_completion_tokens" in message and self.token_limit_param == "max_tokens"
        ):
            log.info("%s wants max_completion_tokens instead of max_tokens", self.endpoint)
            self.token_limit_param = "max_completion_tokens"
            return True
        if (param == "temperature" or "'temperature'" in message) and self.temperature_supported:
            log.info("%s refused temperature; sending its default", self.endpoint)
            self.temperature_supported = False
            return True
        return False


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(schema.get("title") or "answer"))[:64]
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": False}}
