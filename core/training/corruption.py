"""How pre-training objectives corrupt text, one sequence at a time, as plain functions of a seeded
generator so tests can check each rule exactly.

    mask_tokens       BERT: choose 15 % of the tokens; of those, 80 % become [MASK], 10 % a random
                      token, 10 % stay; predict the originals of the chosen ones
    infilling_spans   BART: spans with Poisson(3) lengths cover a share of the text; `infill`
                      replaces each span, even an empty one, with a single [MASK]
    noise_spans       T5: a fixed number of spans of mean length 3 cover 15 % of the text;
                      `span_corrupt` puts a sentinel where each span was and asks for
                      sentinel + span, sentinel + span, ...

Token lists are Python lists of ids; a batch is B of them.
"""

import torch


def mask_tokens(tokens: torch.Tensor, probability: float, *, mask_id: int, special_ids: torch.Tensor,
                ordinary_ids: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masked-LM corruption (Devlin et al. 2019, section 3.1 and appendix A.1) of tokens (B, T).

    Each token that is not special is chosen with `probability`. A chosen token is replaced by [MASK]
    80 % of the time, by a random ordinary token 10 % of the time (which may be itself, as in BERT),
    and kept 10 % of the time, so the model cannot tell which visible tokens it will be asked about.
    Returns the corrupted inputs and the targets: the original id where chosen, -1 elsewhere.
    """
    chosen = (torch.rand(tokens.shape, generator=generator) < probability) & ~torch.isin(tokens, special_ids)
    fate = torch.rand(tokens.shape, generator=generator)
    inputs = tokens.masked_fill(chosen & (fate < 0.8), mask_id)
    randomised = chosen & (fate >= 0.8) & (fate < 0.9)
    picks = torch.randint(len(ordinary_ids), (int(randomised.sum()),), generator=generator)
    inputs[randomised] = ordinary_ids[picks]
    return inputs, tokens.masked_fill(~chosen, -1)


def infilling_spans(length: int, density: float, mean_span: float,
                    generator: torch.Generator) -> list[tuple[int, int]]:
    """BART's text infilling (Lewis et al. 2020, section 2.2): (start, length) spans, in order, that
    cover round(length · density) tokens. Span lengths are drawn from Poisson(mean_span) until they
    cover that many, the last one cut to fit; a length of 0 inserts a [MASK] where nothing was
    removed. Spans never touch: at least one kept token lies between two of them. Should there be
    more spans than hidden tokens, empty spans are dropped, so the corrupted text is never longer
    than the original and still fits the encoder (a rare case unless the text is short)."""
    noise = round(length * density)
    lengths: list[int] = []
    while sum(lengths) < noise:
        lengths.append(int(torch.poisson(torch.tensor([mean_span]), generator=generator)))
    if lengths:
        lengths[-1] -= sum(lengths) - noise
    while len(lengths) > noise:
        lengths.remove(0)
    kept = length - noise
    if len(lengths) > kept + 1:
        raise ValueError(f"{len(lengths)} spans do not fit between {kept} kept tokens")
    # A span sits after `cut` kept tokens; distinct cuts keep spans apart.
    cuts = sorted(torch.randperm(kept + 1, generator=generator)[: len(lengths)].tolist())
    return [(cut + sum(lengths[:i]), span) for i, (cut, span) in enumerate(zip(cuts, lengths, strict=True))]


def infill(tokens: list[int], spans: list[tuple[int, int]], mask_id: int) -> list[int]:
    """The tokens with each span replaced by one [MASK]."""
    out, position = [], 0
    for start, length in spans:
        out += tokens[position:start] + [mask_id]
        position = start + length
    return out + tokens[position:]


def noise_span_count(length: int, density: float, mean_span: float) -> tuple[int, int]:
    """How many tokens T5 corrupts and in how many spans: fixed by the length, so every sequence of a
    batch corrupts to the same input and target lengths and needs no padding."""
    noise = min(max(round(length * density), 1), length - 1)
    return noise, max(round(noise / mean_span), 1)


def noise_spans(length: int, density: float, mean_span: float, generator: torch.Generator) -> list[tuple[int, int]]:
    """T5's span corruption mask (Raffel et al. 2020, section 3.3.4; random_spans_noise_mask in their
    code): noise_span_count() tokens in that many spans, the span lengths and the gaps between them
    each a random split into positive parts; the sequence starts with a gap and ends with a span.
    Returns (start, length) spans in order."""
    noise, count = noise_span_count(length, density, mean_span)
    if count > length - noise:
        raise ValueError(f"{count} spans need {count} gaps, but only {length - noise} tokens are kept")
    spans, position = [], 0
    gaps, lengths = _split(length - noise, count, generator), _split(noise, count, generator)
    for gap, span in zip(gaps, lengths, strict=True):
        position += gap
        spans.append((position, span))
        position += span
    return spans


def _split(total: int, parts: int, generator: torch.Generator) -> list[int]:
    """`total` as `parts` positive lengths, every such split equally likely."""
    cuts = sorted((torch.randperm(total - 1, generator=generator)[: parts - 1] + 1).tolist())
    return [end - start for start, end in zip([0, *cuts], [*cuts, total], strict=True)]


def span_corrupt(tokens: list[int], spans: list[tuple[int, int]], sentinels: list[int],
                 eos: int) -> tuple[list[int], list[int]]:
    """T5's inputs and targets: the inputs keep the text with the i-th span replaced by the i-th
    sentinel; the targets list each sentinel followed by the span it hides; both end with EOS."""
    inputs, targets, position = [], [], 0
    for sentinel, (start, length) in zip(sentinels[: len(spans)], spans, strict=True):
        inputs += tokens[position:start] + [sentinel]
        targets += [sentinel] + tokens[start:start + length]
        position = start + length
    return inputs + tokens[position:] + [eos], targets + [eos]
