"""The settings reference, `docs/settings.md`, made from `Settings` and its docstrings.

    python -m healer.settings_doc > docs/settings.md
"""

from __future__ import annotations

import json

from pydantic_core import PydanticUndefined

from healer.config import ENV_VARS, Settings

# defaults computed on the machine, said in words
SHOWN_DEFAULTS = {"cache_dir": "`$HEALER_CACHE_DIR`, else `~/.cache/healer`",
                  "local_threads": "the machine's cores", "checks": "none"}
INTRO = """# Settings

Every setting can be given in `healer.toml` beside the spec (or `[tool.healer]` in
`pyproject.toml`), as an environment variable, or, for some, as a flag; flags beat the
environment, which beats files. A folder handed to `healer check`, `healer debug` or
`healer prompt` is not trusted: its settings may add checks, choose an edit format you left
open and tighten `check_timeout`, `cpus` and `memory_limit`; nothing else (not the endpoint,
the key or the sandbox).

This page is made from `healer/config.py` (`python -m healer.settings_doc`).
"""


def _default(name: str) -> str:
    if name in SHOWN_DEFAULTS:
        return SHOWN_DEFAULTS[name]
    value = Settings.model_fields[name].default
    if value is PydanticUndefined or value is None:
        return "-"
    return f"`{json.dumps(value)}`" if not isinstance(value, str) else f'`"{value}"`'


def reference() -> str:
    rows = ["| setting | environment | default | what it is |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        env = ENV_VARS.get(name, f"HEALER_{name.upper()}")
        text = " ".join((field.description or "").split()).replace("|", "\\|")
        rows.append(f"| `{name}` | `{env}` | {_default(name)} | {text} |")
    return INTRO + "\n" + "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
