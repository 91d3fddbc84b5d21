"""Answers with a known useful length end there: the short plan, a rewrite of one file."""

from __future__ import annotations

from pathlib import Path

import pytest

from healer.config import Settings
from healer.errors import ModelOutputError
from healer.llm.client import LLMClient
from healer.models import Failure, Plan, Spec
from healer.pipeline.answer_size import rewrite_limit
from healer.pipeline.plan import SHORT_MAX_TOKENS, make_plan
from healer.pipeline.regenerate import regenerate_file
from tests.fakellm import FakeLLM, Reply

CODE = "def area(w, h):\n    return w + h\n" * 40


def test_a_short_plan_that_runs_on_ends_at_its_limit(fake_llm: FakeLLM,
                                                     fake_settings: Settings) -> None:
    on_and_on = "- `geo.py`: area(w, h) -> int\n" + "".join(f"- then step {i}\n" for i in range(150))
    fake_llm.enqueue(Reply(text=on_and_on, finish_reason="length"), "never asked for")
    plan = make_plan(LLMClient(fake_settings), Spec(text="Area."), short=True)
    assert plan.text == on_and_on.strip()
    assert fake_llm.count == 1 and fake_llm.requests[0]["max_tokens"] == SHORT_MAX_TOKENS


def test_a_rewrite_is_let_run_to_a_few_times_the_file_it_replaces(
        fake_llm: FakeLLM, fake_settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "geo.py").write_text(CODE)
    fixed = "```python\ndef area(w, h):\n    return w * h\n"
    on_and_on = "".join(f"# variant {i} of the same idea\n" for i in range(400))  # 3,000 tokens
    fake_llm.enqueue(Reply(text=fixed + on_and_on, finish_reason="length"), "never asked for")
    failure = Failure(check="pytest", file="geo.py", line=2, message="assert 5 == 6")
    with pytest.raises(ModelOutputError, match="stopped there"):  # a cut file is no file
        regenerate_file(LLMClient(fake_settings.model_copy(update={"max_tokens": 8192})),
                        tmp_path, Spec(text="Area."), Plan(text="plan"), "geo.py", [failure],
                        protected=[], budget_tokens=10_000)
    assert fake_llm.count == 1
    assert fake_llm.requests[0]["max_tokens"] == rewrite_limit(CODE) < 8192
    assert (tmp_path / "geo.py").read_text() == CODE


def test_a_whole_plan_ends_at_about_the_size_of_the_spec_it_would_restate(
        fake_llm: FakeLLM, fake_settings: Settings) -> None:
    from healer.pipeline.plan import PLAN_FLOOR, plan_limit

    spec = Spec(text="# Extension\n## Files\n" + "".join(
        f"- `f{i}.js`: does thing {i} with message `M{i}`\n" for i in range(200)))
    copied = "".join(f"- `f{i}.js`: does thing {i} with message `M{i}` (as the spec says)\n"
                     for i in range(400))
    fake_llm.enqueue(Reply(text=copied, finish_reason="length"), "never asked for")
    plan = make_plan(LLMClient(fake_settings.model_copy(update={"max_tokens": 8192})), spec)
    from healer.spec import prompt_text

    assert fake_llm.count == 1  # not continued
    assert PLAN_FLOOR < fake_llm.requests[0]["max_tokens"] == plan_limit(prompt_text(spec)) < 8192
    assert plan.text == copied.strip()  # the first part, as the plan
    assert plan_limit("short spec") == PLAN_FLOOR


LOCAL = {"context_window": 8192, "max_tokens": 4096}  # the bundled model's window per slot


def test_a_new_file_that_runs_on_is_sampled_once_more_with_another_seed(
        fake_llm: FakeLLM, fake_settings: Settings) -> None:
    from healer.models import FileList, PlannedFile
    from healer.pipeline.answer_size import new_file_limit
    from healer.pipeline.generate import Sampling, generate_file

    settings = fake_settings.model_copy(update=LOCAL)
    limit = new_file_limit(settings.context_budget())
    words = "".join(f"ONE_{i} = 'one hundred and {i}'\n" for i in range(1200))  # ~9,000 tokens
    fake_llm.enqueue(Reply(text="```python\n" + words, finish_reason="length"),
                     "```python\ndef say(n):\n    return str(n)\n```", "never asked for")
    files = FileList(files=[PlannedFile(path="say.py", purpose="say numbers")])
    made = generate_file(LLMClient(settings), Spec(text="Say."), Plan(text="plan"), files,
                         "say.py", sampling=Sampling(seed=3))
    assert made.content == "def say(n):\n    return str(n)\n"
    first, second = fake_llm.requests
    assert first["max_tokens"] == second["max_tokens"] == limit < 4096  # not continued
    assert (first["seed"], second["seed"]) == (3, 3 + 7919)


def test_a_new_file_that_runs_on_twice_is_what_the_second_sample_wrote(
        fake_llm: FakeLLM, fake_settings: Settings) -> None:
    from healer.models import FileList, PlannedFile
    from healer.pipeline.generate import generate_file

    on = "".join(f"X_{i} = {i}\n" for i in range(3000))
    fake_llm.enqueue(Reply(text=on, finish_reason="length"),
                     Reply(text="def f():\n    return 1\n" + on, finish_reason="length"),
                     "never asked for")
    files = FileList(files=[PlannedFile(path="f.py", purpose="f")])
    made = generate_file(LLMClient(fake_settings.model_copy(update=LOCAL)), Spec(text="F."),
                         Plan(text="plan"), files, "f.py")
    assert made.content.startswith("def f():\n") and fake_llm.count == 2


def test_a_hosted_models_new_file_is_continued_as_before(
        fake_llm: FakeLLM, fake_settings: Settings) -> None:
    from healer.models import FileList, PlannedFile
    from healer.pipeline.generate import generate_file

    fake_llm.enqueue(Reply(text="def f():\n", finish_reason="length"), "    return 1\n",
                     "never asked for")
    files = FileList(files=[PlannedFile(path="f.py", purpose="f")])
    made = generate_file(LLMClient(fake_settings), Spec(text="F."), Plan(text="plan"), files,
                         "f.py")
    assert made.content == "def f():\n    return 1\n" and fake_llm.count == 2


def test_a_new_file_is_not_sampled_again_where_the_same_or_no_answer_would_come(
        fake_llm: FakeLLM, fake_settings: Settings) -> None:
    from healer.models import FileList, PlannedFile
    from healer.pipeline.generate import Sampling, generate_file

    on = "def f():\n    return 1\n" + "".join(f"X_{i} = {i}\n" for i in range(3000))
    files = FileList(files=[PlannedFile(path="f.py", purpose="f")])
    cold = LLMClient(fake_settings.model_copy(update={**LOCAL, "temperature": 0.0}))
    fake_llm.enqueue(Reply(text=on, finish_reason="length"))
    made = generate_file(cold, Spec(text="F."), Plan(text="plan"), files, "f.py")
    assert made.content.startswith("def f():") and fake_llm.count == 1  # at 0: the same again
    warm = LLMClient(fake_settings.model_copy(update=LOCAL))

    class NearlySpent:  # the build's token budget leaves room for 8 tokens of answer
        def tokens(self, wanted: int) -> int:
            return min(wanted, 8)

        def seconds(self, wanted: float) -> float:
            return wanted

    warm.limits = NearlySpent()  # type: ignore[assignment]
    short = "def f():\n    return 1\nX = [1, 2, 3, 4, 5, 6, 7, 8,\n"  # cut by the build's budget, not the file's limit
    fake_llm.enqueue(Reply(text=short, finish_reason="length"), "never asked for")
    made = generate_file(warm, Spec(text="F."), Plan(text="plan"), files, "f.py",
                         sampling=Sampling(seed=1))
    assert made.content == short and fake_llm.count == 2
