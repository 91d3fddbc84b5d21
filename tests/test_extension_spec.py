"""The Stubs/Smoke spec syntax and the default stub answers (no browser)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from healer.checks.extension import SmokeStep, Stub, parse_extension_spec
from healer.checks.extension.spec import parse_step, stub_from_value
from healer.checks.extension.stubs import STUB_ANSWER, choose_response
from healer.errors import SpecError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "chrome-extension" / "spec.md"

SPEC = """# Something

## Behaviour
- `https://not-a-stub.example/*` -> `ignored, not in a Stubs section`

## Stubs
- `POST https://api.example.com/v1/*` 201
  ```json
  {"answer": "stubbed"}
  ```
- `https://cdn.example.com/*.txt` -> `plain text body`
- `https://status.example.com/*` status 503 -> `{"error": "down"}`

## Smoke tests
1. type `#prompt` `Hello there`
2. click `button.primary`
3. expect `#answer` `stubbed`
4. expect `#done`
5. wait `250`
"""


def test_stubs_section_parses_fenced_and_inline_bodies() -> None:
    spec = parse_extension_spec(SPEC)
    assert [s.pattern for s in spec.stubs] == [
        "https://api.example.com/v1/*",
        "https://cdn.example.com/*.txt",
        "https://status.example.com/*",
    ]
    api, text, status = spec.stubs
    assert (api.method, api.status, api.content_type) == ("POST", 201, "application/json")
    assert json.loads(api.body) == {"answer": "stubbed"}
    assert (text.body, text.content_type, text.status) == ("plain text body", "text/plain", 200)
    assert (status.status, status.content_type) == (503, "application/json")


def test_smoke_section_parses_steps_in_order() -> None:
    steps = parse_extension_spec(SPEC).smoke
    assert steps == [
        SmokeStep(action="type", selector="#prompt", text="Hello there"),
        SmokeStep(action="click", selector="button.primary"),
        SmokeStep(action="expect", selector="#answer", text="stubbed"),
        SmokeStep(action="expect", selector="#done"),
        SmokeStep(action="wait", text="250"),
    ]


def test_a_spec_without_sections_declares_nothing() -> None:
    spec = parse_extension_spec("# Title\n\nJust prose.\n")
    assert spec.stubs == [] and spec.smoke == []


@pytest.mark.parametrize(
    "bad",
    [
        "## Smoke\n- hover `#x`\n",
        "## Smoke\n- type `#only-selector`\n",
        "## Smoke\n- wait `soon`\n",
        "## Stubs\n- `https://x.example/*`\n",
    ],
)
def test_malformed_sections_raise_spec_errors_with_the_line(bad: str) -> None:
    with pytest.raises(SpecError, match="line 2"):
        parse_extension_spec(bad)


def test_steps_also_parse_without_backticks() -> None:
    assert parse_step("click #go") == SmokeStep(action="click", selector="#go")
    assert parse_step("type #q hello world") == SmokeStep(
        action="type", selector="#q", text="hello world"
    )


def test_the_example_spec_declares_a_chat_stub_and_smoke_steps() -> None:
    spec = parse_extension_spec(EXAMPLE.read_text())
    (stub,) = spec.stubs
    assert stub.matches("POST", "https://api.openai.com/v1/chat/completions")
    assert not stub.matches("GET", "https://api.openai.com/v1/chat/completions")
    answer = json.loads(stub.body)["choices"][0]["message"]["content"]
    assert [s.action for s in spec.smoke] == ["expect", "type", "click", "expect"]
    assert spec.smoke[-1].text in answer


def test_declared_stubs_win_over_defaults() -> None:
    stubs = [stub_from_value("POST https://api.openai.com/*", {"custom": True})]
    answer = choose_response("POST", "https://api.openai.com/v1/chat/completions", "{}", stubs)
    assert json.loads(answer.body) == {"custom": True}
    assert answer.source == "https://api.openai.com/*"


def test_default_chat_completion_is_a_valid_openai_answer() -> None:
    answer = choose_response("POST", "http://localhost:1234/v1/chat/completions", "{}", [])
    data = json.loads(answer.body)
    assert data["choices"][0]["message"]["content"] == STUB_ANSWER
    assert answer.headers["access-control-allow-origin"] == "*"


def test_streamed_chat_completion_default_is_server_sent_events() -> None:
    body = json.dumps({"stream": True, "messages": []})
    answer = choose_response("POST", "https://api.openai.com/v1/chat/completions", body, [])
    assert answer.content_type == "text/event-stream"
    assert answer.body.rstrip().endswith("data: [DONE]") and STUB_ANSWER in answer.body


def test_other_requests_get_an_empty_json_object() -> None:
    answer = choose_response("GET", "https://example.org/data", None, [])
    assert (answer.status, answer.body) == (200, "{}")
    assert choose_response("OPTIONS", "https://example.org/x", None, []).status == 204


def test_stub_values_may_be_text_json_or_stubs() -> None:
    assert stub_from_value("https://x/*", "hi").content_type == "text/plain"
    assert stub_from_value("https://x/*", [1, 2]).body == "[1, 2]"
    ready = Stub(pattern="https://x/*", status=404)
    assert stub_from_value("ignored", ready) is ready
