"""Models under evaluation: a torch module plus the facts the evaluator needs about it.

The trainer's ``xraylab.train.checkpoint.load_model(path, device)`` returns
``(module in eval mode, info)``; :func:`load_model_spec` wraps it (imported lazily). Any
``torch.nn.Module`` with an info dict can also be evaluated through :func:`from_module`
(what the tests do).

Contract: segmentation modules map ``[B, C, S, S]`` images in [0, 1] to logits
``[B, K, S, S]`` (sigmoid per class, threshold 0.5); classifiers (tasks
``classification``, ``severity``, ``type``) map them to logits ``[B, K]`` (argmax).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch

from xraylab.errors import ConfigError

SEGMENTATION = "segmentation"
CLASSIFIER_TASKS = ("classification", "severity", "type")
TASKS = (SEGMENTATION,) + CLASSIFIER_TASKS


@dataclass
class EvalModel:
    """A module ready for inference with its task, class names and input geometry."""

    name: str
    module: torch.nn.Module
    task: str
    classes: list[str]
    image_size: int
    in_channels: int
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def is_segmentation(self) -> bool:
        return self.task == SEGMENTATION


def from_module(
    name: str, module: torch.nn.Module, info: Mapping[str, Any], device: str | torch.device = "cpu"
) -> EvalModel:
    """Wrap a module and its info dict (keys task, classes, image_size, in_channels); puts it in eval mode."""
    missing = [k for k in ("task", "classes", "image_size", "in_channels") if k not in info]
    if missing:
        raise ConfigError(f"model {name!r}: info lacks {', '.join(missing)}")
    task = str(info["task"])
    if task not in TASKS:
        raise ConfigError(f"model {name!r}: unknown task {task!r}; expected one of {TASKS}")
    module = module.to(device).eval()
    return EvalModel(
        name=name,
        module=module,
        task=task,
        classes=[str(c) for c in info["classes"]],
        image_size=int(info["image_size"]),
        in_channels=int(info["in_channels"]),
        info=dict(info),
    )


def load_model_spec(name: str, path: str, device: str | torch.device = "cpu") -> EvalModel:
    """Load a trainer checkpoint (run folder or ``.pt``) through ``xraylab.train.checkpoint.load_model``."""
    from xraylab.train.checkpoint import load_model  # raises InputFileError naming a missing or broken file

    module, info = load_model(path, device=str(device))
    return from_module(name, module, info, device)


class ModelPool:
    """Loads each named model at most once, on first use.

    ``preloaded`` maps names to ready :class:`EvalModel` objects (tests, notebooks);
    other names are loaded from ``paths`` with ``loader`` (default :func:`load_model_spec`).
    """

    def __init__(
        self,
        paths: Mapping[str, str],
        device: str | torch.device = "cpu",
        preloaded: Mapping[str, EvalModel] | None = None,
        loader: Callable[[str, str, Any], EvalModel] | None = None,
    ) -> None:
        self.paths = dict(paths)
        self.device = device
        self._cache: dict[str, EvalModel] = dict(preloaded or {})
        self._loader = loader

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(list(self.paths) + list(self._cache)))

    def get(self, name: str) -> EvalModel:
        if name not in self._cache:
            if name not in self.paths:
                raise ConfigError(f"unknown model {name!r}; models are {self.names}")
            loader = self._loader or load_model_spec
            self._cache[name] = loader(name, self.paths[name], self.device)
        return self._cache[name]

    def select(self, names: list[str] | None, segmentation: bool | None) -> list[EvalModel]:
        """Models named in ``names`` (default: all), keeping those of the wanted kind when ``names`` is None.

        Raises :class:`ConfigError` when a named model is of the wrong kind or nothing is left.
        """
        kind = {True: "segmentation", False: "classification", None: "any"}[segmentation]
        if names is not None:
            out = [self.get(n) for n in names]
            wrong = [m.name for m in out if segmentation is not None and m.is_segmentation != segmentation]
            if wrong:
                raise ConfigError(f"model(s) {wrong} are not {kind} models")
        else:
            out = [
                m for m in (self.get(n) for n in self.names)
                if segmentation is None or m.is_segmentation == segmentation
            ]
        if not out:
            raise ConfigError(f"no {kind} model to evaluate; the spec's models are {self.names}")
        return out
