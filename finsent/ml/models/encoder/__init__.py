"""An encoder fine-tuned as a two-way sequence classifier (kind ``encoder``): ``network`` scores titles,
``classifier`` is finsent's model interface (fit, predict_proba, save, load)."""

from finsent.ml.models.encoder.classifier import EncoderClassifier

__all__ = ["EncoderClassifier"]
