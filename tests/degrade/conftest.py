"""Fixtures for the degradation tests: one test image per modality (synthetic, always available)
and the real chest radiograph from ../shared/data (skipped with a reason when absent)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

# load the sibling helper module by path, independent of pytest's import mode
_spec = importlib.util.spec_from_file_location("_xraylab_degrade_test_images", Path(__file__).with_name("images.py"))
images = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(images)


@pytest.fixture(scope="session")
def test_images():
    """The helper module that builds the synthetic test images."""
    return images


@pytest.fixture(scope="session")
def xray_image() -> torch.Tensor:
    return images.synthetic_radiograph(256)


@pytest.fixture(scope="session")
def derm_image() -> torch.Tensor:
    return images.synthetic_dermoscopy(256)


@pytest.fixture(scope="session")
def ct_slice() -> torch.Tensor:
    return images.synthetic_ct((256, 256))


@pytest.fixture(scope="session")
def ct_volume() -> torch.Tensor:
    return images.synthetic_ct((16, 40, 40))


@pytest.fixture(scope="session")
def real_xray(shared_data) -> torch.Tensor:
    path = shared_data / "radiographs" / "chest_pa_cr.dcm"
    if not path.is_file():
        pytest.skip(f"real radiograph not found at {path}")
    pytest.importorskip("pydicom", reason="pydicom is needed to read the real radiograph")
    return images.real_radiograph(path, 256)


@pytest.fixture(scope="session")
def modality_images(xray_image, derm_image, ct_slice) -> dict[str, torch.Tensor]:
    """The 256 x 256 synthetic test image of each modality tag."""
    return {"xray": xray_image, "dermoscopy": derm_image, "ct": ct_slice}


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    """Run the degradation tests on one intra-op thread (much faster on a shared 2-core machine); restore after."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
