"""Robustness suites: rotation (Fok et al.), corruption (RAMP), classification (Ward & Imran,
MedMNIST-C), adversarial (FGSM / PGD). Each module has ``run(ctx, cfg) -> rows`` and
``report(rows, cfg, fig_dir) -> Section``."""

from xraylab.evaluate.suites import adversarial, classification, corruption, rotation

SUITES = {"rotation": rotation, "corruption": corruption, "classification": classification, "adversarial": adversarial}

__all__ = ["SUITES", "adversarial", "classification", "corruption", "rotation"]
