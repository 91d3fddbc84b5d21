"""A scripted 'model' for pipeline tests: answers each healer prompt by what it asks for."""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from typing import Any

from tests.fakellm import Reply


class ProjectModel:
    """Answers plan, file-list, per-file, debug and regenerate prompts from fixed scripts.

    files: path -> content the generate stage returns (fenced, as models do);
    debug: queue of answers for debugger and change turns (SEARCH/REPLACE text);
    regenerate: path -> content for the stuck strategy;
    plan_changes: queue of answers to "update the plan for a change" (else NO CHANGE).
    """

    def __init__(self, files: dict[str, str], *, debug: list[str] | None = None,
                 regenerate: dict[str, str] | None = None, file_list: list[str] | None = None,
                 plan: str = "## Files\n- the files\n## Interfaces\n- as the spec says",
                 plan_changes: list[str] | None = None) -> None:
        self.files = files
        self.plan = plan
        self.file_list = deque(file_list or [])
        self.debug = deque(debug or [])
        self.regenerate = regenerate or {}
        self.plan_changes = deque(plan_changes or [])
        self.prompts: list[tuple[str, str]] = []  # (kind, user prompt)
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> str | Reply:
        messages = request["messages"]
        prompt = messages[-1]["content"]
        first_user = next(m["content"] for m in messages if m["role"] == "user")
        kind, answer = self._answer(first_user, prompt, len(messages))
        with self._lock:
            self.prompts.append((kind, prompt))
        return answer

    def kinds(self) -> list[str]:
        with self._lock:
            return [k for k, _ in self.prompts]

    def _answer(self, first: str, last: str, turns: int) -> tuple[str, str | Reply]:
        if "Do not write the code yet" in first:  # the plan, whole or short
            return "plan", self.plan
        if "List every file path" in first:
            if self.file_list:
                return "file_list", self.file_list.popleft()
            return "file_list", json.dumps({"files": [{"path": p, "purpose": "p"}
                                                      for p in self.files]})
        match = re.search(r"Write the file `([^`]+)` anew", first)
        if match:
            return "regenerate", f"```\n{self.regenerate[match.group(1)]}```"
        match = re.search(r"Write the complete content of the file `([^`]+)`", first)
        if match:
            return "generate", f"Here it is:\n```python\n{self.files[match.group(1)]}```\n"
        if first.startswith("# Shared plan of the project, as it is"):
            if self.plan_changes:
                return "plan_change", self.plan_changes.popleft()
            return "plan_change", "NO CHANGE"
        if "# Requested change" in first:
            if not self.debug:
                return "change", Reply(status=500, body={"error": {"message": "no script"}})
            return "change", self.debug.popleft()
        if "Find why the checks fail" in first or "A user reports this error" in first:
            if not self.debug:
                return "debug", Reply(status=500, body={"error": {"message": "no debug script"}})
            return "debug", self.debug.popleft()
        return "unknown", Reply(status=500, body={"error": {"message": f"unscripted: {first[:80]}"}})
