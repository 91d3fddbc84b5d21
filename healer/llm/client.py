"""The LLM client: one small layer over the official `openai` SDK for any compatible endpoint.

- transient failures (429, 5xx, timeouts, dropped connections) are retried by tenacity with
  jittered exponential backoff; misuse (400, 401, 403, 404, 422) fails at once with a hint;
- answers are streamed (see `answers`): tokens are reported as they come, and an answer that
  loops is stopped instead of running to `max_tokens`;
- an answer cut off by the token limit is continued, never silently accepted;
- every call is recorded in a `UsageLedger` under its pipeline stage;
- answers are cached on disk, so a repeated run is free.

The client is shared by many threads; a semaphore bounds the requests in flight.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import openai
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from healer.config import Settings
from healer.errors import (
    BudgetSpentError,
    CancelledError,
    ConfigError,
    ContextOverflowError,
    EndpointError,
    HealerError,
    ModelOutputError,
)
from healer.llm import answers
from healer.llm.accounting import UsageLedger, estimate_cost
from healer.llm.answers import Part
from healer.llm.cache import FILE_NAME, ResponseCache, cache_key
from healer.llm.call_errors import describe, is_transient, retry_after
from healer.llm.continuation import continuation_messages, join_continuation
from healer.llm.profile import profile_of
from healer.llm.quirks import EndpointQuirks
from healer.models import Completion, Usage

if TYPE_CHECKING:
    from healer.budget import CallLimits

log = logging.getLogger(__name__)

RETRY_WAIT_MULTIPLIER = 0.5  # seconds; the backoff window doubles with every attempt
RETRY_WAIT_MAX = 30.0  # seconds; also caps how long a Retry-After header is honoured
MAX_CONTINUATIONS = 3
AT_LIMIT = "at_most"  # an answer that reached the length its caller asked it to end at
MAX_ANSWER_CHARS = 256_000  # about 64k tokens: more is not an answer healer can use or re-send
PLACEHOLDER_API_KEY = "none"  # local servers want no key, the SDK wants a string

REFUSAL_HINTS = {
    400: "the endpoint refused the request: prompt longer than the model's context, or a"
    " parameter it does not support?",
    401: "bad API key? Set OPENAI_API_KEY (or api_key in healer.toml).",
    403: "the API key has no access to this model or endpoint?",
    404: "unknown model? Check the model name, and that base_url ends with /v1.",
    422: "the server cannot process this request: a parameter it does not support?",
}
# How OpenAI, vLLM, llama.cpp and Ollama word a prompt longer than the model's context.
CONTEXT_OVERFLOW = re.compile(
    r"context[ _](length|size|window)|maximum context|exceeds the available context"
    r"|prompt is too long|too many tokens",
    re.IGNORECASE,
)
EXHAUSTED_HINT = (
    "the endpoint kept failing: check that it is up and reachable, lower concurrency if it is"
    " rate limited, or raise request_timeout if it is slow."
)


@dataclass(frozen=True)
class _Request:
    """One logical call, with every default resolved."""

    messages: list[dict[str, str]]
    temperature: float
    max_tokens: int
    json_schema: dict[str, Any] | None
    seed: int | None
    stop: threading.Event | None = None
    at_most: int | None = None  # the answer ends at this length: not continued, not an error


class LLMClient:
    """Chat completions against `settings.base_url` with `settings.model`."""

    def __init__(
        self,
        settings: Settings,
        *,
        cache: ResponseCache | None = None,
        ledger: UsageLedger | None = None,
    ) -> None:
        if not settings.base_url:
            raise ConfigError(
                "no LLM endpoint configured",
                hint="set base_url (OPENAI_BASE_URL), or start the bundled local model first",
            )
        if not settings.model:
            raise ConfigError("no model configured", hint="set model (HEALER_MODEL or --model)")
        self.settings = settings
        self.endpoint: str = settings.base_url
        self.model: str = settings.model
        self.ledger = ledger if ledger is not None else UsageLedger()
        self.cache = cache if cache is not None else _default_cache(settings)
        self.retry_wait_multiplier = RETRY_WAIT_MULTIPLIER
        self.retry_wait_max = RETRY_WAIT_MAX
        # llama.cpp continues a prefilled answer and counts its prompt cache per token
        self.profile = profile_of(settings)
        self.llama_cpp = self.profile.llama_cpp
        # what the endpoint accepts, learned from its refusals
        self.quirks = EndpointQuirks(settings.base_url, stream=settings.stream,
                                     llama_cpp=self.llama_cpp)
        self.limits: CallLimits | None = None  # the build's budget, set by the loop
        self.on_tokens: Callable[[str, int], None] | None = None  # (stage, tokens so far)
        self._slots = threading.BoundedSemaphore(settings.concurrency)
        self._closed = threading.Event()
        self._openai = openai.OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key or PLACEHOLDER_API_KEY,
            timeout=settings.request_timeout,
            max_retries=0,
        )

    # ------------------------------------------------------------ public

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        stage: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_schema: dict[str, Any] | None = None,
        seed: int | None = None,
        use_cache: bool = True,
        stop: threading.Event | None = None,
        at_most: int | None = None,
    ) -> Completion:
        """The model's complete answer to `messages`; its usage is added to the ledger.

        An answer cut off at `max_tokens` is continued. `at_most` is a length the answer has
        no use beyond (a rewrite many times the size of the code it rewrites is a model
        rambling): the answer ends there, with finish_reason "length", for the caller to use
        what it holds. Setting `stop` cancels the call (CancelledError): before it is sent,
        or, while its answer streams in, at the next token.
        """
        request = _Request(
            messages=messages,
            temperature=self.settings.temperature if temperature is None else temperature,
            max_tokens=max_tokens or self.settings.max_tokens,
            json_schema=json_schema,
            seed=seed,
            stop=stop,
            at_most=at_most,
        )
        cache = self.cache if use_cache else None
        key = self._key(request) if cache is not None else ""
        hit = cache.get(key) if cache is not None else None
        if hit is not None:
            log.debug("stage %s: answer from the cache", stage)
            self.ledger.add(stage, hit.usage)
            return hit
        if self.limits is not None:  # the key keeps the asked size: a cut answer is not cached
            wanted = min(request.max_tokens, request.at_most or request.max_tokens)
            cut = self.limits.tokens(wanted)
            if cut < wanted:
                at_most = min(request.at_most, cut) if request.at_most else None
                request = dataclasses.replace(request, max_tokens=cut, at_most=at_most)
                cache = None
        completion = self._complete_fresh(request, stage)
        if cache is not None:
            cache.put(key, completion)
        return completion

    # ------------------------------------------------------------ one logical call

    def _key(self, request: _Request) -> str:
        return cache_key(
            base_url=self.settings.cache_scope or self.endpoint,
            model=self.model,
            messages=request.messages,
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            json_schema=request.json_schema,
            seed=request.seed,
            at_most=request.at_most,
        )

    def _complete_fresh(self, request: _Request, stage: str) -> Completion:
        """Ask, then continue while the answer is cut off by the token limit."""
        started = time.monotonic()
        text, usage, finish = "", Usage(), "length"
        messages = request.messages
        for attempt in range(MAX_CONTINUATIONS + 1):
            asked = request
            if request.at_most:  # each part asks for no more than the answer has left
                left = max(request.at_most - usage.completion_tokens, 1)
                asked = dataclasses.replace(request, max_tokens=min(request.max_tokens, left))
            try:
                if attempt:  # a continuation fits the budget too
                    asked = dataclasses.replace(asked, max_tokens=self._budget_room(
                        asked.max_tokens, usage))
                part = self._answer(messages, asked, stage, with_schema=attempt == 0,
                                    written=usage.completion_tokens)
            except HealerError:
                if attempt:  # the parts already answered were paid for
                    self._record(stage, usage, started)
                raise
            usage = usage + part.usage
            if part.text is None:
                self._record(stage, usage, started)
                raise self._empty_answer(stage)
            text, finish = join_continuation(text, part.text), part.finish_reason
            if finish == answers.LOOPED:
                log.warning("stage %s: the answer of model %s started repeating itself; stopped"
                            " after %d tokens", stage, self.model, usage.completion_tokens)
            if len(text) > MAX_ANSWER_CHARS or finish == answers.TOO_LONG:
                self._record(stage, usage, started)
                raise ModelOutputError(
                    f"stage {stage}: the answer of model {self.model} is longer than "
                    f"{MAX_ANSWER_CHARS:,} characters; healer does not use or re-send it")
            if finish != "length":
                break
            if request.at_most and (usage.completion_tokens >= request.at_most
                                    or not usage.completion_tokens):  # or the length unknown
                log.info("stage %s: answer stopped at its limit of %d tokens", stage,
                         request.at_most)
                finish = AT_LIMIT
                break
            log.info("stage %s: answer cut off at %d tokens, continuing", stage, request.max_tokens)
            messages = continuation_messages(request.messages, text, prefill=self.llama_cpp)
        usage = self._record(stage, usage, started)
        self._check_answer(stage, text, finish, request)
        return Completion(text=text, finish_reason="length" if finish == AT_LIMIT
                          else finish or "stop", usage=usage)

    def _budget_room(self, wanted: int, spent: Usage) -> int:
        """Tokens a continuation may write: `wanted`, cut to the build's token budget, counting
        the parts of this call (not yet in the ledger); BudgetSpentError when none are left."""
        if self.limits is None:
            return wanted
        room = self.limits.tokens(wanted + spent.total_tokens) - spent.total_tokens
        if room <= 0:
            raise BudgetSpentError(f"token budget spent during a continued answer"
                                   f" ({spent.total_tokens} tokens in this call)")
        return room

    def _record(self, stage: str, usage: Usage, started: float) -> Usage:
        cost = estimate_cost(self.model, usage.prompt_tokens, usage.completion_tokens,
                             self.settings.prices)
        usage = usage.model_copy(update={"seconds": time.monotonic() - started, "cost_usd": cost})
        self.ledger.add(stage, usage)
        return usage

    def _check_answer(self, stage: str, text: str, finish: str, request: _Request) -> None:
        if finish == AT_LIMIT:
            return
        if finish == "length":
            raise ModelOutputError(
                f"stage {stage}: the answer of model {self.model} was still cut off at"
                f" max_tokens={request.max_tokens} after {MAX_CONTINUATIONS} continuations",
                hint="raise max_tokens, or ask for smaller pieces of work",
            )
        if finish == "content_filter":
            raise ModelOutputError(f"stage {stage}: model {self.model} withheld its answer")
        if not text.strip():
            raise self._empty_answer(stage)

    def _empty_answer(self, stage: str) -> ModelOutputError:
        return ModelOutputError(f"stage {stage}: model {self.model} sent an empty answer")

    # ------------------------------------------------------------ one answered request

    def _answer(
        self, messages: list[dict[str, str]], request: _Request, stage: str, *,
        with_schema: bool, written: int = 0,
    ) -> Part:
        """One answer, sent in the shape this endpoint accepts (see `_learn`); `written`: the
        tokens earlier parts of this call wrote, for the live count."""
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if request.seed is not None:
            kwargs["seed"] = request.seed
        schema = request.json_schema if with_schema else None
        report, stop = self.on_tokens, request.stop

        def watch(tokens: int) -> None:  # before the request is sent (0), then per token
            if stop is not None and stop.is_set():
                raise CancelledError(f"stage {stage}: call cancelled")
            if report is not None and tokens:
                report(stage, written + tokens)

        return self._request(kwargs, messages, schema, watch)

    def _request(self, kwargs: dict[str, Any], messages: list[dict[str, str]],
                 schema: dict[str, Any] | None = None,
                 on_tokens: Callable[[int], None] | None = None) -> Part:
        """Send; a parameter the endpoint refuses is adapted once, and remembered."""
        while True:
            sent = self.quirks.shaped(kwargs, schema)
            try:
                return self._call(sent, messages, on_tokens)
            except openai.BadRequestError as exc:
                if self.quirks.adapt(exc, sent):
                    continue
                raise self._refused(exc) from exc
            except openai.OpenAIError as exc:
                raise self._refused(exc) from exc

    def _not_a_completion(self, error: BaseException) -> EndpointError:
        return EndpointError(
            f"LLM endpoint {self.endpoint} answered something that is not an OpenAI chat "
            f"completion ({type(error).__name__}: {str(error)[:200]})",
            hint="check that base_url is the API's address and ends with /v1, not a web page "
                 "or a proxy's login page")

    def _call(self, kwargs: dict[str, Any], messages: list[dict[str, str]],
              on_tokens: Callable[[int], None] | None) -> Part:
        """Send with retries; raises the SDK's error for misuse, EndpointError when exhausted."""
        retrying = Retrying(
            sleep=self._closed.wait,  # a closed client wakes from its backoff at once
            retry=retry_if_exception(is_transient),
            wait=self._wait,
            stop=stop_after_attempt(self.settings.max_retries + 1) | self._out_of_time,
            before_sleep=self._log_retry,
        )
        try:
            return retrying(self._send, kwargs, messages, on_tokens)
        except RetryError as exc:
            attempt = exc.last_attempt
            error = attempt.exception()
            if self._out_of_time(None):
                self.limits.seconds(0.0)  # raises BudgetSpentError
            raise EndpointError(
                f"LLM endpoint {self.endpoint} (model {self.model}) failed after"
                f" {attempt.attempt_number} attempts; last error: {describe(error)}",
                hint=EXHAUSTED_HINT,
            ) from error

    def _send(self, kwargs: dict[str, Any], messages: list[dict[str, str]],
              on_tokens: Callable[[int], None] | None) -> Part:
        with self._slots:
            if self._closed.is_set():
                raise EndpointError(f"the client for {self.endpoint} was closed")
            timeout = self.settings.request_timeout
            if self.limits is not None:
                timeout = self.limits.seconds(timeout)
            if on_tokens is not None:
                on_tokens(0)  # a call cancelled while it waited for a slot is not sent
            deadline = time.monotonic() + timeout
            try:
                response = self._openai.chat.completions.create(**kwargs, timeout=timeout)
                if not kwargs.get("stream"):
                    return answers.whole(response, messages)
                return answers.streamed(response, messages, deadline=deadline,
                                        max_chars=MAX_ANSWER_CHARS, on_tokens=on_tokens)
            except ValueError as exc:  # a 200 answer that is not JSON: an HTML page, a proxy
                raise self._not_a_completion(exc) from exc

    def _out_of_time(self, state: RetryCallState | None) -> bool:
        """Whether the build's deadline has passed (a tenacity stop condition)."""
        if self.limits is None:
            return False
        try:
            self.limits.seconds(1.0)
        except BudgetSpentError:
            return True
        return False

    def close(self) -> None:
        """Stop: calls in flight in other threads fail at once instead of retrying."""
        self._closed.set()
        self._openai.close()

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_random_exponential(
            multiplier=self.retry_wait_multiplier, max=self.retry_wait_max
        )(state)
        error = state.outcome.exception() if state.outcome else None
        wait = max(backoff, min(retry_after(error), self.retry_wait_max))
        return self.limits.seconds(wait) if self.limits is not None else wait

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "LLM endpoint %s: attempt %d failed (%s); retrying in %.1f s",
            self.endpoint,
            state.attempt_number,
            describe(error),
            wait,
        )

    def _refused(self, error: BaseException) -> EndpointError:
        status = getattr(error, "status_code", None)
        overflow = status == 400 and CONTEXT_OVERFLOW.search(describe(error)) is not None
        return (ContextOverflowError if overflow else EndpointError)(
            f"LLM endpoint {self.endpoint} (model {self.model}) refused the request:"
            f" {describe(error)}",
            hint=REFUSAL_HINTS.get(status) if isinstance(status, int) else None,
        )


# ---------------------------------------------------------------- helpers


def _default_cache(settings: Settings) -> ResponseCache | None:
    return ResponseCache(settings.cache_dir / FILE_NAME) if settings.cache else None


