"""Write the model-zoo presets: assets/presets/{gpt2,bert,bart,t5,llama,mistral}-tiny.json.

    .venv/bin/python assets/presets/make_presets.py

Each is core.architectures.FAMILIES[name] at its tiny default size, with the corpus, character
tokenizer and training settings of the default preset (gpt-tiny.json, which this never changes),
so every preset reproduces exactly from the code. Scale one up in the inspector: width, heads,
repeat count, context length.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from core.architectures import FAMILIES, build_graph  # noqa: E402
from core.project import Project  # noqa: E402

TEMPLATE = HERE / "gpt-tiny.json"


def preset(name: str) -> dict:
    template = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    vocab_size = len(template["tokenizer"]["alphabet"])
    arch = FAMILIES[name].replace(vocab_size=vocab_size)
    return {
        "format": template["format"],
        "name": f"{arch.name} (characters)",
        "graph": build_graph(arch).to_dict(),
        "data": template["data"],
        "tokenizer": template["tokenizer"],
        "train": template["train"],
    }


def main() -> None:
    for name in FAMILIES:
        path = HERE / f"{name}-tiny.json"
        path.write_text(json.dumps(preset(name), indent=2) + "\n", encoding="utf-8")
        Project.load(path)  # fails loudly if what was written does not open
        print(f"wrote {path.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
