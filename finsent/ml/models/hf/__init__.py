"""What every kind built on a Hugging Face checkpoint shares: its options (``spec``), loading a base
from a hub id or a directory and naming it in a saved model (``base_model``), where LoRA goes by
architecture (``targets``), what trains (``adapters``), the training loop (``training``, with its
``batches`` and resumable ``checkpoint``). Light on import: torch and transformers load inside the
functions that need them."""
