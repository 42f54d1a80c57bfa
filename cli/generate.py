"""main.py generate PROJECT_OR_RUN --prompt TEXT: continue a prompt, greedy, beam or sampled."""

import json
import sys

from workbench.cli import Command, numbers


def _arguments(parser) -> None:
    parser.add_argument("source", metavar="PROJECT_OR_RUN", help="project file with weights, or run folder")
    prompt = parser.add_mutually_exclusive_group(required=True)
    prompt.add_argument("--prompt", help="text, encoded with the project's tokenizer (an encoder-decoder's source)")
    prompt.add_argument("--token-ids", help="comma-separated token ids instead of text")
    parser.add_argument("--strategy", choices=("greedy", "beam", "sample"), default="greedy")
    parser.add_argument("--num-beams", type=int, default=4, help="beam: hypotheses kept per step")
    parser.add_argument("--top-k", type=int, default=0, help="sample: only the k likeliest tokens (0: all)")
    parser.add_argument("--top-p", type=float, default=1.0, help="sample: only the nucleus of probability p")
    parser.add_argument("--temperature", type=float, default=1.0, help="sample: below 1 sharper, above 1 flatter")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--seed", type=int, help="sample: the same seed draws the same tokens")
    parser.add_argument("--stop-ids", help="comma-separated token ids that end the text (default: the tokenizer's "
                        "end-of-sequence token, as in the window; '' for none)")
    parser.add_argument("--start-id", type=int, help="encoder-decoder: the decoder's first token (default: the "
                                                     "tokenizer's BOS, else 0)")
    parser.add_argument("--no-cache", action="store_true", help="re-read every token at every step (no KV cache)")
    parser.add_argument("--json", action="store_true", help="print the token ids (and text) as JSON")


def _generate(args) -> int:
    from workbench.core.decoding import GenerationConfig, decoding_tokens, generate, load_generation_model

    compiled, tokenizer = load_generation_model(args.source)
    start, stop = decoding_tokens(compiled, tokenizer)
    if args.stop_ids is not None:
        stop = tuple(numbers(args.stop_ids, "stop-ids"))
    ids = numbers(args.token_ids, "token-ids") if args.token_ids is not None else tokenizer.encode(args.prompt)
    config = GenerationConfig(strategy=args.strategy, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                              top_k=args.top_k, top_p=args.top_p, num_beams=args.num_beams, seed=args.seed,
                              stop_tokens=stop, use_cache=not args.no_cache)
    result = (generate(compiled, [args.start_id if args.start_id is not None else start], config, source=ids)
              if start is not None else generate(compiled, ids, config))
    text = tokenizer.decode(result.tokens) if result.tokens else ""
    if args.json:
        print(json.dumps({**result.to_dict(), "text": text}))
        return 0
    print(text)
    print(f"[{len(result.tokens)} tokens, {result.finish_reason}, {result.tokens_per_s:,.1f} tokens/s, "
          f"{'KV cache ' + format(result.cache_bytes, ',') + ' bytes' if config.use_cache else 'no cache'}]",
          file=sys.stderr)
    return 0


COMMANDS = (Command("generate", "continue a prompt with a project's weights or a run's latest checkpoint",
                    _arguments, _generate),)
