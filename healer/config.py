"""Settings, resolved as: command-line flags beat environment variables beat files.

Files: `healer.toml` (top-level keys) or the `[tool.healer]` table of `pyproject.toml`, both
looked up in the spec's folder. Keys match the field names below (`model`, `base_url`, ...).
Environment: HEALER_MODEL, OPENAI_BASE_URL, OPENAI_API_KEY, and HEALER_<FIELD> for any other
field (for example HEALER_LOCAL_THREADS=1).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from healer.errors import ConfigError

ENV_VARS = {
    "model": "HEALER_MODEL",
    "base_url": "OPENAI_BASE_URL",
    "api_key": "OPENAI_API_KEY",
}


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("HEALER_CACHE_DIR", Path(base) / "healer"))


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # LLM endpoint; none configured means the bundled local model
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    concurrency: int = Field(8, ge=1, le=256)
    request_timeout: float = Field(600.0, gt=0)
    max_retries: int = Field(5, ge=0)
    temperature: float = Field(0.2, ge=0, le=2)
    max_tokens: int = Field(4096, ge=16)
    cache: bool = True
    cache_dir: Path = Field(default_factory=default_cache_dir)
    # what names the endpoint in the response cache; default its base_url (the bundled model
    # is named by its weights and settings, since it listens on a new port every run)
    cache_scope: str | None = None

    # sandbox and checks
    sandbox: Literal["docker", "bwrap", "unsafe-local"] = "docker"
    checks: list[str] = Field(default_factory=list)
    check_timeout: float = Field(120.0, gt=0)
    memory_limit: str = "1g"
    cpus: float = Field(1.0, gt=0)

    # local model
    local_ctx: int = Field(8192, ge=512)
    local_threads: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1), ge=1)
    local_repeat_penalty: float = Field(1.1, gt=0)

    context_tokens: int = Field(60_000, ge=1000)  # codebase shown to the debugger
    edit_format: Literal["auto", "search-replace", "whole-file"] = "auto"

    # dollars per million tokens, for a model without a known list price (--max-cost needs one)
    price_input_per_mtok: float | None = Field(None, ge=0)
    price_output_per_mtok: float | None = Field(None, ge=0)

    @property
    def prices(self) -> tuple[float | None, float | None]:
        return self.price_input_per_mtok, self.price_output_per_mtok

    @property
    def uses_local_model(self) -> bool:
        return not self.base_url

    def context_budget(self) -> int:
        """Tokens of codebase the debugger may see, leaving room for the rest of the prompt."""
        if self.uses_local_model or (self.model or "").startswith("local"):
            return max(1000, min(self.context_tokens, self.local_ctx - self.max_tokens - 2000))
        return self.context_tokens


def _read_file_settings(folder: Path) -> dict[str, Any]:
    healer_toml = folder / "healer.toml"
    pyproject = folder / "pyproject.toml"
    try:
        if healer_toml.is_file():
            return tomllib.loads(healer_toml.read_text())
        if pyproject.is_file():
            return tomllib.loads(pyproject.read_text()).get("tool", {}).get("healer", {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot parse settings in {folder}: {exc}") from exc
    return {}


def _read_env() -> dict[str, Any]:
    """The well-known variables, and `HEALER_<SETTING>` for any setting (HEALER_LOCAL_THREADS)."""
    found = {key: os.environ[var] for key, var in ENV_VARS.items() if os.environ.get(var)}
    for name in Settings.model_fields:
        value = os.environ.get(f"HEALER_{name.upper()}")
        if value and name not in found and name not in ("checks", "api_key"):
            found[name] = value
    return found


def load_settings(folder: Path | None = None, **flags: Any) -> Settings:
    """Merge files, then environment, then flags (flags set to None are ignored)."""
    merged: dict[str, Any] = {}
    if folder is not None:
        merged.update(_read_file_settings(folder))
    merged.update(_read_env())
    merged.update({k: v for k, v in flags.items() if v is not None})
    merged = {k.replace("-", "_"): v for k, v in merged.items()}
    try:
        return Settings(**merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
