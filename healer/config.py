"""Settings, resolved as: command-line flags beat environment variables beat files.

Files: `healer.toml` (top-level keys) or the `[tool.healer]` table of `pyproject.toml`, both
looked up in the spec's folder. Keys match the field names below (`model`, `base_url`, ...).
Environment: HEALER_MODEL, OPENAI_BASE_URL, OPENAI_API_KEY, and HEALER_<FIELD> for any other
field (for example HEALER_LOCAL_THREADS=1).

A key without a base URL means OpenAI's endpoint (the openai SDK's convention); the bundled
model runs only when neither is set.

A folder that is checked or debugged (`healer check DIR`, `healer debug -d DIR`, `healer
prompt DIR`) is untrusted: its own settings may add checks and choose an edit format, and may
tighten the sandbox's limits, never loosen them; the endpoint, key, backend and everything
else come from the user (flags, environment, the current folder).
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from healer.errors import ConfigError

log = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"
MIN_MEMORY = 64 * 2**20
UNTRUSTED_TIGHTEN = ("check_timeout", "cpus", "memory_limit")  # a checked folder may lower
ENV_VARS = {
    "model": "HEALER_MODEL",
    "base_url": "OPENAI_BASE_URL",
    "api_key": "OPENAI_API_KEY",
}


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("HEALER_CACHE_DIR", Path(base) / "healer"))


def _registered(registry, name: str) -> str:
    if name not in registry:
        raise ValueError(f"{name!r} is not one of {', '.join(registry.names())}")
    return name


class Settings(BaseModel):
    """Every setting; `docs/settings.md` is made from the docstrings below
    (`python -m healer.settings_doc`)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    # LLM endpoint; none configured means the bundled local model
    model: str | None = None
    """Model name the endpoint serves (`--model`); the bundled model's when no endpoint is set."""
    base_url: str | None = None
    """An OpenAI-compatible endpoint, ending in `/v1` (`--base-url`). A key alone means
    OpenAI's; neither means the bundled local model."""
    api_key: str | None = None
    """The endpoint's key (`--api-key`). Never taken from a folder being checked or debugged."""
    concurrency: int = Field(8, ge=1, le=256)
    """Model calls in flight at once (the bundled model: 1 unless set)."""
    request_timeout: float = Field(600.0, gt=0)
    """Seconds one model call may take, its whole streamed answer included."""
    max_retries: int = Field(5, ge=0)
    """Retries of a call that failed for a transient reason (429, 5xx, a dropped connection)."""
    temperature: float = Field(0.2, ge=0, le=2)
    """Sampling temperature of a single build; candidates and fresh samples go hotter."""
    max_tokens: int = Field(4096, ge=16)
    """Tokens one answer may have; a cut-off answer is continued up to three times."""
    stream: bool = True
    """Stream answers: live token counts, and an answer that loops is stopped early."""
    cache: bool = True
    """Keep answers in a response cache, so an identical re-run makes no model call."""
    cache_dir: Path = Field(default_factory=default_cache_dir)
    """Where the response cache, the bundled model's weights and server logs live."""
    cache_scope: str | None = None
    """What names the endpoint in the response cache (default: its base URL; the bundled model
    is named by its weights and settings, as it listens on a new port every run)."""
    model_server: Literal["other", "llama.cpp"] = "other"
    """What serves the model: `llama.cpp` continues cut-off answers by prefill and reports its
    prompt cache per token. The bundled model sets it."""
    context_window: int | None = Field(None, ge=2048)
    """The model's context in tokens, when it is smaller than healer's prompts; the codebase
    shown is cut to fit. The bundled model sets it."""
    small_model: bool = False
    """A small model: asked for whole files where the files to rewrite are small. The bundled
    model sets it."""

    # sandbox and checks
    sandbox: str = "docker"
    """Where project code runs: `docker`, `bwrap`, `unsafe-local`, or a backend a plugin
    registers. `bwrap` and `unsafe-local` are weaker and only run when chosen."""
    sandbox_hosts: list[str] = Field(default_factory=list)
    """Docker engines to spread checks over (`tcp://...`, `ssh://...`; commas between them in
    HEALER_SANDBOX_HOSTS); empty: the one of DOCKER_HOST or the current Docker context."""
    checks: list[str] = Field(default_factory=list)
    """Extra commands that must succeed in the sandbox, beside the spec's `## Checks`."""
    check_timeout: float = Field(120.0, gt=0)
    """Seconds one sandboxed command may run."""
    memory_limit: str = "1g"
    """Memory of one sandboxed command (`512m`, `2g`; at least 64m)."""
    cpus: float = Field(1.0, gt=0)
    """CPUs of one sandboxed command."""

    # local model
    local_ctx: int = Field(8192, ge=512)
    """The bundled model's context per slot, in tokens."""
    local_threads: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1), ge=1)
    """CPU threads of the bundled model's server (default: all cores)."""
    local_repeat_penalty: float = Field(1.1, gt=0)
    """The bundled model's repeat penalty (at 1.0 it loops on longer specs)."""
    local_speculative: Literal["none", "ngram-simple", "ngram-map-k", "ngram-mod"] = "ngram-map-k"
    """Draft-free speculative decoding of the bundled model (faster rewrites of a file)."""

    candidates: int = Field(1, ge=1, le=16)
    """Candidates per round (`--candidates`), each on its own branch; the tests choose."""
    combine: bool = False
    """With two candidates or more: when a version of the build passes acceptance tests the
    best one fails, one candidate of the repair round merges the two (healer/strategies/
    combine.py; measured in benchmarks/results/combine-ab)."""
    plan: Literal["auto", "short", "always"] = "auto"
    """`auto`: no plan call for a spec that names its one file, whose stub and tests already
    say what a plan would (benchmarks/results/plan-none-ab: 8 green against 6 for `short`, a
    third less time); `short`: for such a spec, a plan of that file's interfaces and
    dependencies only (benchmarks/results/plan-short-ab); `always`: the whole plan for every
    project."""
    context_tokens: int = Field(60_000, ge=1000)
    """Tokens of codebase the debugger may see; ranked by the failures when it does not fit."""
    edit_format: str = "auto"
    """How repairs are written: `search-replace`, `whole-file`, or a format a plugin registers;
    `auto`: whole files for a small model on small files, else search/replace."""

    price_input_per_mtok: float | None = Field(None, ge=0)
    """Dollars per million prompt tokens, for a model without a known list price
    (`--max-cost` needs one)."""
    price_output_per_mtok: float | None = Field(None, ge=0)
    """Dollars per million answer tokens, for a model without a known list price."""

    @property
    def prices(self) -> tuple[float | None, float | None]:
        return self.price_input_per_mtok, self.price_output_per_mtok

    @field_validator("memory_limit")
    @classmethod
    def _memory(cls, value: str) -> str:
        size = parse_memory(value)
        if size < MIN_MEMORY:
            raise ValueError(f"{value!r} is below the least a sandbox needs (64m)")
        return value

    @field_validator("sandbox")
    @classmethod
    def _backend(cls, value: str) -> str:
        from healer.sandbox import BACKENDS

        return _registered(BACKENDS, value)

    @field_validator("edit_format")
    @classmethod
    def _format(cls, value: str) -> str:
        from healer.pipeline.formats import EDIT_FORMATS

        return value if value == "auto" else _registered(EDIT_FORMATS, value)

    @field_validator("sandbox_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: object) -> object:
        if isinstance(value, str):  # HEALER_SANDBOX_HOSTS=tcp://a:2376,ssh://b
            return [part for part in re.split(r"[,\s]+", value) if part]
        return value

    @field_validator("cpus")
    @classmethod
    def _cpus(cls, value: float) -> float:
        available = os.cpu_count() or 1
        if value > available:
            raise ValueError(f"{value} is more than the {available} CPUs of this machine")
        return value

    @property
    def uses_local_model(self) -> bool:
        return not self.base_url

    def context_budget(self) -> int:
        """Tokens of codebase the debugger may see, leaving room for the rest of the prompt."""
        window = self.local_ctx if self.uses_local_model else self.context_window
        if window is not None:
            return max(1000, min(self.context_tokens, window - self.max_tokens - 2000))
        return self.context_tokens


def _read_file_settings(folder: Path) -> dict[str, Any]:
    healer_toml = folder / "healer.toml"
    pyproject = folder / "pyproject.toml"
    try:
        if healer_toml.is_file():
            return tomllib.loads(healer_toml.read_text())
        if pyproject.is_file():
            found: Any = tomllib.loads(pyproject.read_text())
            for key in ("tool", "healer"):
                found = found.get(key, {}) if isinstance(found, dict) else None
            if not isinstance(found, dict):
                raise ConfigError(f"[tool.healer] in {pyproject} is not a table of settings")
            return found
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot parse settings in {folder}: {exc}") from exc
    return {}


def parse_memory(limit: str) -> int:
    """'512m', '1g', '1048576' -> bytes; ValueError for anything else."""
    units = {"k": 2**10, "m": 2**20, "g": 2**30}
    text = str(limit).strip().lower().rstrip("b")
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise ValueError(f"{limit!r} is not a size (say 512m or 2g)") from None


def _untrusted(found: dict[str, Any], folder: Path, trusted: dict[str, Any]) -> dict[str, Any]:
    """What a checked folder's own settings may change in the user's `trusted` ones: add
    checks, choose an edit format the user left open, tighten a limit (see the docstring)."""
    kept: dict[str, Any] = {}
    for key, value in found.items():
        name = key.replace("-", "_")
        field = Settings.model_fields.get(name)
        current = trusted.get(name, field.get_default(call_default_factory=True)
                              if field is not None else None)
        if name == "checks" and isinstance(value, list):
            kept[name] = [*(current or []), *value]
        elif name == "edit_format" and name not in trusted or name in UNTRUSTED_TIGHTEN and _tighter(name, value, current):
            kept[name] = value
        else:
            log.warning("ignoring %s from %s: a folder being checked cannot set it", name, folder)
    return kept


def _within(folder: Path, other: Path) -> bool:
    inner, outer = folder.resolve(), other.resolve()
    return inner == outer or outer in inner.parents


def _tighter(name: str, value: Any, default: Any) -> bool:
    try:
        if name == "memory_limit":
            return parse_memory(value) <= parse_memory(default)
        return float(value) <= float(default)
    except (TypeError, ValueError):
        return False


def _read_env() -> dict[str, Any]:
    """The well-known variables, and `HEALER_<SETTING>` for any setting (HEALER_LOCAL_THREADS)."""
    found = {key: os.environ[var] for key, var in ENV_VARS.items() if os.environ.get(var)}
    for name in Settings.model_fields:
        value = os.environ.get(f"HEALER_{name.upper()}")
        if value and name not in found and name not in ("checks", "api_key"):
            found[name] = value
    return found


def load_settings(folder: Path | None = None, *, untrusted: Path | None = None,
                  **flags: Any) -> Settings:
    """Merge files, then environment, then flags (flags set to None are ignored).

    `folder` holds the user's own settings (beside the spec); `untrusted` is a folder being
    checked or debugged, whose settings only add checks or tighten limits.
    """
    merged: dict[str, Any] = {}
    if folder is not None and untrusted is not None and _within(folder, untrusted):
        folder = None  # the current folder is the one being checked: not the user's settings
    if folder is not None:
        merged.update(_read_file_settings(folder))
    merged.update(_read_env())
    merged.update({k: v for k, v in flags.items() if v is not None})
    merged = {k.replace("-", "_"): v for k, v in merged.items()}
    if untrusted is not None:  # last, measured against what the user chose
        merged.update(_untrusted(_read_file_settings(untrusted), untrusted, merged))
    if merged.get("api_key") and not merged.get("base_url"):
        merged["base_url"] = OPENAI_URL  # a key alone means OpenAI's endpoint
    try:
        return Settings(**merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
