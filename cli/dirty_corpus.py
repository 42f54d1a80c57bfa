"""main.py dirty-corpus OUT: a web-like crawl made from the bundled Shakespeare (boilerplate lines,
cookie banners, repeated pages) with the play's last pages held out clean (core/data/dirty_corpus.py),
for measuring what the cleaning pipeline buys: point a project's data.corpus at OUT/web.jsonl."""

import json
from pathlib import Path

from workbench.cli import Command


def _arguments(parser) -> None:
    parser.add_argument("out", type=Path, help="folder to write web.jsonl, heldout.txt and dirty.json into")
    parser.add_argument("--source", type=Path, help="the clean text to dirty (default: the bundled Shakespeare)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed writes the same files (default 0)")
    parser.add_argument("--boilerplate", type=float, default=0.5,
                        help="chance of a boilerplate line after each speech, 0 to 1 (default 0.5); every page "
                             "also gets a header, a cookie banner and a footer")
    parser.add_argument("--duplicates", type=float, default=0.3,
                        help="share of pages that appear a second time, in other boilerplate (default 0.3)")
    parser.add_argument("--held-out", type=float, default=0.1,
                        help="share of the text's last pages kept clean in heldout.txt (default 0.1)")
    parser.add_argument("--json", action="store_true", help="print what was planted as JSON")


def _dirty(args) -> int:
    from workbench.core.data.dirty_corpus import SHAKESPEARE, make_dirty_corpus

    made = make_dirty_corpus(args.out, args.source or SHAKESPEARE, args.seed, args.boilerplate, args.duplicates,
                             args.held_out)
    if args.json:
        print(json.dumps(made.to_dict(), indent=1))
        return 0
    print(f"{args.out / 'web.jsonl'}: {made.pages:,} pages ({made.copies:,} repeat an earlier one), "
          f"{made.chars:,} characters; {made.junk_lines:,} boilerplate lines, "
          f"{100 * made.junk_chars / made.chars:.1f} % of the characters")
    print(f"{args.out / 'heldout.txt'}: {made.held_out_chars:,} characters of clean text no page holds")
    return 0


COMMANDS = (Command("dirty-corpus", "write a web-like crawl with boilerplate and copies, and clean held-out text",
                    _arguments, _dirty),)
