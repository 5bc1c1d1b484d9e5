"""The same evaluation on CUDA and on CPU gives the same rows (skips without a GPU)."""

import numpy as np
import pytest
import torch

from xraylab.evaluate.models import ModelPool
from xraylab.evaluate.spec import AdversarialSuite, RotationSuite
from xraylab.evaluate.suites import adversarial, rotation
from xraylab.evaluate.suites.base import Context

from .helpers import make_rotation_dataset, seg_model, train_threshold_net


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(tmp_path):
    make_rotation_dataset(tmp_path, subjects=1)
    net = train_threshold_net(tmp_path, steps=60)
    out = {}
    for device in ("cpu", "cuda"):
        m = seg_model("m", net)
        m.module.to(device)
        ctx = Context(pool=ModelPool({}, device, preloaded={"m": m}), device=device)
        rot = rotation.run(ctx, RotationSuite(dataset=str(tmp_path)))
        adv = adversarial.run(ctx, AdversarialSuite(dataset=str(tmp_path), epsilons=[0.0], attacks=["fgsm"]))
        out[device] = (rot["value"].to_numpy(), adv["value"].to_numpy())
    for a, b in zip(out["cpu"], out["cuda"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
