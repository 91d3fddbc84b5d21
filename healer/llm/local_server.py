"""Serve the bundled model over llama.cpp's OpenAI-compatible HTTP server (via xllamacpp).

`local_endpoint(settings)` is what the pipeline uses: with an endpoint configured it changes
nothing; otherwise it assembles the model, starts the server in a child process on a free
loopback port, waits until it answers and yields settings pointing at it. The child is
stopped on exit, on exceptions and on Ctrl-C, and it exits by itself if its parent dies.

`serve(settings)` runs the same server in the foreground for `healer serve`.

Defaults, chosen for a 2-core machine: 2 parallel slots (one build sends one call at a time,
see `_concurrency`; two builds of a benchmark get a slot each), each slot with the full
`local_ctx` tokens of context (so the KV cache holds 2 x 8192 tokens, about 0.5 GB for this
model), a 1 GiB prompt cache in RAM, a repeat penalty of 1.1 because at 1.0 the model loops,
and n-gram speculative decoding (`ngram-map-k`), which drafts tokens from text already in the
context: a whole-file rewrite mostly copies the file its prompt holds, and was written about
1.5 times as fast with it (benchmarks/results/server_settings.md).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from healer.config import Settings
from healer.errors import LocalModelError
from healer.hostpython import host_python
from healer.llm.profile import bundled_profile
from healer.llm.weights import INSTALL_HINT, ensure_model

log = logging.getLogger(__name__)

MODEL_ALIAS = "local-qwen2.5-coder-1.5b"
LOCAL_API_KEY = "local"
LOOPBACK = "127.0.0.1"
DEFAULT_PARALLEL = 2
PROMPT_CACHE_MIB = 1024
READY_TIMEOUT = 180.0
STOP_TIMEOUT = 15.0
ANNOUNCE_PREFIX = "healer-local-server listening on "


@dataclass(frozen=True)
class ServerOptions:
    """Everything the server needs; it crosses the process boundary as command-line flags."""

    model: Path
    host: str = LOOPBACK
    port: int = 0  # 0: the system picks a free port
    ctx_per_slot: int = 8192
    parallel: int = DEFAULT_PARALLEL
    threads: int = 2
    repeat_penalty: float = 1.1
    speculative: str = "ngram-map-k"  # draft-free speculative decoding, or "none"

    @classmethod
    def from_settings(
        cls, settings: Settings, model: Path, host: str = LOOPBACK, port: int = 0
    ) -> ServerOptions:
        return cls(
            model=model,
            host=host,
            port=port,
            ctx_per_slot=settings.local_ctx,
            threads=settings.local_threads,
            repeat_penalty=settings.local_repeat_penalty,
            speculative=settings.local_speculative,
        )

    def to_argv(self) -> list[str]:
        return [
            "--model", str(self.model),
            "--host", self.host,
            "--port", str(self.port),
            "--ctx", str(self.ctx_per_slot),
            "--parallel", str(self.parallel),
            "--threads", str(self.threads),
            "--repeat-penalty", str(self.repeat_penalty),
            "--speculative", self.speculative,
        ]  # fmt: skip


# ---------------------------------------------------------------- the in-process server


def require_runtime() -> None:
    """Fail early, in the caller's process, when xllamacpp is not installed."""
    if importlib.util.find_spec("xllamacpp") is None:
        raise LocalModelError(
            "the local model runtime (xllamacpp) is not installed", hint=INSTALL_HINT
        )


def _xllamacpp() -> Any:
    try:
        import xllamacpp
    except ImportError as exc:
        raise LocalModelError(
            "the local model runtime (xllamacpp) is not installed", hint=INSTALL_HINT
        ) from exc
    return xllamacpp


def build_params(options: ServerOptions) -> Any:
    """xllamacpp.CommonParams for `options`."""
    xllamacpp = _xllamacpp()
    params = xllamacpp.CommonParams()
    params.model.path = str(options.model)
    params.model_alias = [MODEL_ALIAS]
    params.hostnames = [options.host]
    params.port = options.port
    params.n_parallel = options.parallel
    params.n_ctx = options.ctx_per_slot * options.parallel  # split evenly over the slots
    params.kv_unified = False
    params.cpuparams.n_threads = options.threads
    params.cpuparams_batch.n_threads = options.threads
    params.sampling.penalty_repeat = options.repeat_penalty
    params.cache_ram_mib = PROMPT_CACHE_MIB
    if options.speculative != "none":  # drafts taken from the prompt: rewrites copy much of it
        kind = "COMMON_SPECULATIVE_TYPE_" + options.speculative.upper().replace("-", "_")
        params.speculative.types = [getattr(xllamacpp.common_speculative_type, kind)]
    params.offline = True
    return params


def start_in_process(options: ServerOptions) -> Any:
    """A running xllamacpp.Server; it serves from its own threads until it is deleted."""
    params = build_params(options)
    try:
        return _xllamacpp().Server(params)
    except Exception as exc:
        raise LocalModelError(f"the local model server did not start: {exc}") from exc


def _wait_for_stop(stop: threading.Event, parent_pid: int | None) -> None:
    """Block until `stop` is set, or until the parent process is gone."""
    while not stop.wait(0.5):
        if parent_pid is not None and os.getppid() != parent_pid:
            log.warning("parent process %d is gone; stopping", parent_pid)
            return


def serve(
    settings: Settings,
    host: str = LOOPBACK,
    port: int = 8080,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve the bundled model in the foreground until Ctrl-C; announces the base URL."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)  # even in a background job
    options = ServerOptions.from_settings(settings, ensure_model(settings), host, port)
    server = start_in_process(options)
    announce(f"serving {MODEL_ALIAS} at {server.listening_address}/v1 (Ctrl-C stops)")
    try:
        _wait_for_stop(threading.Event(), None)
    except KeyboardInterrupt:
        pass
    finally:
        del server


# ---------------------------------------------------------------- the child process


def _log_path(settings: Settings) -> Path:
    """One log per parent process, so that concurrent runs do not write over each other."""
    folder = settings.cache_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"local-server-{os.getpid()}.log"


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _read_announcement(proc: subprocess.Popen[str], deadline: float) -> str | None:
    """The base address the child prints once its server listens, or None on timeout/exit."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=min(1.0, max(0.0, deadline - time.monotonic()))):
                if proc.poll() is not None:
                    return None
                continue
            line = proc.stdout.readline()
            if not line:
                return None
            if line.startswith(ANNOUNCE_PREFIX):
                return line[len(ANNOUNCE_PREFIX) :].strip()
    return None


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200 and json.load(response))
    except (OSError, ValueError, urllib.error.URLError):
        return False


def wait_until_ready(address: str, deadline: float, alive: Callable[[], bool]) -> None:
    """Poll /v1/models until it lists a model; raises LocalModelError on timeout or death."""
    while time.monotonic() < deadline:
        if _answers(f"{address}/v1/models"):
            return
        if not alive():
            raise LocalModelError("the local model server exited while starting")
        time.sleep(0.2)
    raise LocalModelError(f"the local model server at {address} did not answer in time")


class LocalServerProcess:
    """The server in a child process: start, wait until it answers, stop without orphans."""

    def __init__(self, options: ServerOptions, log_file: Path) -> None:
        self.options = options
        self.log_file = log_file
        self.proc: subprocess.Popen[str] | None = None
        self.address: str | None = None

    @property
    def base_url(self) -> str:
        assert self.address is not None, "server not started"
        return f"{self.address}/v1"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        self.proc = self._spawn()
        address = _read_announcement(self.proc, deadline)
        if address is None:
            raise self._failure("the local model server did not start")
        self.address = address
        try:
            wait_until_ready(address, deadline, lambda: self.proc.poll() is None)  # type: ignore[union-attr]
        except LocalModelError as exc:
            raise self._failure(exc.message) from exc

    def _spawn(self) -> subprocess.Popen[str]:
        command = host_python("healer.llm.local_server", *self.options.to_argv())
        command += ["--parent-pid", str(os.getpid())]
        with self.log_file.open("w") as log_handle:
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log_handle,
                text=True,
                start_new_session=True,  # Ctrl-C reaches the parent, which stops the child
            )

    def _failure(self, message: str) -> LocalModelError:
        self.stop(keep_log=True)
        detail = _tail(self.log_file)
        return LocalModelError(
            f"{message} (log: {self.log_file})" + (f"\n{detail}" if detail else ""),
            hint=f"see {self.log_file}; or configure an endpoint with --base-url",
        )

    def stop(self, keep_log: bool = False) -> None:
        """Stop the child. Its log is kept when asked, or when it ended on its own (a crash)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            _terminate(proc)
            if not keep_log:
                self.log_file.unlink(missing_ok=True)
        if proc.stdout:
            proc.stdout.close()


def _terminate(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        log.warning("local model server %d ignored SIGTERM; killing it", proc.pid)
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def local_endpoint(settings: Settings) -> Iterator[Settings]:
    """Settings for a usable endpoint: the configured one, or the bundled model served here."""
    if settings.base_url:
        yield settings
        return
    require_runtime()
    options = ServerOptions.from_settings(settings, ensure_model(settings))
    server = LocalServerProcess(options, _log_path(settings))
    started = time.monotonic()
    try:
        server.start()
        log.info("local model ready at %s in %.1f s", server.base_url, time.monotonic() - started)
        scope = (f"bundled:{MODEL_ALIAS}:ctx={options.ctx_per_slot}:"
                 f"repeat_penalty={settings.local_repeat_penalty}")
        yield settings.model_copy(update={"base_url": server.base_url, "model": MODEL_ALIAS,
                                          "api_key": LOCAL_API_KEY, "cache_scope": scope,
                                          "concurrency": _concurrency(settings),
                                          **bundled_profile(options.ctx_per_slot)})
    finally:
        server.stop()


def _concurrency(settings: Settings) -> int:
    """Calls one build sends at once: one, unless the user chose. On a CPU, two calls at once
    share its cores and each processes the whole prompt in its own slot; one after the other,
    each call reuses the prompt prefix the last one left in the slot (measured in
    benchmarks/results/server_settings.md)."""
    return settings.concurrency if "concurrency" in settings.model_fields_set else 1


# ---------------------------------------------------------------- child entry point


def _parse_args(argv: list[str] | None) -> tuple[ServerOptions, int | None]:
    parser = argparse.ArgumentParser(prog="python -m healer.llm.local_server")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ctx", type=int, default=8192)
    parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat-penalty", type=float, default=1.1)
    parser.add_argument("--speculative", default="ngram-map-k")
    parser.add_argument("--parent-pid", type=int, default=None)
    args = parser.parse_args(argv)
    options = ServerOptions(
        model=args.model,
        host=args.host,
        port=args.port,
        ctx_per_slot=args.ctx,
        parallel=args.parallel,
        threads=args.threads,
        repeat_penalty=args.repeat_penalty,
        speculative=args.speculative,
    )
    return options, args.parent_pid


def _announce(out: IO[str], address: str) -> None:
    out.write(f"{ANNOUNCE_PREFIX}{address}\n")
    out.flush()


def main(argv: list[str] | None = None) -> int:
    """Child process: serve until SIGTERM/SIGINT or until the parent dies."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    options, parent_pid = _parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        server = start_in_process(options)
    except LocalModelError as exc:
        log.error("%s", exc)
        return 1
    _announce(sys.stdout, server.listening_address)
    _wait_for_stop(stop, parent_pid)
    del server  # stops llama.cpp's loop and HTTP threads
    return 0


if __name__ == "__main__":
    sys.stdout.flush()
    os._exit(main())
