"""Write the model-zoo presets: assets/presets/{gpt2,bert,bert-genre,bart,t5,llama,mistral}-tiny.json.

    .venv/bin/python assets/presets/make_presets.py

Each is a core.architectures.FAMILIES entry at its tiny default size, with the corpus, character
tokenizer and training settings of the default preset (gpt-tiny.json, which this never changes),
so every preset reproduces exactly from the code. Scale one up in the inspector: width, heads,
repeat count, context length.

The decoders train as causal language models. The others train with their own objective
(core/training/objectives.py): BERT with masked-LM, a BERT classifier on the play-genre task,
BART with text infilling, T5 on the synthetic "reverse" task. Their tokenizer adds what those
objectives write: the digits and '+' of the synthetic tasks, and special tokens after the alphabet.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from core.architectures import FAMILIES, build_graph  # noqa: E402
from core.project import Project  # noqa: E402

TEMPLATE = HERE / "gpt-tiny.json"
PRESETS = {  # file name -> (family, changes to its architecture, training objective and its settings)
    "gpt2": ("gpt2", {}, {}),
    # RoPE, not BERT's learned positions: from i.i.d. position vectors, attention takes thousands of
    # steps to find a masked character's neighbours, and the loss sits at the unigram entropy
    # meanwhile (Hugging Face's BertForMaskedLM does the same); rotary angles make "one to the left"
    # one relation shared by every position, so it learns in a few hundred (bench/tasks_learn.py).
    "bert": ("bert", {"positions": "position.rope"},
             {"objective": "masked_lm", "learning_rate": 1e-3, "min_learning_rate": 1e-4}),
    # 30 × 10 validation passages: the 300 held-out ones exactly, so val_accuracy counts each once.
    # The encoder is the masked LM's, so init_from carries its weights over; fine-tuning wants a lower rate.
    "bert-genre": ("bert", {"name": "Tiny BERT classifier", "head": "head.classify", "classes": 3,
                            "positions": "position.rope"},
                   {"objective": "classification", "task": "genre", "batch_size": 30, "eval_batches": 10,
                    "learning_rate": 5e-4, "min_learning_rate": 5e-5, "warmup_steps": 30}),
    "bart": ("bart", {}, {"objective": "denoising"}),
    # T5 learns the synthetic tasks more steadily at a lower peak (bench/tasks_learn.py).
    "t5": ("t5", {}, {"objective": "seq2seq", "task": "reverse", "learning_rate": 1e-3, "min_learning_rate": 1e-4,
                      "warmup_steps": 50}),
    "llama": ("llama", {}, {}),
    "mistral": ("mistral", {}, {}),
}
TASK_CHARACTERS = "+0123456789"
SPECIAL_TOKENS = ["[PAD]", "[BOS]", "[EOS]", "[MASK]", *(f"<extra_id_{i}>" for i in range(16))]


def preset(name: str) -> dict:
    template = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    family, changes, training = PRESETS[name]
    tokenizer = template["tokenizer"]
    if training:
        alphabet = tokenizer["alphabet"] + "".join(ch for ch in TASK_CHARACTERS if ch not in tokenizer["alphabet"])
        tokenizer = {**tokenizer, "alphabet": alphabet, "special_tokens": SPECIAL_TOKENS}
    vocab_size = len(tokenizer["alphabet"]) + len(tokenizer.get("special_tokens", []))
    arch = FAMILIES[family].replace(vocab_size=vocab_size, **changes)
    return {
        "format": template["format"],
        "name": f"{arch.name} (characters)",
        "graph": build_graph(arch).to_dict(),
        "data": template["data"],
        "tokenizer": tokenizer,
        "train": {**training, **template["train"], **training},  # the objective's keys first, its values win
    }


def main() -> None:
    for name in PRESETS:
        path = HERE / f"{name}-tiny.json"
        path.write_text(json.dumps(preset(name), indent=2) + "\n", encoding="utf-8")
        Project.load(path)  # fails loudly if what was written does not open
        print(f"wrote {path.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
