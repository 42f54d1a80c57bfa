"""Published cleaning pipelines as presets: which steps each turns on, with the papers' thresholds.

    gopher      Rae et al. 2021 (Gopher, appendix A.1.1, table A1): word counts, quality and repetition
                rules, then exact and MinHash deduplication (Broder 1997)
    c4          Raffel et al. 2020 (T5, section 2.2): line cleaning, page rules and bad words, repeated
                lines removed, exact duplicates removed
    refinedweb  Penedo et al. 2023 (RefinedWeb, section 3 and appendix G.2): the Gopher-style document
                rules, MacroData Refinement's line-wise corrections, then exact and MinHash deduplication

A preset is a PipelineConfig; the project keeps the one it started from (config.preset) and any rule
the user turned on or off after, so the Data panel can say "c4, edited". The thresholds themselves are
the dataclasses' defaults in pipeline_config.py, each with its source.
"""

import dataclasses

from workbench.core.data.pipeline_config import DataError, PipelineConfig

# Per step: what it does and where it comes from, shown beside its switch in the Data panel.
CITATIONS = {
    "length": "Word count 50–100,000 — Rae et al. 2021 (Gopher), appendix A.1.1",
    "c4": "Terminal punctuation, ≥ 5 words a line, ≥ 3 sentences, bad words, javascript, lorem ipsum, "
          "curly brace — Raffel et al. 2020 (C4), section 2.2",
    "refinedweb_lines": "Upper-case, numeric, counter, one-word and boilerplate lines; page goes past 5 % "
                        "— Penedo et al. 2023 (RefinedWeb), appendix G.2",
    "line_dedup": "Lines repeated from earlier pages — after Raffel et al. 2020 (C4), section 2.2",
    "quality": "Symbols, bullets, ellipses, mean word length, alphabetic words, stop words — "
               "Rae et al. 2021 (Gopher), table A1",
    "repetition": "Duplicate lines, paragraphs and n-grams — Rae et al. 2021 (Gopher), table A1",
    "exact_dedup": "Identical documents, by hash",
    "near_dedup": "MinHash LSH on 5-word shingles, Jaccard ≥ 0.8 — Broder 1997; Lee et al. 2022",
}
STEP_SECTIONS = tuple(CITATIONS)  # the steps a preset switches, in pipeline order


def _enabled(*steps: str) -> dict:
    return {step: {"enabled": step in steps} for step in STEP_SECTIONS}


PRESETS: dict[str, PipelineConfig] = {
    "gopher": PipelineConfig.from_dict({"preset": "gopher", **_enabled(
        "length", "quality", "repetition", "exact_dedup", "near_dedup")}),
    "c4": PipelineConfig.from_dict({"preset": "c4", **_enabled("c4", "line_dedup", "exact_dedup")}),
    "refinedweb": PipelineConfig.from_dict({"preset": "refinedweb", **_enabled(
        "length", "refinedweb_lines", "quality", "repetition", "exact_dedup", "near_dedup")}),
}


def preset(name: str, base: PipelineConfig | None = None) -> PipelineConfig:
    """The preset `name`, keeping `base`'s read settings (the corpus's format is not the preset's business)."""
    if name not in PRESETS:
        raise DataError(f"no pipeline preset {name!r}; choose one of {', '.join(PRESETS)}")
    chosen = PRESETS[name]
    return dataclasses.replace(chosen, read=base.read) if base is not None else chosen


def describe(config: PipelineConfig) -> str:
    """"gopher", "c4, edited" (a rule changed since the preset was chosen) or "custom"."""
    if config.preset not in PRESETS:
        return "custom"
    edited = dataclasses.replace(config, read=PRESETS[config.preset].read) != PRESETS[config.preset]
    return f"{config.preset}, edited" if edited else config.preset
