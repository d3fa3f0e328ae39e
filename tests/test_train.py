"""nnkit.train.fit: History bookkeeping, shuffling, early stopping with restore, callback, progress bar."""

import copy

import numpy as np
import pytest

from nnkit import optim
from nnkit.models import MLP
from nnkit.train import History, fit


def _blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = np.array([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])[y] + 0.7 * rng.standard_normal((n, 2))
    return X, y


def _model(seed=0, **kw):
    return MLP([2, 8, 3], activation="tanh", seed=seed, **kw)


def test_history_lengths_and_fields():
    X, y = _blobs()
    X_val, y_val = _blobs(30, seed=1)
    model = _model()
    h = fit(model, X, y, optim.SGD(model.params, lr=0.1), epochs=5, batch_size=16, X_val=X_val, y_val=y_val,
            progress=False)
    assert isinstance(h, History)
    assert len(h) == len(h.loss) == len(h.acc) == len(h.val_loss) == len(h.val_acc) == 5
    assert h.best_epoch == int(np.argmin(h.val_loss))
    assert h.stopped_epoch is None
    assert h.loss[-1] < h.loss[0]
    assert h.acc[-1] == model.score(X, y) and h.val_acc[-1] == model.score(X_val, y_val)
    assert h.val_loss[-1] == pytest.approx(model.loss(X_val, y_val, train=False)[0])
    other = _model()
    h2 = fit(other, X, y, optim.SGD(other.params, lr=0.1), epochs=3, progress=False)
    assert len(h2.loss) == 3 and h2.val_loss == [] and h2.val_acc == [] and h2.best_epoch is None


def test_epoch_loss_is_the_mean_batch_loss():
    # one full batch, no shuffling: the recorded loss is the loss before the single step
    X, y = _blobs()
    model = _model()
    before = model.loss(X, y)[0]
    h = fit(model, X, y, optim.SGD(model.params, lr=0.1), epochs=1, batch_size=len(X), shuffle=False,
            progress=False)
    assert h.loss == [pytest.approx(before, rel=1e-12)]
    # batches of 25, 25, 10: the epoch loss weights each batch by its size
    model, ref = _model(), _model()
    opt, ref_opt = optim.SGD(model.params, lr=0.1), optim.SGD(ref.params, lr=0.1)
    total = 0.0
    for s in (slice(0, 25), slice(25, 50), slice(50, 60)):
        value, grads = ref.loss(X[s], y[s])
        ref_opt.step(grads)
        total += value * (s.stop - s.start)
    h = fit(model, X, y, opt, epochs=1, batch_size=25, shuffle=False, progress=False)
    assert h.loss[0] == pytest.approx(total / 60, rel=1e-12)
    for k in model.params:
        np.testing.assert_array_equal(model.params[k], ref.params[k])


def test_seeded_shuffling_is_reproducible():
    X, y = _blobs()

    def run(seed, shuffle=True):
        model = _model()
        fit(model, X, y, optim.SGD(model.params, lr=0.1), epochs=2, batch_size=8, seed=seed,
            shuffle=shuffle, progress=False)
        return model.params["W1"].copy()

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))
    np.testing.assert_array_equal(run(3, shuffle=False), run(4, shuffle=False))


def test_early_stopping_stops_and_restores_best_params():
    # validating on flipped labels: the better the fit, the worse the validation loss, so the best
    # epoch is the first one and patience 2 stops training after epoch 2
    X, y = _blobs()
    y_bad = (y + 1) % 3
    model = _model()
    snapshots = []
    h = fit(model, X, y, optim.SGD(model.params, lr=0.2, momentum=0.5), epochs=20, batch_size=10,
            X_val=X, y_val=y_bad, early_stopping=2, progress=False,
            callback=lambda epoch, hist: snapshots.append(copy.deepcopy(model.params)))
    assert h.best_epoch == 0 and h.stopped_epoch == 2
    assert len(h.loss) == len(h.val_loss) == 3 and len(snapshots) == 3
    assert h.val_loss[0] < h.val_loss[1] < h.val_loss[2]
    for k in model.params:
        np.testing.assert_array_equal(model.params[k], snapshots[0][k])
        assert not np.array_equal(model.params[k], snapshots[2][k])
    assert model.loss(X, y_bad, train=False)[0] == pytest.approx(h.val_loss[0], rel=1e-12)


def test_early_stopping_restores_best_even_without_stopping():
    X, y = _blobs()
    X_val, y_val = _blobs(30, seed=1)
    model = _model()
    h = fit(model, X, y, optim.SGD(model.params, lr=0.1), epochs=4, X_val=X_val, y_val=y_val,
            early_stopping=10, progress=False)
    assert h.stopped_epoch is None and len(h.loss) == 4
    assert model.loss(X_val, y_val, train=False)[0] == pytest.approx(min(h.val_loss), rel=1e-12)


def test_callback_sees_every_epoch_and_can_stop():
    X, y = _blobs()
    model = _model()
    seen = []

    def callback(epoch, history):
        seen.append((epoch, len(history.loss)))
        return epoch == 3

    h = fit(model, X, y, optim.SGD(model.params, lr=0.1), epochs=10, progress=False, callback=callback)
    assert seen == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert h.stopped_epoch == 3 and len(h.loss) == 4


def test_progress_false_prints_nothing_and_true_shows_a_bar(capsys):
    X, y = _blobs()
    model = _model()
    fit(model, X, y, optim.SGD(model.params, lr=0.1), epochs=2, progress=False)
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    fit(model, X, y, optim.SGD(model.params, lr=0.1), epochs=2, progress=True)
    out, err = capsys.readouterr()
    assert "2/2" in out + err


def test_float64_data_train_a_float32_model():
    X, y = _blobs()
    model = _model(dtype=np.float32)
    fit(model, X, y, optim.Adam(model.params, lr=0.01), epochs=3, progress=False)
    assert all(v.dtype == np.float32 for v in model.params.values())


def test_bad_arguments():
    X, y = _blobs()
    model = _model()
    opt = optim.SGD(model.params, lr=0.1)
    with pytest.raises(ValueError, match="epochs: expected an integer >= 1, got 0"):
        fit(model, X, y, opt, epochs=0, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        fit(model, X, y, opt, batch_size=0, progress=False)
    with pytest.raises(ValueError, match="X has 60 rows but y has 59"):
        fit(model, X, y[:-1], opt, progress=False)
    with pytest.raises(ValueError, match="early_stopping: needs validation data"):
        fit(model, X, y, opt, early_stopping=3, progress=False)
    with pytest.raises(ValueError, match="early_stopping"):
        fit(model, X, y, opt, X_val=X, y_val=y, early_stopping=0, progress=False)
    with pytest.raises(ValueError, match="X_val and y_val: pass both"):
        fit(model, X, y, opt, X_val=X, progress=False)
    with pytest.raises(ValueError, match="X: contains NaN"):
        fit(model, np.where(X > 1, np.nan, X), y, opt, progress=False)
    with pytest.raises(TypeError, match="model: expected an object with params"):
        fit(object(), X, y, opt, progress=False)
    with pytest.raises(TypeError, match="optimizer"):
        fit(model, X, y, None, progress=False)
    with pytest.raises(ValueError, match=r"X: expected shape \(\?, 2\)"):
        fit(model, np.zeros((60, 5)), y, opt, progress=False)


def test_bad_data_stops_fit_before_the_first_step():
    """The data are checked once, up front: a bad label in the last batch changes no parameter."""
    X, y = _blobs()
    X_val, y_val = _blobs(30, seed=1)
    model = _model()
    before = {k: v.copy() for k, v in model.params.items()}
    opt = optim.SGD(model.params, lr=0.1)
    y_bad = y.copy()
    y_bad[-1] = 3
    with pytest.raises(ValueError, match=r"y: label 3 out of range for 3 classes"):
        fit(model, X, y_bad, opt, batch_size=8, shuffle=False, progress=False)
    y_val_bad = y_val.copy()
    y_val_bad[0] = -1
    with pytest.raises(ValueError, match="y: labels must be >= 0, got -1"):
        fit(model, X, y, opt, X_val=X_val, y_val=y_val_bad, progress=False)
    with pytest.raises(ValueError, match=r"X: expected shape \(\?, 2\)"):
        fit(model, X, y, opt, X_val=np.zeros((30, 3)), y_val=y_val, progress=False)
    for k, v in before.items():
        np.testing.assert_array_equal(model.params[k], v, err_msg=k)
    assert opt.state == {}


def test_validation_leaves_the_last_gradients_alone():
    """fit's validation loss comes from model.evaluate: the grads after fit are the last batch's."""
    X, y = _blobs()
    X_val, y_val = _blobs(30, seed=1)
    model = _model()
    seen = []

    class Recording(optim.SGD):
        def step(self, grads):
            seen.append({k: v.copy() for k, v in grads.items()})
            super().step(grads)

    fit(model, X, y, Recording(model.params, lr=0.1), epochs=2, batch_size=16, X_val=X_val, y_val=y_val,
        progress=False)
    for k, v in seen[-1].items():
        np.testing.assert_array_equal(model.grads[k], v, err_msg=k)
