"""Getting models out of and into the workbench: exports and Hugging Face weight import.

    exporter.py       a project or run folder to the chosen formats, each checked (main.py export, the Export dialog)
    onnx_export.py    the inference model as ONNX, dynamic batch and length; onnxruntime parity
    onnx_step.py      one cached generation step as ONNX, past/present keys and values
    weights.py        safetensors with the graph and tokenizer in the metadata
    python_code.py    one readable PyTorch file that needs only torch
    python_source.py  the app's own source, gathered for that file
    report.py         what the checks found, and the export errors
    hf_import.py      Hugging Face weights into a project (hf_families.py: the name maps)
    hf_export.py      a project back out as a Hugging Face folder through the same maps (model_card.py: README.md)
"""
