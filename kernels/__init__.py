"""Attention and other fused kernels behind one function. Imports torch (and triton) only."""
