"""ML: models (TF-IDF baseline, LoRA causal LM), training, honest evaluation, the MLflow registry, scoring."""
