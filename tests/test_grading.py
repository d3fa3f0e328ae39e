"""nnkit.grading: the messages students see, and the reference tripwire."""

import numpy as np
import pytest

import nnkit
from nnkit import grading, losses, optim
from nnkit.grading import CheckFailed, ReferenceUsed, check_equal, compare, forbid_reference


def test_compare_agrees_within_tolerance_and_keeps_float32():
    assert compare(np.float32(2.0400001), 2.04, rtol=1e-6) is None
    assert compare((1.0, np.ones(3)), (1.0, np.ones(3))) is None
    assert compare({"W1": np.zeros((2, 2))}, {"W1": np.zeros((2, 2))}) is None


@pytest.mark.parametrize("got, expected, fragment", [
    (np.ones((2, 3)), np.ones((3, 2)), "expected shape (3, 2), got shape (2, 3)"),
    (np.ones(3), np.ones((3, 1)), "expected shape (3, 1), got shape (3,)"),  # would broadcast
    (None, 1.0, "forget to `return`"),
    (np.array([1.0, np.nan]), np.ones(2), "NaN or inf (first at index (1,))"),
    ({"W1": 1.0}, {"W1": 1.0, "b1": 0.0}, "missing keys ['b1']"),
    ((np.ones(2),), (np.ones(2), 1.0), "expected 2 items, got 1"),
    ("0.5", 0.5, "is a str"),
])
def test_compare_names_what_is_wrong(got, expected, fragment):
    assert fragment in compare(got, expected)


def test_compare_reports_where_the_error_is_largest():
    expected = np.zeros((3, 4))
    got = expected.copy()
    got[2, 1] = 0.5
    got[0, 0] = 1e-3
    why = compare(got, expected)
    assert "2 of 12 entries" in why and "index (2, 1)" in why and "expected 0, got 0.5" in why


def test_checks_print_on_success_and_raise_assertion_errors(capsys):
    grading.check_close(np.array([1.0, 2.0]), [1.0, 2.0], "two values")
    grading.check_equal(np.array([1, -1]), [1, -1], "labels")
    grading.check_true(True, "a fact")
    assert capsys.readouterr().out.count("\u2713") == 3
    with pytest.raises(AssertionError, match=r"part A: expected shape \(2,\), got shape \(3,\)"):
        grading.check_close(np.zeros(3), np.zeros(2), "part A")
    with pytest.raises(CheckFailed, match="first at index \\(1,\\): expected 2, got 3"):
        grading.check_equal(np.array([1, 3]), [1, 2], "labels")
    with pytest.raises(CheckFailed, match="expected True or False"):
        grading.check_true(np.array([True]), "an array is not a bool")
    with pytest.raises(CheckFailed, match="expected ValueError, but nothing was raised"):
        grading.check_raises(lambda: None, ValueError, "raises")


def test_forbid_reference_trips_every_alias_and_restores_them():
    original = losses.mse
    namespace = {"my_mse": losses.mse, "other": len}
    with forbid_reference(["nnkit.losses.mse"], namespaces=(namespace,)) as used:
        for call in (losses.mse, nnkit.losses.mse, namespace["my_mse"]):
            with pytest.raises(ReferenceUsed, match="may not use nnkit.losses.mse"):
                call(np.ones(2), np.zeros(2))
        assert namespace["other"] is len
    assert used == ["nnkit.losses.mse"] * 3
    assert losses.mse is original and namespace["my_mse"] is original


def test_forbid_reference_records_use_even_when_the_exception_is_swallowed():
    def sneaky(x):
        try:
            return losses.mae(x, 0 * x)
        except ReferenceUsed:
            return (0.0, x)

    with forbid_reference("nnkit.losses.mae") as used:
        sneaky(np.ones(2))
    assert used == ["nnkit.losses.mae"]


def test_forbid_reference_covers_methods_and_tables():
    with forbid_reference(["nnkit.models.Perceptron.update", "nnkit.optim.RULES"]) as used:
        with pytest.raises(ReferenceUsed):
            nnkit.Perceptron().update(np.ones(2), 1)
        with pytest.raises(ReferenceUsed):
            optim.RULES["adam"]
    assert used == ["nnkit.models.Perceptron.update", "nnkit.optim.RULES"]
    assert callable(optim.RULES["adam"])


def test_forbid_reference_rejects_unknown_names():
    with pytest.raises(ValueError, match="cannot resolve"):
        with forbid_reference(["nnkit.losses.no_such_loss"]):
            pass


def test_names_bound_inside_the_block_get_the_original_back_and_tripwires_leak_nothing():
    original = losses.mse
    namespace: dict = {}
    with forbid_reference(["nnkit.losses.mse"], namespaces=(namespace,)):
        exec("from nnkit.losses import mse as m", namespace)
        wire = namespace["m"]
        assert wire is not original
        reachable = [c.cell_contents for c in (wire.__closure__ or ())]
    assert namespace["m"] is original
    assert not any(obj is original for obj in reachable), "a tripwire must not hand out the original"
    assert not hasattr(wire, "__wrapped__") and not hasattr(wire, "__wrapped_reference__")


def test_check_equal_compares_scalars_too():
    """A 0-d comparison used to pass whatever the values (argwhere of a scalar finds nothing)."""
    check_equal(20, 20, "same")
    with pytest.raises(CheckFailed, match="expected 20, got 860"):
        check_equal(860, 20, "one loss per epoch")
    with pytest.raises(CheckFailed):
        check_equal(np.int64(1), 2, "numpy and Python integers")
