"""One optimiser and schedule builder for the 2D and 3D trainers; 3D specs share the 2D blocks and --set."""

from __future__ import annotations

import pytest
import torch

from xraylab.errors import ConfigError
from xraylab.train.optim import build_optimizer, build_scheduler
from xraylab.train.spec import OptimizerSpec, SchedulerSpec
from xraylab.volumes.spec import load_volume_spec


def test_poly_schedule_is_nnunet_closed_form():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = build_optimizer(OptimizerSpec(name="sgd", lr=0.01, momentum=0.99), [p])
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["nesterov"]
    sched = build_scheduler(SchedulerSpec(name="poly", exponent=0.9), opt, epochs=10)
    for e in range(10):
        assert opt.param_groups[0]["lr"] == pytest.approx(0.01 * (1 - e / 10) ** 0.9)
        opt.step()
        sched.step()


def test_volume_spec_shares_blocks_and_takes_set(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("task: segmentation_3d\ndata: vols\noptimizer: {name: adam, lr: 0.01, poly_exponent: 0.5}\n")
    s = load_volume_spec(spec, sets=["optimizer.lr=0.002", "scheduler.exponent=2"], epochs=3)
    assert isinstance(s.optimizer, OptimizerSpec) and s.optimizer.lr == 0.002 and s.epochs == 3
    assert s.scheduler.name == "poly" and s.scheduler.exponent == 2.0  # the old key read as the schedule
    assert s.data == str(tmp_path / "vols")
    with pytest.raises(ConfigError, match="optimizer.lrr"):
        load_volume_spec(spec, sets=["optimizer.lrr=1"])


def test_volume_spec_defaults_are_nnunet():
    from xraylab.volumes.spec import VolumeTrainSpec

    s = VolumeTrainSpec()
    assert (s.optimizer.name, s.optimizer.lr, s.optimizer.momentum) == ("sgd", 0.01, 0.99)
    assert (s.scheduler.name, s.scheduler.exponent) == ("poly", 0.9)
