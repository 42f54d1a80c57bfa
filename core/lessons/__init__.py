"""The course inside the app (issue #18): a lab for each week of the syllabus, as data.

    lab.py          a lab is a JSON file in assets/course/: the week, its text, the projects it
                    opens, the experiment it runs and the expected result, stated as a check
    checks.py       the check kinds (less, greater, at_least, between, all) a lab's result is judged by
    experiments.py  the experiment kinds (training runs that differ in one setting, tokenizers,
                    attention cost, model facts) that turn a lab into evidence: named numbers, a
                    table, curves or a heatmap
    lab_tuning.py   Part 3: runs fine-tuned by a method (full, LoRA, adapters, prefix, prompt, head
                    only), the share of weights that trained, evaluation with a confidence interval
                    and the leaderboard's ranks
    runner.py       runs a lab headless into a folder, evaluates its check, saves result.json
    clean_data_lab.py, sweep_lab.py, cost_lab.py, distributed_lab.py, curve_measures.py
                    the experiment kinds (and a measure) of weeks 7, 10 and 11: a dirty crawl against
                    the cleaned one, a scaling sweep and its law, precision/checkpointing/offload
                    memory and speed, DDP against FSDP under torchrun

The window's Course panel and `main.py lesson` both go through runner.py, so a lab checked in the
terminal shows the same numbers and verdict in the window.
"""
