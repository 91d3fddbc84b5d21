"""What healer knows of the model behind an endpoint: from the settings, never from its name.

The bundled model's endpoint sets its own profile (llama.cpp, its context window, small, free);
for any other endpoint the user says what it is (`model_server`, `context_window`,
`small_model`, the prices), and what it refuses is learned by the client at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from healer.config import Settings


@dataclass(frozen=True)
class ModelProfile:
    llama_cpp: bool  # continues a prefilled answer, reports its prompt cache per token
    context_window: int | None  # tokens; None: larger than any prompt healer sends
    small: bool  # asked for whole files where the files to rewrite are small
    prices: tuple[float | None, float | None]  # dollars per million tokens in, out


def profile_of(settings: Settings) -> ModelProfile:
    if settings.uses_local_model:  # the bundled model, before its endpoint is opened
        return ModelProfile(llama_cpp=True, context_window=settings.local_ctx, small=True,
                            prices=(0.0, 0.0))
    return ModelProfile(llama_cpp=settings.model_server == "llama.cpp",
                        context_window=settings.context_window,
                        small=bool(settings.small_model), prices=settings.prices)


def bundled_profile(ctx_per_slot: int) -> dict[str, object]:
    """The settings that give the bundled model's endpoint its profile."""
    return {"model_server": "llama.cpp", "context_window": ctx_per_slot, "small_model": True,
            "price_input_per_mtok": 0.0, "price_output_per_mtok": 0.0}
