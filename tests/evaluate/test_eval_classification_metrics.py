import numpy as np
import pytest

from xraylab.evaluate.metrics import accuracy, balanced_accuracy, balanced_error, confusion_matrix, per_class_accuracy


def test_hand_built_confusion():
    t = [0, 0, 0, 0, 1, 1, 2, 2]
    p = [0, 0, 0, 1, 1, 0, 2, 1]
    cm = confusion_matrix(t, p, 3)
    np.testing.assert_array_equal(cm, [[3, 1, 0], [1, 1, 0], [0, 1, 1]])
    assert accuracy(t, p) == pytest.approx(5 / 8)
    np.testing.assert_allclose(per_class_accuracy(t, p, 3), [0.75, 0.5, 0.5])
    assert balanced_accuracy(t, p, 3) == pytest.approx((0.75 + 0.5 + 0.5) / 3)
    assert balanced_error(t, p, 3) == pytest.approx(1 - 1.75 / 3)


def test_absent_class_is_ignored_in_balanced_accuracy():
    pca = per_class_accuracy([0, 0, 1], [0, 1, 1], 3)
    assert np.isnan(pca[2])
    assert balanced_accuracy([0, 0, 1], [0, 1, 1], 3) == pytest.approx(0.75)


def test_out_of_range_label_raises():
    with pytest.raises(ValueError):
        confusion_matrix([0, 3], [0, 1], 3)
