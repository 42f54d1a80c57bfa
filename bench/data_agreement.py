"""Our cleaning rules against datatrove's on one corpus: agreement per rule, every disagreement, and
documents per second and peak memory of each, one process each (issue 20).

    .venv/bin/python bench/data_agreement.py [--documents 2000] [--seed 2] [--sizes-mb 2,20]

The corpus is core/data/sample_corpus.py's web-like sample (Shakespeare with planted junk and copies)
at a seed the rules were not written against. Agreement uses --documents of it; throughput runs each
rule on corpora of --sizes-mb megabytes in fresh processes: ours is `decisions()` (reading the JSON
lines included), datatrove's is its filter (or its four MinHash stages) over the same file, timed
after imports and a warm-up document. Needs the test extra (datatrove[processing], spacy); offline.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workbench.core.data.decisions import decisions
from workbench.core.data.sample_corpus import DATATROVE_RULES, sample_documents

CHECKOUT = Path(__file__).resolve().parent.parent
ORACLE = CHECKOUT / "tests" / "core" / "data" / "datatrove_oracle.py"


def write_corpus(path: Path, seed: int, documents: int | None = None, megabytes: float | None = None) -> list[str]:
    texts, size = [], 0
    with open(path, "w", encoding="utf-8") as out:
        for text in sample_documents(documents or 10**9, seed):
            line = json.dumps({"text": text}) + "\n"
            out.write(line)
            texts.append(text[:80])
            size += len(line.encode())
            if megabytes and size >= megabytes * 1e6:
                break
    return texts


def theirs(rules: list[str], corpus: Path, work: Path) -> dict:
    """datatrove in a fresh process and a fresh folder (its executor skips tasks a folder records as done)."""
    work = Path(tempfile.mkdtemp(dir=work))
    out = work / "theirs.json"
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "HOME": str(work)}
    subprocess.run([sys.executable, "-P", str(ORACLE), ",".join(rules), str(corpus), str(out), str(work / "dt")],
                   check=True, env=env, cwd=work, capture_output=True)
    return json.loads(out.read_text())


def ours_in_a_process(rule: str, corpus: Path) -> dict:
    """Our decisions for one rule in a fresh process: its seconds and peak resident memory."""
    code = ("import json,sys,time;from pathlib import Path;"
            "from workbench.core.data.decisions import decisions;"
            "from workbench.core.data.sample_corpus import DATATROVE_RULES as R;"
            "from workbench.core.training.memory import peak_memory_mb;import torch;"
            "t=time.perf_counter();n=sum(1 for _ in decisions([Path(sys.argv[2])],R[sys.argv[1]]));"
            "print(json.dumps({'documents':n,'seconds':time.perf_counter()-t,"
            "'peak_rss_mb':peak_memory_mb(torch.device('cpu'))}))")
    done = subprocess.run([sys.executable, "-P", "-c", code, rule, str(corpus)], check=True, capture_output=True,
                          text=True, cwd=CHECKOUT)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--sizes-mb", default="2,20")
    parser.add_argument("--rules", default=",".join(DATATROVE_RULES), help="comma-separated subset")
    parser.add_argument("--skip-agreement", action="store_true", help="throughput only")
    parser.add_argument("--datatrove-up-to-mb", type=float, default=float("inf"),
                        help="time datatrove only on inputs up to this size; larger ones measure ours alone "
                             "(datatrove takes over half an hour per rule at 200 MB on 2 cores)")
    args = parser.parse_args()
    rules = args.rules.split(",")
    work = Path(tempfile.mkdtemp(prefix="data-agreement-"))
    corpus = work / "sample.jsonl"
    starts = write_corpus(corpus, args.seed, documents=args.documents)
    reference = {} if args.skip_agreement else theirs(rules, corpus, work)
    print(f"## Agreement with datatrove, {len(starts):,} documents (sample seed {args.seed})\n")
    print("| rule | agree | we keep | datatrove keeps | disagreements |")
    print("|---|---|---|---|---|")
    listed = []
    for rule in rules if reference else []:
        ours = [(d["kept"], d["rule"]) for d in decisions([corpus], DATATROVE_RULES[rule])]
        differ = [i for i, (a, b) in enumerate(zip(ours, reference[rule]["kept"])) if a[0] != b]
        print(f"| {rule} | {1 - len(differ) / len(ours):.2%} | {sum(k for k, _ in ours):,} | "
              f"{sum(reference[rule]['kept']):,} | {len(differ)} |")
        listed += [(rule, i, ours[i], reference[rule]["kept"][i], starts[i]) for i in differ]
    print()
    for rule, i, (kept, why), theirs_kept, start in listed:
        print(f"- {rule}, document {i}: we {'keep' if kept else 'drop (' + why + ')'}, datatrove "
              f"{'keeps' if theirs_kept else 'drops'}: {start!r}")
    print(f"\n## Throughput, one process each ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at start)\n")
    print("| input | rule | ours docs/s | datatrove docs/s | ratio | ours peak RSS | datatrove peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for megabytes in (float(m) for m in args.sizes_mb.split(",")):
        sized = work / f"sample-{megabytes:g}mb.jsonl"
        count = len(write_corpus(sized, args.seed + 1, megabytes=megabytes))
        for rule in rules:
            ours = ours_in_a_process(rule, sized)
            ours_rate = count / ours["seconds"]
            if megabytes > args.datatrove_up_to_mb:
                print(f"| {megabytes:g} MB ({count:,} docs) | {rule} | {ours_rate:,.0f} | not timed | | "
                      f"{ours['peak_rss_mb']:,.0f} MB | |", flush=True)
                continue
            other = theirs([rule], sized, work)
            their_rate = count / other[rule]["seconds"]
            print(f"| {megabytes:g} MB ({count:,} docs) | {rule} | {ours_rate:,.0f} | {their_rate:,.0f} | "
                  f"{ours_rate / their_rate:.1f}× | {ours['peak_rss_mb']:,.0f} MB | {other['peak_rss_mb']:,.0f} MB |",
                  flush=True)
    print(f"\nbench/data_agreement.py --documents {args.documents} --seed {args.seed} --sizes-mb {args.sizes_mb}"
          f"{'' if args.datatrove_up_to_mb == float('inf') else f' --datatrove-up-to-mb {args.datatrove_up_to_mb:g}'}, "
          f"{time.strftime('%Y-%m-%d')}; own peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")


if __name__ == "__main__":
    main()
