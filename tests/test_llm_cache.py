"""The sqlite response cache, alone and through the client."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from healer.config import Settings
from healer.errors import EndpointError, ModelOutputError
from healer.llm.cache import ResponseCache, cache_key
from healer.llm.client import LLMClient
from healer.models import Completion, Usage
from tests.fakellm import FakeLLM, Reply

ASK = [{"role": "user", "content": "Write hello world."}]
KEY_FIELDS = {
    "base_url": "http://x/v1",
    "model": "m",
    "messages": ASK,
    "temperature": 0.2,
    "max_tokens": 100,
    "json_schema": None,
    "seed": None,
}


def _answer(text: str = "hello") -> Completion:
    return Completion(
        text=text,
        usage=Usage(calls=1, prompt_tokens=11, completion_tokens=22, seconds=1.5, cost_usd=0.01),
    )


def test_key_changes_with_every_field_and_ignores_dict_order() -> None:
    base = cache_key(**KEY_FIELDS)
    assert base == cache_key(**dict(reversed(list(KEY_FIELDS.items()))))
    assert base == cache_key(**{**KEY_FIELDS, "base_url": "http://x/v1/"})
    assert base == cache_key(**{**KEY_FIELDS, "at_most": None})  # older keys stay valid
    assert base == "7ce864ec83966b86f78c3dee9a4161daa23cbab669917d9940c890772b05f683"  # as before
    changes = {
        "base_url": "http://y/v1",
        "model": "n",
        "temperature": 0.3,
        "max_tokens": 99,
        "json_schema": {"type": "object"},
        "seed": 1,
        "messages": [{"role": "user", "content": "other"}],
        "at_most": 99,
    }
    keys = {cache_key(**{**KEY_FIELDS, name: value}) for name, value in changes.items()}
    assert base not in keys and len(keys) == len(changes)
    schema_a = {"type": "object", "properties": {"a": {}}}
    schema_b = {"properties": {"a": {}}, "type": "object"}
    assert cache_key(**{**KEY_FIELDS, "json_schema": schema_a}) == cache_key(
        **{**KEY_FIELDS, "json_schema": schema_b}
    )


def test_put_then_get_marks_the_hit(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c" / "responses.sqlite")
    assert cache.get("k") is None
    cache.put("k", _answer())
    hit = cache.get("k")
    assert hit is not None and hit.text == "hello" and hit.cached
    assert hit.usage == Usage(
        calls=1, cached_calls=1, prompt_tokens=11, completion_tokens=22, seconds=0.0, cost_usd=0.0
    )
    assert len(cache) == 1


def test_survives_reopening_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    ResponseCache(path).put("k", _answer("kept"))
    reopened = ResponseCache(path)
    assert reopened.get("k").text == "kept"  # type: ignore[union-attr]
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_corrupt_file_is_a_miss_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "responses.sqlite"
    path.write_bytes(b"this is not a database" * 200)
    cache = ResponseCache(path)
    assert not cache.usable
    assert cache.get("k") is None
    cache.put("k", _answer())  # ignored, no exception
    assert cache.get("k") is None
    assert "unusable" in caplog.text


def test_locked_database_does_not_raise(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "responses.sqlite"
    cache = ResponseCache(path, busy_timeout=0.1)
    cache.put("old", _answer())
    writer = sqlite3.connect(path)
    writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        cache.put("new", _answer())
        assert cache.get("old") is not None  # WAL readers are not blocked
    finally:
        writer.rollback()
        writer.close()
    assert cache.get("new") is None
    assert "cannot store" in caplog.text


def test_broken_table_is_a_miss(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "responses.sqlite"
    cache = ResponseCache(path)
    cache.put("k", _answer())
    with sqlite3.connect(path) as other:
        other.execute("DROP TABLE responses")
    assert cache.get("k") is None
    assert "treated as a miss" in caplog.text


def test_parallel_puts_and_gets(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "responses.sqlite")
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(20):
                cache.put(f"{i}-{j}", _answer(f"{i}-{j}"))
                assert cache.get(f"{i}-{j}").text == f"{i}-{j}"  # type: ignore[union-attr]
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(cache) == 160


# ---------------------------------------------------------------- through the client


@pytest.fixture
def client(fake_settings: Settings, fast_retries: None) -> LLMClient:
    return LLMClient(fake_settings)


def test_identical_call_is_served_from_the_cache(client: LLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue("hello")
    first = client.complete(ASK, stage="generate")
    second = client.complete(ASK, stage="generate")
    assert fake_llm.count == 1
    assert second.text == first.text and second.cached and not first.cached
    assert second.usage.completion_tokens == first.usage.completion_tokens
    usage = client.ledger.by_stage["generate"]
    assert (usage.calls, usage.cached_calls) == (2, 1)


def test_cache_persists_across_clients(fake_settings: Settings, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue("hello")
    LLMClient(fake_settings).complete(ASK, stage="s")
    assert LLMClient(fake_settings).complete(ASK, stage="s").cached
    assert fake_llm.count == 1
    assert (fake_settings.cache_dir / "responses.sqlite").is_file()


def test_changed_options_miss(client: LLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue("a", "b", "c")
    client.complete(ASK, stage="s")
    assert client.complete(ASK, stage="s", temperature=0.9).text == "b"
    assert client.complete(ASK, stage="s", seed=3).text == "c"
    assert fake_llm.count == 3


def test_use_cache_false_bypasses(client: LLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue("first", "fresh", "third")
    client.complete(ASK, stage="s")
    assert client.complete(ASK, stage="s", use_cache=False).text == "fresh"
    assert client.complete(ASK, stage="s").text == "first"  # the bypass stored nothing
    assert fake_llm.count == 2


def test_settings_cache_false_never_stores(fake_settings: Settings, fake_llm: FakeLLM) -> None:
    client = LLMClient(fake_settings.model_copy(update={"cache": False}))
    fake_llm.enqueue("a", "b")
    client.complete(ASK, stage="s")
    assert client.complete(ASK, stage="s").text == "b"
    assert not (fake_settings.cache_dir / "responses.sqlite").exists()


def test_failed_answers_are_not_cached(client: LLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue(*[Reply(text="x", finish_reason="length")] * 4, Reply(status=401), "good")
    for _ in range(2):
        with pytest.raises((ModelOutputError, EndpointError)):
            client.complete(ASK, stage="s")
    assert client.complete(ASK, stage="s").text == "good"
    assert len(client.cache) == 1  # type: ignore[arg-type]


def test_continued_answer_is_cached_whole(client: LLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue(Reply(text="abc", finish_reason="length"), "def")
    client.complete(ASK, stage="s")
    hit = client.complete(ASK, stage="s")
    assert hit.cached and hit.text == "abcdef" and hit.finish_reason == "stop"
    assert fake_llm.count == 2


def test_corrupt_cache_file_does_not_stop_the_client(
    fake_settings: Settings, fake_llm: FakeLLM
) -> None:
    fake_settings.cache_dir.mkdir(parents=True)
    (fake_settings.cache_dir / "responses.sqlite").write_bytes(b"\x00garbage" * 500)
    client = LLMClient(fake_settings)
    fake_llm.enqueue("one", "two")
    assert client.complete(ASK, stage="s").text == "one"
    assert client.complete(ASK, stage="s").text == "two"


def test_an_endpoint_on_a_new_port_hits_the_cache_of_its_scope(fake_settings: Settings,
                                                               fake_llm: FakeLLM) -> None:
    # the bundled model listens on a new port every run; its cache scope stays the same
    fake_llm.enqueue("one answer")
    scoped = fake_settings.model_copy(update={"cache_scope": "bundled:local-model"})
    LLMClient(scoped).complete([{"role": "user", "content": "hi"}], stage="s")
    moved = scoped.model_copy(update={"base_url": fake_llm.url.replace("127.0.0.1", "localhost")})
    again = LLMClient(moved).complete([{"role": "user", "content": "hi"}], stage="s")
    assert again.text == "one answer" and fake_llm.count == 1
