"""Our evaluation tasks as lm-evaluation-harness task definitions, over the same data, so a model
exported with `main.py export RUN --hf DIR` scores the same in lm-eval as in `main.py eval`:

    write_lm_eval_tasks(project, TASKS_DIR, items=200, tokens=16384)
    lm_eval --model hf --model_args pretrained=DIR,dtype=float32,max_length=T,prefix_token_id=P \
            --tasks workbench_next_line,workbench_perplexity --include_path TASKS_DIR

    workbench_next_line    multiple_choice, target_delimiter "": acc and acc_norm as our next_line
                           (lm-eval scores the line break ending each context with the choice, and so
                           do we: core.evaluate.choice_ids)
    workbench_perplexity   loglikelihood_rolling over the held-out tokens our perplexity predicts, the
                           token before them as lm-eval's prefix token: byte_perplexity is our
                           perplexity when one token is one byte (a character model of ASCII text)

Only text is written here; lm-eval itself is a test dependency (tests/core/test_lm_eval_agreement.py).
"""

import json
from pathlib import Path

from workbench.core.data.tasks import TASKS as TASK_FILES

NEXT_LINE = """task: workbench_next_line
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: context
doc_to_choice: choices
doc_to_target: label
target_delimiter: ""
metric_list:
  - metric: acc
  - metric: acc_norm
"""
PERPLEXITY = """task: workbench_perplexity
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: loglikelihood_rolling
doc_to_text: ""
doc_to_target: text
metric_list:
  - metric: byte_perplexity
  - metric: word_perplexity
  - metric: bits_per_byte
"""


def write_lm_eval_tasks(project, folder: str | Path, items: int, tokens: int, context_length: int) -> dict:
    """The two task definitions and their data in `folder`, scoring the first `items` next_line items and
    the held-out blocks our perplexity scores with a limit of `tokens`; returns the lm-eval `hf` model
    arguments they need besides `pretrained` (max_length, prefix_token_id)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = (TASK_FILES / "next_line.jsonl").read_text(encoding="utf-8").splitlines()[:items]
    (folder / "next_line.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, held_out = project.token_splits()
    blocks = min(max(tokens // context_length, 1), (len(held_out) - 1) // context_length)  # as core.evaluate
    ids = [int(i) for i in held_out[:blocks * context_length + 1]]
    (folder / "perplexity.jsonl").write_text(json.dumps({"text": project.tokenizer.decode(ids[1:])}) + "\n",
                                             encoding="utf-8")
    (folder / "next_line.yaml").write_text(NEXT_LINE.format(data=json.dumps(str(folder / "next_line.jsonl"))))
    (folder / "perplexity.yaml").write_text(PERPLEXITY.format(data=json.dumps(str(folder / "perplexity.jsonl"))))
    return {"max_length": context_length, "prefix_token_id": ids[0]}
