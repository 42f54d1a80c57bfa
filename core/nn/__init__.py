"""Runnable torch modules, written to be read. They know nothing of graphs."""
