"""Write the model-zoo presets: assets/presets/{gpt2,bert,bert-genre,bart,t5,llama,mistral,qwen2,qwen3,gemma2,
phi3,neox,opt,falcon,mixtral}-tiny.json.

    .venv/bin/python assets/presets/make_presets.py

Each is a core.architectures.FAMILIES entry at its tiny default size, with the corpus, character
tokenizer and training settings of the default preset (gpt-tiny.json, which this never changes),
so every preset reproduces exactly from the code. Scale one up in the inspector: width, heads,
repeat count, context length.

The two BERT presets share a BPE tokenizer of 2,048 tokens trained on the corpus instead: a
classifier of play genres has to tell words apart, and from characters a tiny encoder spends its
few thousand passages learning to spell. With word pieces it reaches 47 % on held-out plays from
scratch and 56 % from the masked LM, where the character one stayed at chance
(bench/tasks_learn.py). They share it so that the classifier can start from the masked LM's
weights (init_from).

The decoders train as causal language models. The others train with their own objective
(core/training/objectives.py): BERT with masked-LM, a BERT classifier on the play-genre task,
BART with text infilling, T5 on the synthetic "reverse" task. Their tokenizer adds what those
objectives write: the digits and '+' of the synthetic tasks, and special tokens after the alphabet.
"""

import functools
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

from workbench.core.architectures import FAMILIES, build_graph  # noqa: E402
from workbench.core.data.tokenizer_training import train_tokenizer  # noqa: E402
from workbench.core.data.tokenizers import tokenizer_from_dict  # noqa: E402
from workbench.core.project import Project  # noqa: E402

TEMPLATE = HERE / "gpt-tiny.json"
PRESETS = {  # file name -> (family, changes to its architecture, training objective and its settings)
    "gpt2": ("gpt2", {}, {}),
    # RoPE, not BERT's learned positions: from i.i.d. position vectors, attention takes thousands of
    # steps to find a masked character's neighbours, and the loss sits at the unigram entropy
    # meanwhile (Hugging Face's BertForMaskedLM does the same); rotary angles make "one to the left"
    # one relation shared by every position, so it learns in a few hundred (bench/tasks_learn.py).
    "bert": ("bert", {"positions": "position.rope"},
             {"objective": "masked_lm", "learning_rate": 1e-3, "min_learning_rate": 1e-4}),
    # 30 × 20 validation passages: the 600 held-out ones exactly, so val_accuracy counts each once.
    # 4,200 training passages are memorised within a few epochs: dropout 0.2 and weight decay 0.3
    # hold that off, and the mean over the passage's word pieces generalises better than [CLS]. At 3e-4
    # after 50 warm-up steps, starting from the masked LM beats starting from scratch by 6 to 9 points
    # (at 5e-4 the pre-trained start over-fits first and the two end even; bench/tasks_learn.py).
    "bert-genre": ("bert", {"name": "Tiny BERT classifier", "head": "head.classify", "classes": 3,
                            "positions": "position.rope", "pooling": "mean", "dropout": 0.2},
                   {"objective": "classification", "task": "genre", "steps": 300, "batch_size": 30,
                    "eval_every": 50, "eval_batches": 20, "checkpoint_every": 50, "learning_rate": 3e-4,
                    "min_learning_rate": 3e-5, "warmup_steps": 50, "weight_decay": 0.3}),
    "bart": ("bart", {}, {"objective": "denoising"}),
    # T5 learns the synthetic tasks more steadily at a lower peak (bench/tasks_learn.py).
    "t5": ("t5", {}, {"objective": "seq2seq", "task": "reverse", "learning_rate": 1e-3, "min_learning_rate": 1e-4,
                      "warmup_steps": 50}),
    "llama": ("llama", {}, {}),
    "mistral": ("mistral", {}, {}),
    "qwen2": ("qwen2", {}, {}),
    "qwen3": ("qwen3", {}, {}),
    "gemma2": ("gemma2", {}, {}),
    "phi3": ("phi3", {}, {}),
    "neox": ("neox", {}, {}),
    "opt": ("opt", {}, {}),
    "falcon": ("falcon", {}, {}),
    "mixtral": ("mixtral", {}, {}),
}
TASK_CHARACTERS = "+0123456789"
SPECIAL_TOKENS = ["[PAD]", "[BOS]", "[EOS]", "[MASK]", *(f"<extra_id_{i}>" for i in range(16))]
BPE_PRESETS, BPE_VOCAB = ("bert", "bert-genre"), 2048


@functools.cache
def bpe_tokenizer(alphabet: str) -> dict:
    """BPE over the corpus's speeches; the alphabet is passed in too, so every character of the
    character tokenizer's alphabet (digits that the corpus lacks included) stays encodable."""
    corpus = (HERE.parent / "corpus" / "shakespeare.txt").read_text(encoding="utf-8")
    return train_tokenizer("bpe", [*corpus.split("\n\n"), alphabet], BPE_VOCAB, SPECIAL_TOKENS).to_dict()


def preset(name: str) -> dict:
    template = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    family, changes, training = PRESETS[name]
    tokenizer = template["tokenizer"]
    if training:
        alphabet = tokenizer["alphabet"] + "".join(ch for ch in TASK_CHARACTERS if ch not in tokenizer["alphabet"])
        tokenizer = {**tokenizer, "alphabet": alphabet, "special_tokens": SPECIAL_TOKENS}
    if name in BPE_PRESETS:
        tokenizer = bpe_tokenizer(tokenizer["alphabet"])
    vocab_size = tokenizer_from_dict(tokenizer).vocab_size
    arch = FAMILIES[family].replace(vocab_size=vocab_size, **changes)
    return {
        "format": template["format"],
        "name": f"{arch.name} ({'BPE' if name in BPE_PRESETS else 'characters'})",
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
