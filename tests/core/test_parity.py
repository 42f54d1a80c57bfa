"""The compiled default preset computes exactly what a hand-written nanoGPT-style GPT computes."""

import torch

from workbench.core.compiler import compile_graph
from workbench.core.nn.gpt import GPT, GPTConfig, state_from_preset
from workbench.core.project import load_project


def test_compiled_preset_matches_handwritten_gpt_logits_and_gradients():
    torch.manual_seed(0)
    compiled = compile_graph(load_project().graph)
    reference = GPT(GPTConfig(vocab_size=63, block_size=128, n_layer=4, n_head=4, n_embd=128))
    reference.load_state_dict(state_from_preset(compiled.module.state_dict()))

    tokens = torch.randint(0, 63, (3, 128))
    targets = torch.randint(0, 63, (3, 128))
    logits, loss = compiled.training_module(tokens, targets)
    ref_logits, ref_loss = reference(tokens, targets)
    torch.testing.assert_close(logits, ref_logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(loss, ref_loss, rtol=0, atol=1e-6)

    loss.backward()
    ref_loss.backward()
    ours = {name: p.grad for name, p in compiled.module.named_parameters()}
    theirs = dict(reference.named_parameters())
    for name, grad in state_from_preset(ours).items():
        if name == "lm_head.weight":
            continue  # tied: the same tensor as wte.weight, compared there
        torch.testing.assert_close(grad, theirs[name].grad, rtol=1e-4, atol=1e-6, msg=name)
