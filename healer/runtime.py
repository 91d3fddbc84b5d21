"""Opening what a command needs: the LLM endpoint (maybe the local model) and a sandbox."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from healer.config import Settings
from healer.events import NO_EVENTS, Events
from healer.llm.client import LLMClient
from healer.llm.local_server import local_endpoint
from healer.sandbox import open_sandbox
from healer.sandbox.base import Sandbox


@contextlib.contextmanager
def open_llm(settings: Settings, events: Events = NO_EVENTS) -> Iterator[LLMClient]:
    """A client for the configured endpoint, or for the bundled model served for this run;
    it reports the tokens of answers as they stream in to `events`."""
    with local_endpoint(settings) as effective:
        client = LLMClient(effective)
        client.on_tokens = events.tokens
        try:
            yield client
        finally:
            client.close()


@contextlib.contextmanager
def open_checks_sandbox(settings: Settings, *, unsafe_local: bool = False) -> Iterator[Sandbox]:
    sandbox = open_sandbox(settings, unsafe_local=unsafe_local)
    try:
        yield sandbox
    finally:
        sandbox.close()
