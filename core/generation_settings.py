"""How to generate, declared once (issue #17): the settings `core.decoding.generate` reads.

The Generate panel's controls and the `generate` command's options take their defaults, ranges and
help from these fields, so the window and the terminal start from the same values. This module
imports no torch, so `main.py --help` can build the options from it at once.
"""

from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Mapping

from workbench.core.settings import SettingError, check_value, param, parse_settings, settings_of
from workbench.core.settings_versions import stamped, upgrade

STRATEGIES = ("greedy", "beam", "sample")
# Where the Generate panel's top-k and top-p strategies start: the declared defaults (0 and 1) switch
# them off, which is what plain sampling wants. k = 10 and p = 0.9 are the values Holtzman et al. 2020
# compare against.
TOP_K_START = 10
TOP_P_START = 0.9


@dataclass(frozen=True)
class GenerationConfig:
    """How to generate, declared once (core.settings): the Generate panel's controls and the CLI's
    `generate` options, their defaults and ranges, are read from these fields."""

    version: ClassVar[int] = 1  # of its JSON shape; older files are upgraded by `migrations` (core/settings_versions.py)
    migrations: ClassVar[dict] = {}  # version N: a function from N's dict to N + 1's
    strategy: str = param("greedy", choices=STRATEGIES, help="greedy, beam or sample")
    max_new_tokens: int = param(100, min=1, units="tokens", help="tokens after the prompt; fewer when a stop "
                                "token comes or the context fills")
    temperature: float = param(1.0, above=0, help="sample: logits / T; below 1 sharpens the distribution, above 1 "
                               "flattens it")
    top_k: int = param(0, min=0, help="sample: draw from the k likeliest tokens only; 0 keeps all")
    top_p: float = param(1.0, above=0, max=1, help="sample: from the fewest likeliest tokens whose probability "
                         "reaches p (Holtzman et al. 2020)")
    repetition_penalty: float = param(1.0, above=0, help="logits of tokens already present ÷ this (× when "
                                      "negative), Keskar et al. 2019")
    num_beams: int = param(4, min=1, help="beam: hypotheses kept at every step")
    length_penalty: float = param(1.0, help="beam: a finished hypothesis scores sum of log-probs / length ** this")
    early_stopping: bool = param(False, help="beam: stop as soon as num_beams hypotheses have finished")
    num_return: int = param(1, min=1, help="beam: the n best finished hypotheses to return")
    stop_tokens: tuple[int, ...] = param((), kind=tuple, help="a sequence ends with the first of these it "
                                         "generates")
    seed: int | None = param(None, kind=int, help="sample: the same seed draws the same tokens")
    use_cache: bool = param(True, help="keep keys and values between steps (core.kv_cache)")
    candidates: int = param(5, min=1, help="step records list this many likeliest tokens")
    record_attention: bool = param(False, help="step records also hold that step's attention weights (needs the "
                                   "cache)")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str = "generation settings") -> "GenerationConfig":
        """Settings saved as JSON (a lab's measure, a file of any earlier version), each value checked."""
        return cls(**parse_settings(cls, upgrade(cls, raw, where), f"{where}: "))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["stop_tokens"] = list(self.stop_tokens)
        return stamped(GenerationConfig, data)

    def check(self, vocab_size: int) -> None:
        """Every value against its declaration, then the limits that depend on the model."""
        from workbench.core.kv_cache import GenerationError  # torch; only a generation checks
        for setting in settings_of(GenerationConfig):
            try:
                check_value("", setting, getattr(self, setting.name))
            except SettingError as exc:
                raise GenerationError(str(exc)) from None
        if not 1 <= self.num_beams <= vocab_size:
            raise GenerationError(f"num_beams must be between 1 and the vocabulary size {vocab_size}, "
                                  f"got {self.num_beams}")
        if not 1 <= self.num_return <= self.num_beams:
            raise GenerationError(f"num_return must be between 1 and num_beams ({self.num_beams}), "
                                  f"got {self.num_return}")
        outside = [t for t in self.stop_tokens if not 0 <= t < vocab_size]
        if outside:
            raise GenerationError(f"stop token {outside[0]} is outside the vocabulary (0 … {vocab_size - 1})")
        if self.record_attention and (self.strategy == "beam" or not self.use_cache):
            raise GenerationError("attention records follow one sequence through the cache: use greedy or "
                                  "sample with the cache on")
