"""Getting models out of and into the workbench: exports and Hugging Face weight import."""
