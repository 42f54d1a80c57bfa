"""main.py generate PROJECT_OR_RUN --prompt TEXT: continue a prompt, greedy, beam or sampled."""

import json
import sys

from workbench.cli import Command, add_setting_options, numbers, setting_values
from workbench.core.generation_settings import GenerationConfig
from workbench.core.settings import settings_of

# Options of this command's own: the stop and start tokens default to the tokenizer's, the cache is
# on unless --no-cache, and step records are the window's.
OWN = ("stop_tokens", "use_cache", "candidates", "record_attention")


def _arguments(parser) -> None:
    parser.add_argument("source", metavar="PROJECT_OR_RUN", help="project file with weights, or run folder")
    prompt = parser.add_mutually_exclusive_group(required=True)
    prompt.add_argument("--prompt", help="text, encoded with the project's tokenizer (an encoder-decoder's source)")
    prompt.add_argument("--token-ids", help="comma-separated token ids instead of text")
    add_setting_options(parser, settings_of(GenerationConfig), skip=OWN)  # --strategy, --max-new-tokens, ...
    parser.add_argument("--stop-ids", help="comma-separated token ids that end the text (default: the tokenizer's "
                        "end-of-sequence token, as in the window; '' for none)")
    parser.add_argument("--start-id", type=int, help="encoder-decoder: the decoder's first token (default: the "
                                                     "tokenizer's BOS, else 0)")
    parser.add_argument("--no-cache", action="store_true", help="re-read every token at every step (no KV cache)")
    parser.add_argument("--json", action="store_true", help="print the token ids (and text) as JSON")


def _generate(args) -> int:
    from workbench.core.decoding import decoding_tokens, generate, load_generation_model

    compiled, tokenizer = load_generation_model(args.source)
    start, stop = decoding_tokens(compiled, tokenizer)
    if args.stop_ids is not None:
        stop = tuple(numbers(args.stop_ids, "stop-ids"))
    ids = numbers(args.token_ids, "token-ids") if args.token_ids is not None else tokenizer.encode(args.prompt)
    config = GenerationConfig(**setting_values(args, settings_of(GenerationConfig)), stop_tokens=stop,
                              use_cache=not args.no_cache)
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
