"""FixMatch, Mean Teacher and PseudoLabel: what each method computes, and that it learns."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from sklearn.datasets import make_moons  # noqa: E402

from sklearn_ssl.datasets import hide_labels  # noqa: E402
from sklearn_ssl.neural import (  # noqa: E402
    MLP,
    FixMatchClassifier,
    MeanTeacherClassifier,
    PseudoLabelClassifier,
    confidence_weight,
    ema_update_,
    lee_alpha,
    sigmoid_rampup,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def moons():
    X, y = make_moons(n_samples=300, noise=0.1, random_state=0)
    return X, y, hide_labels(y, n_per_class=5, random_state=0)


@pytest.mark.parametrize(
    "clf",
    [
        FixMatchClassifier(threshold=0.8),
        MeanTeacherClassifier(rampup_length=20),
        PseudoLabelClassifier(rampup_start=10, rampup_end=40),
    ],
    ids=["fixmatch", "mean_teacher", "pseudo_label"],
)
def test_each_method_learns_two_moons(clf, moons):
    X, y, y_ssl = moons
    clf.set_params(hidden_layer_sizes=(32,), max_epochs=8, batch_size=16, lr=0.01, random_state=0)
    clf.fit(X, y_ssl)
    assert np.mean(clf.predict(X) == y) > 0.75
    assert clf.history[-1, "unsup_weight"] > 0


def test_confidence_weight_hard_and_smooth():
    tau = 0.8
    p = torch.tensor([0.5, 0.8, 0.9, 1.0])
    assert confidence_weight(p, tau, "hard").tolist() == [0.0, 1.0, 1.0, 1.0]
    # Seed 002: ((p - tau) / (1 - tau)) ** mu, 0 below tau, 1 at p = 1.
    for exponent, middle in [(1.0, 0.5), (2.0, 0.25), (0.5, math.sqrt(0.5))]:
        w = confidence_weight(p, tau, "smooth", exponent)
        assert w[0] == 0 and w[1] == 0 and w[3].item() == pytest.approx(1.0)
        assert w[2].item() == pytest.approx(middle, rel=1e-5)


def test_smooth_threshold_changes_the_unlabelled_loss(moons):
    X, _, y_ssl = moons
    # One step per epoch (300 unlabelled rows per step), so epoch 0 is the first step.
    params = dict(hidden_layer_sizes=(16,), max_epochs=1, batch_size=150, mu=2, random_state=0)
    hard = FixMatchClassifier(threshold=0.6, **params).fit(X, y_ssl)
    smooth = FixMatchClassifier(threshold=0.6, threshold_mode="smooth", **params).fit(X, y_ssl)
    assert hard.n_steps_ == 1
    # Same data, seed and weights: the smooth factor is below the hard mask.
    assert smooth.history[0, "unsup_loss"] < hard.history[0, "unsup_loss"]
    assert smooth.history[0, "mask_rate"] == pytest.approx(hard.history[0, "mask_rate"])


def test_distribution_alignment_tracks_the_prediction_marginal(moons):
    X, _, y_ssl = moons
    clf = FixMatchClassifier(
        distribution_alignment=True, hidden_layer_sizes=(16,), max_epochs=2, random_state=0
    ).fit(X, y_ssl)
    marginal = clf.prediction_marginal_
    assert marginal.shape == (2,) and marginal.device.type == "cpu"
    assert marginal.sum().item() == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(clf.label_distribution_, [0.5, 0.5])


def test_ema_update_follows_the_decay():
    torch.manual_seed(0)
    student, teacher = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    old = [p.detach().clone() for p in teacher.parameters()]
    ema_update_(teacher, student, 0.9)
    for t, s, o in zip(teacher.parameters(), student.parameters(), old, strict=True):
        torch.testing.assert_close(t, 0.9 * o + 0.1 * s)
    ema_update_(teacher, student, 0.0)
    for t, s in zip(teacher.parameters(), student.parameters(), strict=True):
        assert torch.equal(t, s)


def test_mean_teacher_registers_its_teacher(moons):
    X, _, y_ssl = moons
    params = dict(hidden_layer_sizes=(16,), max_epochs=2, batch_size=16, random_state=0)
    clf = MeanTeacherClassifier(callbacks__ema__decay=0.0, **params).fit(X, y_ssl)
    assert "teacher_module" in clf._modules
    assert not any(p.requires_grad for p in clf.teacher_module_.parameters())
    for t, s in zip(clf.teacher_module_.parameters(), clf.module_.parameters(), strict=True):
        assert torch.equal(t, s)  # decay 0: the teacher is the student
    # The teacher is not trained by the optimizer.
    optimized = {id(p) for group in clf.optimizer_.param_groups for p in group["params"]}
    assert not optimized & {id(p) for p in clf.teacher_module_.parameters()}

    clf = MeanTeacherClassifier(rampup_length=50, **params).fit(X, y_ssl)
    clf.n_steps_ = 10_000  # far past the warm-up
    assert clf.get_ema_decay() == 0.999
    clf.n_steps_ = 1_000
    clf.set_params(rampup_length=5_000)
    assert clf.get_ema_decay() == 0.99
    assert clf.consistency_weight_at(0) == pytest.approx(10.0 * math.exp(-5))
    assert clf.consistency_weight_at(5_000) == 10.0


def test_lee_alpha_schedule():
    # Seed 000: 0 until T1=100, linear to alpha_f=3 at T2=600.
    values = [lee_alpha(t, 100, 600, 3.0) for t in (0, 99, 100, 350, 600, 1000)]
    assert values == [0.0, 0.0, 0.0, 1.5, 3.0, 3.0]
    assert sigmoid_rampup(0, 10) == pytest.approx(math.exp(-5))
    assert sigmoid_rampup(10, 10) == 1.0


def test_pseudo_label_weight_is_zero_before_t1(moons):
    X, _, y_ssl = moons
    params = dict(hidden_layer_sizes=(16,), max_epochs=2, batch_size=16, random_state=0)
    clf = PseudoLabelClassifier(rampup_start=1_000, rampup_end=2_000, **params).fit(X, y_ssl)
    assert clf.history[:, "unsup_weight"] == [0.0, 0.0]
    assert clf.history[:, "unsup_loss"] == [0.0, 0.0]
    clf = PseudoLabelClassifier(rampup_start=0, rampup_end=1, schedule_unit="epoch", **params).fit(
        X, y_ssl
    )
    assert clf.history[-1, "unsup_weight"] == 3.0
    assert clf.history[-1, "mask_rate"] == 1.0


def test_epoch_schedule_continues_across_calls_on_data_of_another_size():
    # t counts epochs over every call: 2 epochs on 40 rows, then 2 on 400, must
    # reach alpha_f = 3 from epoch 3 on (steps over this call's epoch length gave
    # 0.04 and 1.94: the ramp went backwards).
    rng = np.random.RandomState(0)

    def data(n):
        X = rng.randn(n, 4).astype(np.float32)
        y = np.full(n, -1)
        y[:10] = np.arange(10) % 2
        return X, y

    clf = PseudoLabelClassifier(
        hidden_layer_sizes=(8,),
        max_epochs=2,
        batch_size=4,
        mu=1,
        rampup_start=1,
        rampup_end=2,
        schedule_unit="epoch",
        random_state=0,
    )
    clf.fit(*data(40))
    clf.partial_fit(*data(400))
    weights = clf.history[:, "unsup_weight"]
    assert weights[0] == 0.0 and 0 < weights[1] < 3.0
    assert weights[2:] == [3.0, 3.0]


def test_alignment_and_smooth_weights_stay_finite():
    # All of a row's probability on a class without labelled rows (prior 0): the
    # aligned distribution was 0 / 0, and the smooth weight kept the NaN.
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4).astype(np.float32)
    y = np.full(60, -1)
    y[:10] = np.arange(10) % 2
    net = MLP(4, 3, (8,))
    with torch.no_grad():
        net.layers[-1].bias[:] = torch.tensor([0.0, 0.0, 120.0])
    clf = FixMatchClassifier(
        net,
        max_epochs=2,
        batch_size=4,
        mu=2,
        threshold=0.5,
        threshold_mode="smooth",
        distribution_alignment=True,
        random_state=0,
    )
    clf.partial_fit(X, y, classes=[0, 1, 2])
    assert np.isfinite(clf.history[:, "unsup_loss"]).all()
    # Such rows take the prior (confidence 0.5 here), not their own prediction.
    clf.prediction_marginal_ = None
    aligned = clf._align_distribution(torch.tensor([[0.0, 0.0, 1.0], [0.2, 0.3, 0.5]]))
    torch.testing.assert_close(aligned[0], torch.tensor([0.5, 0.5, 0.0]))
    assert aligned[1].sum().item() == pytest.approx(1.0)
    assert np.isfinite(clf.predict_proba(X)).all()
    assert confidence_weight(torch.tensor([0.5, 1.0]), 1.0, "smooth").tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="'hard' or 'smooth'"):
        confidence_weight(torch.tensor([0.5]), 0.9, "soft")


def test_label_shares_come_from_the_training_part():
    # Distribution alignment's prior: a class labelled only in the validation part
    # has share 0 (the validation part stays unseen, as for BatchNorm).
    from torch.utils.data import Subset

    rng = np.random.RandomState(0)
    X = rng.randn(100, 4).astype(np.float32)
    y = np.full(100, -1)
    y[20:60] = np.repeat([0, 1], 20)
    y[:3] = 2
    valid, train = np.arange(20), np.arange(20, 100)

    def split(dataset, y=None, **kwargs):
        return Subset(dataset, train), Subset(dataset, valid)

    clf = FixMatchClassifier(
        hidden_layer_sizes=(8,),
        max_epochs=1,
        batch_size=8,
        mu=1,
        train_split=split,
        random_state=0,
    ).fit(X, y)
    np.testing.assert_allclose(clf.label_distribution_, [0.5, 0.5, 0.0])


def test_label_counts_follow_the_rows_trained_on_and_refused_calls_count_nothing():
    from skorch.dataset import Dataset, ValidSplit

    rng = np.random.RandomState(0)
    X = rng.randn(100, 4).astype(np.float32)
    y = np.full(100, -1)
    y[:20] = np.arange(20) % 2
    # A split that returns plain Datasets (not Subsets): the training part's own labels.
    train, valid = np.arange(12, 100), np.arange(12)

    def split(dataset, y=None, **kwargs):
        return Dataset(X[train], y[train]), Dataset(X[valid], y[valid])

    params = dict(hidden_layer_sizes=(8,), max_epochs=1, batch_size=8, mu=1, random_state=0)
    clf = FixMatchClassifier(**params, train_split=split).fit(X, y)
    assert clf._label_counts.tolist() == [4, 4]
    # A partial_fit refused after the split (a part without labelled rows) leaves
    # the counts and the shares as they were.
    clf = FixMatchClassifier(**params).fit(X, y)
    before = clf._label_counts.tolist()
    clf.set_params(train_split=ValidSplit(5, stratified=False))
    y_late = np.full(100, -1)
    # Labels only in the training part: the validation part has none, so the call is
    # refused after the split, with labels that counting too early would add.
    y_late[50:60] = np.arange(10) % 2
    with pytest.raises(ValueError, match="validation part of the data holds no labelled row"):
        clf.partial_fit(X, y_late)
    assert clf._label_counts.tolist() == before


def test_one_label_per_class_raises_no_regression_warning():
    # 30 classes, one label each: scikit-learn's "more than 50% unique classes"
    # warning is noise when labels are scarce by design.
    import warnings

    rng = np.random.RandomState(0)
    X = rng.randn(120, 4).astype(np.float32)
    y = np.full(120, -1)
    y[:30] = np.arange(30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PseudoLabelClassifier(hidden_layer_sizes=(8,), max_epochs=1, batch_size=8).fit(X, y)


def test_default_ramps_end_within_a_fit_of_any_length(moons):
    # The default ramps are fractions of the training length: a fit of 20 or of 200
    # steps ends at the full unlabelled weight, and partial_fit stays there.
    X, _, y_ssl = moons
    params = dict(hidden_layer_sizes=(8,), batch_size=8, random_state=0)
    for max_steps in (20, 200):
        teacher = MeanTeacherClassifier(max_steps=max_steps, **params).fit(X, y_ssl)
        weights = teacher.history[:, "unsup_weight"]
        assert weights[0] < 1.0 and weights[-1] == teacher.consistency_weight
        lee = PseudoLabelClassifier(max_steps=max_steps, **params).fit(X, y_ssl)
        weights = lee.history[:, "unsup_weight"]
        assert weights[0] == 0.0 and weights[-1] == lee.max_unlabeled_weight
    lee.partial_fit(X, y_ssl)
    assert lee.history[:, "unsup_weight"][-20:] == [lee.max_unlabeled_weight] * 20
    # Counts keep their meaning: T1 = 150 steps is not reached in 100.
    lee = PseudoLabelClassifier(max_steps=100, rampup_start=150, rampup_end=300, **params)
    assert lee.fit(X, y_ssl).history[:, "unsup_weight"] == [0.0] * 20
    # With max_epochs the training length is max_epochs passes.
    lee = PseudoLabelClassifier(max_epochs=4, rampup_start=0.25, rampup_end=0.5, **params)
    weights = lee.fit(X, y_ssl).history[:, "unsup_weight"]
    assert weights[0] == 0.0 and 0 < weights[1] < 3.0 and weights[2:] == [3.0, 3.0]


@pytest.mark.parametrize(
    "cls, params, match",
    [
        (MeanTeacherClassifier, {"rampup_length": 1.5}, "rampup_length"),
        (PseudoLabelClassifier, {"rampup_end": 2.0}, "rampup_end"),
        (PseudoLabelClassifier, {"rampup_start": 0.1, "rampup_end": 600}, "both be counts"),
        (PseudoLabelClassifier, {"rampup_start": 0.5, "rampup_end": 0.2}, "must not be smaller"),
    ],
)
def test_ramp_points_are_counts_or_fractions(moons, cls, params, match):
    X, _, y_ssl = moons
    with pytest.raises(ValueError, match=match):
        cls(**params).fit(X, y_ssl)
    # rampup_start=0 goes with either kind.
    PseudoLabelClassifier(rampup_start=0, rampup_end=0.5, max_steps=2).fit(X, y_ssl)


def test_default_strong_view_is_gaussian_noise_on_tables_and_randaugment_on_images(moons):
    from sklearn_ssl.neural import GaussianNoise, RandAugmentCutout

    X, _, y_ssl = moons
    table = FixMatchClassifier(max_steps=1, batch_size=8, random_state=0).fit(X, y_ssl)
    assert isinstance(table.strong_augmentation_, GaussianNoise)
    assert table.strong_augmentation_.scale == 0.2
    images = np.random.RandomState(0).rand(40, 1, 16, 16).astype(np.float32)
    y_img = np.full(40, -1)
    y_img[:4], y_img[4:8] = 0, 1
    net = FixMatchClassifier(max_steps=1, batch_size=4, random_state=0).fit(images, y_img)
    assert isinstance(net.strong_augmentation_, RandAugmentCutout)
