"""The parts of bench/kernel_static.py and bench/gpu_check.py that need no GPU and no compiler: SASS
parsing, job lists, FLOP counts, verdicts and report formatting; and the autotune pruning they rely on.
(The compiles themselves take minutes; `python -m bench.kernel_static` is run by hand.)"""

import importlib.util
from pathlib import Path

import pytest
import torch

from workbench.kernels.reference import attention_mask

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


kernel_static = _load("kernel_static")
gpu_check = _load("gpu_check")

# Shaped like `cuobjdump -sass`: an outer loop (0x0040-0x0140) around an inner one (0x0060-0x00a0),
# a second inner loop (0x0180-0x01c0) holding an HGMMA, and the trailing branch-to-self.
SASS = """
        /*0000*/                   MOV R1, c[0x0][0x28] ;                    /* 0x000fe40000000f00 */
        /*0010*/                   S2R R0, SR_CTAID.X ;                      /* 0x000e220000002500 */
        /*0040*/                   IADD3 R2, R2, 0x1, RZ ;                   /* 0x000fe20007ffe0ff */
        /*0060*/                   HMMA.16816.F32.BF16 R4, R8, R12, R4 ;     /* 0x000fe20000041804 */
        /*0070*/                   FFMA R3, R4, R5, R6 ;                     /* 0x000fe20000000006 */
        /*0080*/                   ISETP.GE.AND P0, PT, R2, R7, PT ;         /* 0x000fe20003f06270 */
        /*00a0*/              @!P0 BRA 0x60 ;                                /* 0xfffffffc0000a947 */
        /*0140*/               @P1 BRA 0x40 ;                                /* 0xfffffffc0000a947 */
        /*0180*/                   HGMMA.64x64x16.F32.BF16 R24, gdesc[UR8], RZ, !UPT ;  /* 0x0 */
        /*0190*/                   FMNMX R3, R4, R5, !PT ;                   /* 0x000fe20007800000 */
        /*01a0*/                   FSEL R3, R4, -INF , P0 ;                  /* 0x000fe20000000000 */
        /*01b0*/                   MUFU.EX2 R3, R3 ;                         /* 0x000fe20000000000 */
        /*01c0*/               @P2 BRA 0x180 ;                               /* 0xfffffffc0000a947 */
        /*01d0*/                   EXIT ;                                    /* 0x000fea0003800000 */
        /*01e0*/                   BRA 0x1e0;                                /* 0xfffffffc00fc7947 */
"""


def test_tile_loops_are_the_innermost_back_edges_in_address_order():
    assert kernel_static.tile_loops(SASS) == [4, 5]


def test_resource_usage_and_spill_stores():
    text = " Function _attn_fwd:\n  REG:255 STACK:232 SHARED:1024 LOCAL:0 CONSTANT[0]:672 TEXTURE:0\n"
    assert kernel_static.resource_usage(text) == dict(registers=255, stack_bytes=232, static_shared=1024)
    with pytest.raises(ValueError, match="no resource line"):
        kernel_static.resource_usage("nothing")
    # ptxas -v said "312 bytes spill stores" for this mix (forward D=128 128x64 w4 s3 before issue 21).
    sass = "STL [R1+0x4], R3 ;\n" * 76 + "STL.64 [R1+0x8], R4 ;\nLDL R5, [R1+0x4] ;\nSTL.128 [R1], R8 ;\n"
    assert kernel_static.spill_store_bytes(sass) == 76 * 4 + 8 + 16


def test_jobs_cover_every_combination_and_default_masks_are_the_issues():
    args = kernel_static.parse_args(["--dtypes", "bf16", "fp16", "--head-dims", "64", "--arch", "80", "90"])
    assert args.masks == ["none", "causal", "causal_window", "causal_alibi"]
    full = kernel_static.parse_args(["--full"])
    assert full.dtypes == ["bf16", "fp16", "fp32"] and full.head_dims == [16, 32, 64, 128] and full.arch == [80, 90]
    assert len(full.masks) == 6 and kernel_static.parse_args([]).dtypes == ["bf16"]
    jobs = kernel_static.make_jobs(args, configs_for=lambda kernel, dtype, d, mask, arch: [(128, 64, 8, 3),
                                                                                            (64, 64, 4, 3)])
    assert len(jobs) == 2 * 3 * 2 * 1 * 4 * 2  # arch × kernel × dtype × head dim × mask × config
    assert len(set(jobs)) == len(jobs)
    assert jobs[0].config == "128x64 w8 s3" and jobs[0].arch == 80


def _row(kernel, mask, interior, spill=0):
    return dict(kernel=kernel, dtype="bf16", head_dim=64, mask=mask, arch="sm_90", config="128x64 w8 s3",
                registers=128, spill_bytes=spill, shared_bytes=65536, wgmma=True, async_copy=True,
                interior_instructions=interior, edge_instructions=interior + 200)


def test_markdown_table_and_mask_overhead():
    rows = [_row("forward", "none", 400), _row("forward", "causal", 410), _row("forward", "causal_alibi", 460, 8)]
    table = kernel_static.markdown_table(rows).splitlines()
    assert len(table) == 2 + 3 and table[2].count("|") == len(kernel_static.COLUMNS) + 1
    assert "| forward | bf16 | 64 | causal | sm_90 | 128x64 w8 s3 | 128 | 0 | 65536 | yes | yes | 410 | 610 |" in table
    overhead = kernel_static.mask_overhead(rows)
    assert "| forward | causal | +2.5% |" in overhead and "| forward | causal_alibi | +15.0% |" in overhead
    assert "1 spill registers" in kernel_static.summary(rows)


def test_prune_keeps_known_non_spilling_candidates_and_honours_the_pin(monkeypatch):
    import triton

    from workbench.kernels import triton_tiles

    monkeypatch.setattr(triton_tiles, "INTERPRET", False)
    configs = [triton.Config({"BLOCK_M": m, "BLOCK_N": n}, num_warps=w, num_stages=s)
               for m, n, w, s in [(128, 64, 8, 3), (64, 64, 4, 3), (128, 128, 8, 2), (64, 32, 4, 2), (32, 32, 4, 1)]]
    prune = triton_tiles.prune_for("forward")
    bf16 = {"Q": torch.empty(0, dtype=torch.bfloat16)}
    wide = prune(configs, bf16, HEAD_DIM=128, ARCH=90)
    assert [(c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"]) for c in wide] == [(128, 64), (64, 32)]
    assert len(prune(configs, bf16, HEAD_DIM=64, ARCH=90)) == 3
    assert [c.kwargs["BLOCK_M"] for c in prune(configs, {"Q": torch.empty(0)}, HEAD_DIM=64, ARCH=90)] == [64, 32]
    ampere_alibi = prune(configs, bf16, HEAD_DIM=128, ARCH=80, HAS_ALIBI=True)
    assert [(c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"]) for c in ampere_alibi] == [(32, 32)]
    monkeypatch.setenv(triton_tiles.PIN_ENV, "1")
    assert prune(configs, bf16, HEAD_DIM=128, ARCH=90) == [wide[1]]


@pytest.mark.parametrize("t, s, causal, window", [(9, 9, True, None), (9, 9, True, 3), (5, 12, False, 4),
                                                  (12, 5, True, None), (7, 7, False, None)])
def test_visible_pairs_match_the_reference_mask(t, s, causal, window):
    expected = int(attention_mask(t, s, causal=causal, window=window).sum())
    assert gpu_check.visible_pairs(t, s, causal, window) == expected


def test_cases_and_tflops():
    chosen = gpu_check.cases()
    assert len(chosen) == 10 and {c.head_dim for c in chosen} == {64, 128}
    assert {c.name: c.goal for c in chosen} == {"causal": "sdpa", "window 256": "flex", "window 1024": "flex",
                                                 "alibi": "flex", "gqa": "sdpa"}
    causal = chosen[0]
    pairs = gpu_check.SEQ * (gpu_check.SEQ + 1) // 2
    flops = 4 * 4 * 32 * 64 * pairs  # B = 4, H = 2048 / 64
    assert gpu_check.tflops(causal, 4, 1e-3, backward=False) == pytest.approx(flops / 1e-3 / 1e12)
    assert gpu_check.tflops(causal, 4, 1e-3, backward=True) == pytest.approx(3.5 * flops / 1e-3 / 1e12)


def test_goal_verdicts_and_report():
    chosen = gpu_check.cases((64,))
    rows = [dict(case="causal", head_dim=64, backend=b, forward_ms=1.0, both_ms=ms, forward_tflops=100.0,
                 both_tflops=200.0) for b, ms in (("triton", 2.0), ("sdpa-flash", 1.9), ("flex", 3.0))]
    rows += [dict(case="alibi", head_dim=64, backend=b, forward_ms=1.0, both_ms=ms, forward_tflops=1.0,
                  both_tflops=1.0) for b, ms in (("triton", 1.0), ("flex", 1.3))]
    verdicts = gpu_check.goal_verdicts(rows, chosen)
    assert [(v["case"], v["baseline"], round(v["ratio"], 2), v["met"]) for v in verdicts] == [
        ("causal", "sdpa-flash", 0.95, False), ("alibi", "flex", 1.3, True)]
    report = gpu_check.format_timing(rows, verdicts)
    assert "| causal | 64 | sdpa-flash | 0.95x | >= 1.0x | NO |" in report
    assert "| alibi | 64 | flex | 1.30x | >= 1.2x | yes |" in report
    parity = gpu_check.format_parity([dict(case="gqa", head_dim=128, triton=3.1e-3, sdpa=2.9e-3, sdpa_backend="flash",
                                           ok=True)])
    assert "| gqa | 128 | 3.10e-03 | 2.90e-03 (flash) | yes |" in parity


def test_shards_clock_and_arguments():
    assert gpu_check.test_shards(list("abcdefg"), 3) == [list("adg"), list("be"), list("cf")]
    assert gpu_check.test_shards(["a"], 4) == [["a"]]
    now = iter([100.0, 130.0, 130.0])
    clock = gpu_check.Clock(480, now=lambda: next(now))
    assert clock.left() == 450 and clock.elapsed() == 30
    args = gpu_check.parse_args(["--budget", "300", "--head-dims", "64", "--skip-tests"])
    assert args.budget == 300 and args.head_dims == [64] and args.skip_tests and not args.skip_timing


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given without a GPU")
def test_gpu_check_without_a_gpu_says_so(monkeypatch, capsys):
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # main() sets it to 0 for its children; restored after
    assert gpu_check.main([]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the report without a GPU")
def test_memory_phase_reports_a_failed_child():
    """Phase 5 runs bench/memory_plan.py on the GPU in a child process; without one the child fails and
    the phase says so, with the child's error, instead of ending gpu_check."""
    report = gpu_check.memory_check(timeout=120)
    assert "FAILED (exit 1)" in report and "CUDA" in report
    assert "| preset | mode | weights |" in report  # the child got as far as the table's header
