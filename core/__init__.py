"""Everything a model is and does: pure Python + torch + networkx, never Qt."""
