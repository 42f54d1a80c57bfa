"""The README.md model card of a Hugging Face export, and its loss-curve image.

The card follows the Hub's model-card layout (YAML metadata, then Markdown): what the model is, its
architecture and size, the data and tokenizer, the training settings, the final metrics of the run
(metrics.jsonl), its saved evaluations (eval/*.json) and loss_curve.png. The image is drawn here with
zlib and struct, so an export needs neither Qt nor a plotting library (diffusers#1021 asks for cards
written at export time, not by hand).
"""

import json
import struct
import zlib
from pathlib import Path

from workbench.core.architectures import Architecture
from workbench.core.export.hf_zoo import ALL_FAMILIES as FAMILIES
from workbench.core.export.hf_zoo import FAMILIES as ZOO_FAMILIES
from workbench.core.training.runs import RunFolder, RunFolderError

PIPELINE = {"GPT2LMHeadModel": "text-generation", "LlamaForCausalLM": "text-generation",
            "MistralForCausalLM": "text-generation", "BertForMaskedLM": "fill-mask", "RoFormerForMaskedLM": "fill-mask",
            "BertForSequenceClassification": "text-classification",
            "BartForConditionalGeneration": "text2text-generation",
            "T5ForConditionalGeneration": "text2text-generation",
            **dict.fromkeys(ZOO_FAMILIES, "text-generation")}  # issue #25's decoders
AUTO_CLASS = {"text-generation": "AutoModelForCausalLM", "fill-mask": "AutoModelForMaskedLM",
              "text-classification": "AutoModelForSequenceClassification",
              "text2text-generation": "AutoModelForSeq2SeqLM"}
TRAIN_LINE, VAL_LINE = (31, 119, 180), (255, 127, 14)  # matplotlib's first two colours, readable in print


def write_model_card(folder: Path, project, arch: Architecture, hf_class: str, parameters: int,
                     run_dir: Path | None) -> None:
    """README.md (and loss_curve.png when the run logged losses) in `folder`."""
    rows, evaluations, steps = [], {}, None
    if run_dir is not None:
        try:
            run = RunFolder.open(run_dir)
            rows, steps = run.metrics(), run.info.get("step")
        except RunFolderError:  # a card without a run section beats no export
            rows = []
        for path in sorted((Path(run_dir) / "eval").glob("*.json")):
            evaluations[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    losses = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    validation = [(r["step"], r["val_loss"]) for r in rows if "val_loss" in r]
    caption = ""
    if len(losses) > 1:
        plot_png(folder / "loss_curve.png", losses, validation)
        values = [loss for _, loss in losses + validation]
        caption = (f"Training loss (blue line) and validation loss (orange dots), steps {losses[0][0]} to "
                   f"{losses[-1][0]} left to right, {max(values):.4g} at the top to {min(values):.4g} at the bottom")
    (folder / "README.md").write_text(card_text(project, arch, hf_class, parameters, rows, evaluations, steps,
                                                caption), encoding="utf-8")


def card_text(project, arch: Architecture, hf_class: str, parameters: int, rows: list[dict], evaluations: dict,
              steps: int | None, caption: str) -> str:
    """The card's Markdown; `caption` describes loss_curve.png, empty when there is none."""
    pipeline = PIPELINE[hf_class]
    family = FAMILIES[hf_class].name
    tokenizer = project.tokenizer
    corpora = ", ".join(f"`{p.name}`" for p in project.data.corpora)
    lines = ["---", "library_name: transformers", f"pipeline_tag: {pipeline}",
             "tags:", "- transformer-workbench", f"- {family.lower()}", "---", "",
             f"# {project.name}", "",
             f"A {family}-architecture model built and {'trained' if rows else 'exported'} in Transformer Workbench, "
             f"exported as `{hf_class}`.", "",
             "```python", f"from transformers import AutoTokenizer, {AUTO_CLASS[pipeline]}",
             'tokenizer = AutoTokenizer.from_pretrained("path/to/this/folder")',
             f'model = {AUTO_CLASS[pipeline]}.from_pretrained("path/to/this/folder")', "```", "",
             "## Architecture", "", "| setting | value |", "|---|---|",
             f"| family | {family} ({arch.layout}) |", f"| parameters | {parameters:,} |",
             f"| layers | {arch.layers}" + (f" encoder, {arch.decoder_layers or arch.layers} decoder" if
                                             arch.layout == "encoder-decoder" else "") + " |",
             f"| width (d_model) | {arch.width} |",
             f"| heads | {arch.heads}" + (f" ({arch.kv_heads} key/value)" if arch.kv_heads not in (0, arch.heads)
                                          else "") + " |",
             f"| feed-forward | {arch.ffn}, {arch.ffn_hidden} hidden, {arch.activation} |",
             f"| positions | {arch.positions} |", f"| norm | {arch.norm}, {'pre' if arch.pre_norm else 'post'}-norm |",
             f"| context length | {arch.context_length} |", f"| vocabulary | {arch.vocab_size} |", "",
             "## Data and tokenizer", "",
             f"Corpus: {corpora} ({project.data.val_fraction:.0%} held out for validation). "
             f"Tokenizer: {tokenizer.kind}, {tokenizer.vocab_size} tokens"
             + (f", special tokens {', '.join(f'`{t}`' for t in tokenizer.special_tokens)}"
                if tokenizer.special_tokens else "") + ".", "",
             "## Training settings", "", "| setting | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in project.train.to_dict().items() if value not in ("", None)]
    lines += ["", "## Results", ""]
    if rows:
        last = rows[-1]
        val = next((r for r in reversed(rows) if "val_loss" in r), None)
        lines += [f"After {steps or last.get('step')} steps:", "", "| metric | value |", "|---|---|"]
        lines += [f"| {name} | {_number(last[name])} |" for name in ("loss", "lr", "grad_norm", "tokens_per_s")
                  if name in last]
        if val is not None:
            lines += [f"| val_loss (step {val['step']}) | {_number(val['val_loss'])} |"]
            lines += [f"| val_perplexity | {_number(val['val_perplexity'])} |"] if "val_perplexity" in val else []
        lines.append("")
    else:
        lines += ["Exported from a project's weights, not from a training run: no training metrics.", ""]
    if caption:
        lines += [f"![{caption}](loss_curve.png)", "", f"*{caption}.*", ""]
    if evaluations:
        lines += ["## Evaluation", "", "| task | metric | value | examples |", "|---|---|---|---|"]
        for task, result in evaluations.items():
            lines += [f"| {task} | {name} | {_number(value)} | {result.get('examples', '')} |"
                      for name, value in result.get("metrics", {}).items()]
        lines.append("")
    return "\n".join(lines)


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# ----- a line plot as PNG, without a plotting library -----


def plot_png(path: Path, train: list[tuple[float, float]], val: list[tuple[float, float]],
             size: tuple[int, int] = (640, 360)) -> None:
    """Training loss as a line, validation loss as dots, on white with axes; no text (the card says what is
    drawn). Both series share the axes."""
    width, height = size
    margin = 24
    pixels = bytearray(b"\xff" * (width * height * 3))
    points = train + val
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)

    def to_pixel(x: float, y: float) -> tuple[int, int]:
        px = margin + (x - x0) / ((x1 - x0) or 1) * (width - 2 * margin)
        py = height - margin - (y - y0) / ((y1 - y0) or 1) * (height - 2 * margin)
        return round(px), round(py)

    def dot(x: int, y: int, colour: tuple[int, int, int], radius: int = 0) -> None:
        for dx in range(-radius, radius + 1):
            for dy in range(-radius, radius + 1):
                if 0 <= x + dx < width and 0 <= y + dy < height:
                    start = ((y + dy) * width + x + dx) * 3
                    pixels[start:start + 3] = bytes(colour)

    def line(a: tuple[int, int], b: tuple[int, int], colour, radius: int = 0) -> None:
        steps = max(abs(b[0] - a[0]), abs(b[1] - a[1]), 1)
        for i in range(steps + 1):
            dot(round(a[0] + (b[0] - a[0]) * i / steps), round(a[1] + (b[1] - a[1]) * i / steps), colour, radius)

    axis = (90, 90, 90)
    line((margin, height - margin), (width - margin, height - margin), axis)
    line((margin, margin), (margin, height - margin), axis)
    drawn = [to_pixel(*p) for p in train]
    for a, b in zip(drawn, drawn[1:]):
        line(a, b, TRAIN_LINE, 1)
    for p in val:
        dot(*to_pixel(*p), VAL_LINE, 3)
    path.write_bytes(png_bytes(width, height, bytes(pixels)))


def png_bytes(width: int, height: int, rgb: bytes) -> bytes:
    """An 8-bit RGB PNG (ISO/IEC 15948): signature, IHDR, one zlib IDAT of filter-0 rows, IEND."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + rgb[y * width * 3:(y + 1) * width * 3] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + \
        chunk(b"IEND", b"")
