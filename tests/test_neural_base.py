"""The semi-supervised skorch base: data handling, scikit-learn API, devices, bad input."""

import copy
import io
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_moons  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from skorch.callbacks import Callback  # noqa: E402
from skorch.dataset import ValidSplit  # noqa: E402
from torch.utils.data import DataLoader, Subset  # noqa: E402

from sklearn_ssl.datasets import hide_labels  # noqa: E402
from sklearn_ssl.neural import (  # noqa: E402
    MLP,
    FeatureCorruption,
    FixMatchClassifier,
    FlipShift,
    GaussianNoise,
    MeanTeacherClassifier,
    PseudoLabelClassifier,
    RandAugmentCutout,
    SmallCNN,
    WideResNet,
)

torch.set_num_threads(1)

FAST = dict(hidden_layer_sizes=(16,), max_epochs=3, batch_size=16, mu=2, lr=0.01, random_state=0)


@pytest.fixture(scope="module")
def moons():
    X, y = make_moons(n_samples=200, noise=0.1, random_state=0)
    return X, y, hide_labels(y, n_per_class=5, random_state=0)


def _images(n=40, size=16, seed=0):
    """Two classes of 1-channel images: a bright top half or a bright bottom half."""
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    X = rng.uniform(0, 0.2, size=(n, 1, size, size)).astype(np.float32)
    half = size // 2
    X[y == 0, :, :half] += 0.8
    X[y == 1, :, half:] += 0.8
    return X, y


@pytest.mark.parametrize("cls", [FixMatchClassifier, MeanTeacherClassifier, PseudoLabelClassifier])
def test_string_labels_are_encoded(cls, moons):
    X, y, y_ssl = moons
    names = np.array(["neg", "pos"], dtype=object)[y]
    y_str = np.where(y_ssl == -1, -1, names).astype(object)
    y_before = y_str.copy()
    X_before = X.copy()
    clf = cls(**FAST).fit(X, y_str)
    assert clf.classes_.tolist() == ["neg", "pos"]
    assert set(clf.predict(X)) <= {"neg", "pos"}
    assert clf.predict_proba(X).shape == (len(X), 2)
    np.testing.assert_array_equal(X, X_before)  # inputs are not mutated
    np.testing.assert_array_equal(y_str, y_before)


def test_default_module_follows_the_data(moons):
    X, _, y_ssl = moons
    assert isinstance(FixMatchClassifier(**FAST).fit(X, y_ssl).module_, MLP)
    X_img, y_img = _images()
    clf = FixMatchClassifier(max_epochs=1, batch_size=8, mu=1, random_state=0)
    clf.fit(X_img, hide_labels(y_img, n_per_class=5, random_state=0))
    assert isinstance(clf.module_, SmallCNN)
    assert clf.input_shape_ == (1, 16, 16)
    assert clf.predict_proba(X_img).shape == (40, 2)
    with pytest.raises(ValueError, match="fitted on rows of shape"):
        clf.predict(np.zeros((3, 1, 20, 20), dtype=np.float32))


def test_module_class_and_instance(moons):
    X, y, y_ssl = moons
    # A class gets n_features / n_classes from the data; module__ kwargs pass through.
    clf = FixMatchClassifier(MLP, module__hidden_layer_sizes=(8,), **FAST).fit(X, y_ssl)
    assert clf.module_.layers[0].out_features == 8
    # An instance is copied, so the user's module keeps its weights.
    user_module = MLP(2, 2, (8,))
    before = [p.detach().clone() for p in user_module.parameters()]
    FixMatchClassifier(user_module, **FAST).fit(X, y_ssl)
    for p, q in zip(before, user_module.parameters(), strict=True):
        assert torch.equal(p, q)


def test_history_records_semi_supervised_quantities(moons):
    X, _, y_ssl = moons
    clf = FixMatchClassifier(**{**FAST, "threshold": 0.5}).fit(X, y_ssl)
    row = clf.history[-1]
    for key in ("train_loss", "sup_loss", "unsup_loss", "mask_rate", "unsup_weight"):
        assert np.isfinite(row[key])
    assert 0 <= row["mask_rate"] <= 1
    assert len(row["pseudo_label_hist"]) == 2
    assert sum(row["pseudo_label_hist"]) > 0
    # An epoch is one pass over the unlabelled pool: 190 rows in batches of 32.
    assert row["train_batch_count"] == 6


def test_clone_pickle_and_grid_search(moons):
    X, y, y_ssl = moons
    clf = FixMatchClassifier(**FAST)
    cloned = clone(clf)
    assert cloned.get_params()["threshold"] == clf.threshold
    clf.fit(X, y_ssl)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(restored.predict_proba(X), clf.predict_proba(X), rtol=1e-6)
    # Same random_state, same predictions.
    np.testing.assert_allclose(clone(clf).fit(X, y_ssl).predict_proba(X), clf.predict_proba(X))

    search = GridSearchCV(FixMatchClassifier(**FAST), {"threshold": [0.7, 0.95]}, cv=2)
    search.fit(X, y_ssl)
    assert search.best_params_["threshold"] in (0.7, 0.95)
    assert 0 <= search.best_score_ <= 1


def test_partial_fit_and_warm_start_continue_training(moons):
    X, _, y_ssl = moons
    clf = MeanTeacherClassifier(**FAST).fit(X, y_ssl)
    steps = clf.n_steps_
    clf.partial_fit(X, y_ssl)
    assert clf.n_steps_ == 2 * steps
    clf.set_params(warm_start=True).fit(X, y_ssl)
    assert clf.n_steps_ == 3 * steps
    # Data the trained network cannot take is refused and leaves it usable.
    expected = clf.predict_proba(X)
    with pytest.raises(ValueError, match="features"):
        clf.fit(np.c_[X, X], y_ssl)
    with pytest.raises(ValueError, match="not seen during fit"):
        clf.fit(X, np.where(y_ssl == 1, 2, y_ssl))
    assert clf.classes_.tolist() == [0, 1] and clf.n_features_in_ == 2
    np.testing.assert_array_equal(clf.predict_proba(X), expected)


@pytest.mark.parametrize("warm", ["partial_fit", "warm_start"])
def test_later_calls_draw_new_batches_reproducibly(moons, warm):
    # Each call continues the random stream of the fit (as MLPClassifier's
    # partial_fit does): a second call sees other batches than the first, and the
    # whole sequence repeats for a fresh estimator with the same random_state.
    X, _, y_ssl = moons

    def batch_sums():
        seen = []

        def recording(x):
            seen.append(round(float(x.sum()), 4))
            return x

        clf = FixMatchClassifier(**{**FAST, "max_epochs": 1}, weak_augmentation=recording)
        calls = []
        for _ in range(3):
            if warm == "partial_fit":
                clf.partial_fit(X, y_ssl)
            else:
                clf.set_params(warm_start=True).fit(X, y_ssl)
            calls.append(list(seen))
            seen.clear()
        return calls, clf.predict_proba(X)

    calls, proba = batch_sums()
    # (The first call also draws the initial weights, so only later calls can repeat.)
    assert len(calls[1]) == len(calls[2]) > 0
    assert calls[1] != calls[2]
    calls_again, proba_again = batch_sums()
    assert calls_again == calls
    np.testing.assert_array_equal(proba_again, proba)
    # A refit starts the stream again.
    clf = FixMatchClassifier(**{**FAST, "max_epochs": 1}).fit(X, y_ssl)
    clf.partial_fit(X, y_ssl)
    np.testing.assert_array_equal(
        clf.fit(X, y_ssl).predict_proba(X), clone(clf).fit(X, y_ssl).predict_proba(X)
    )


def test_partial_fit_takes_the_classes_in_its_first_call(moons):
    # scikit-learn's incremental pattern: the first chunk need not hold every class.
    X, y, y_ssl = moons
    names = np.array(["a", "b", "c"], dtype=object)
    y_named = np.where(y_ssl == -1, -1, names[np.clip(y_ssl, 0, 2)]).astype(object)
    first = np.flatnonzero(y_named != "b")  # no "b" labelled in the first chunk
    clf = FixMatchClassifier(**FAST)
    clf.partial_fit(X[first], y_named[first], classes=["c", "b", "a"])
    assert clf.classes_.tolist() == ["a", "b", "c"]
    assert clf.module_(torch.zeros(1, 2)).shape == (1, 3)
    np.testing.assert_allclose(clf.label_distribution_, [1, 0, 0])
    clf.partial_fit(X, y_named)  # now "b" arrives; the counts add up
    n_a, n_b = (y_named == "a").sum(), (y_named == "b").sum()
    expected = np.array([2 * n_a, n_b, 0]) / (2 * n_a + n_b)
    np.testing.assert_allclose(clf.label_distribution_, expected)
    with pytest.raises(ValueError, match="differs from the classes of the first"):
        clf.partial_fit(X, y_named, classes=["a", "b"])
    # A refused call (a fit parameter the module does not take) counts nothing.
    with pytest.raises(TypeError, match="does not take"):
        clf.partial_fit(X, y_named, sample_weight=np.ones(len(X)))
    np.testing.assert_allclose(clf.label_distribution_, expected)
    with pytest.raises(ValueError, match="not in classes"):
        FixMatchClassifier(**FAST).partial_fit(X, y_named, classes=["a"])
    with pytest.raises(ValueError, match="without the unlabelled marker"):
        FixMatchClassifier(**FAST).partial_fit(X, y_named, classes=["a", "b", -1])
    # classes are checked as y's labels are: no NaN, no continuous values, 1-d.
    for classes in ([0, 1, np.nan], 3, [[0, 1]]):
        with pytest.raises(ValueError, match="1-d list of the class labels"):
            FixMatchClassifier(**FAST).partial_fit(X, y_ssl, classes=classes)
    with pytest.raises(ValueError, match="discrete class labels"):
        FixMatchClassifier(**FAST).partial_fit(X, y_ssl, classes=[0, 1, 2.5])
    # The same classes again (another order, another container) are accepted.
    clf = FixMatchClassifier(**FAST).partial_fit(X, y_ssl, classes=[2, 0, 1])
    clf.partial_fit(X, y_ssl, classes=np.array([0, 1, 2]))
    assert clf.classes_.tolist() == [0, 1, 2]


def test_a_fit_that_failed_leaves_no_split_behind(moons):
    # The training rows of a failed fit's split must not reach the next fit's
    # BatchNorm recalibration (an IndexError on smaller data).
    X, _, y_ssl = moons
    X = X.astype(np.float32)
    params = {k: v for k, v in FAST.items() if k != "hidden_layer_sizes"}
    calls = []

    def failing(x):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("augmentation bug")
        return x

    clf = FixMatchClassifier(_NormFirst, **params, train_split=ValidSplit(4))
    with pytest.raises(RuntimeError, match="augmentation bug"):
        clf.set_params(weak_augmentation=failing).fit(X, y_ssl)
    small = np.r_[np.flatnonzero(y_ssl != -1), np.flatnonzero(y_ssl == -1)[:50]]
    clf.set_params(train_split=None, weak_augmentation=None).fit(X[small], y_ssl[small])
    # All 60 rows, in batches of 48 and 12: the mean of the two batch means.
    rows = X[small]
    expected = (rows[:48].mean(axis=0) + rows[48:].mean(axis=0)) / 2
    np.testing.assert_allclose(clf.module_.norm.running_mean.numpy(), expected, atol=1e-5)


def test_channels_last_images_get_a_hint():
    X, y = _images(n=20, size=16)
    y_ssl = np.where(np.arange(20) < 6, y, -1)
    with pytest.warns(UserWarning, match=r"transpose\(0, 3, 1, 2\)"):
        # The default CNN then reads 16 channels of 16 x 1 pixels, which it refuses.
        with pytest.raises(ValueError, match="16x1"):
            FixMatchClassifier(**{**FAST, "max_epochs": 1}).fit(X.transpose(0, 2, 3, 1), y_ssl)
    # Not for a module of the user's, which may take channels last.
    params = {k: v for k, v in FAST.items() if k != "hidden_layer_sizes"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FixMatchClassifier(MLP, **{**params, "max_epochs": 1}).fit(X.transpose(0, 2, 3, 1), y_ssl)


def test_train_split_gives_a_validation_loss(moons):
    X, _, y_ssl = moons
    clf = FixMatchClassifier(**FAST, train_split=ValidSplit(4)).fit(X, y_ssl)
    assert np.isfinite(clf.history[-1, "valid_loss"])


def test_cuda_without_gpu_is_a_clear_error(moons):
    if torch.cuda.is_available():
        pytest.skip("a GPU is available")
    X, _, y_ssl = moons
    with pytest.raises(ValueError, match="device='cuda'.*CUDA"):
        FixMatchClassifier(**FAST, device="cuda").fit(X, y_ssl)


@pytest.mark.parametrize("cls", [FixMatchClassifier, MeanTeacherClassifier])
def test_pickle_keeps_tensors_only_in_device_mapped_attributes(cls, moons):
    """What lets a GPU-trained net unpickle on a CPU: skorch maps its module,
    optimizer and criterion attributes to the available device; any other tensor
    left on the net (in a callback, say) would be a CUDA tensor that cannot load."""
    X, _, y_ssl = moons
    clf = cls(**FAST, distribution_alignment=True) if cls is FixMatchClassifier else cls(**FAST)
    clf.fit(X, y_ssl)
    found = []

    class _Finder(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, torch.Tensor):
                found.append(obj)
            return None

    _Finder(io.BytesIO()).dump(clf.__getstate__())
    assert all(t is getattr(clf, "prediction_marginal_", None) for t in found)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_fit_and_cpu_unpickle(moons):
    X, _, y_ssl = moons
    clf = FixMatchClassifier(**FAST, device="cuda").fit(X, y_ssl)
    assert next(clf.module_.parameters()).is_cuda
    assert next(clf.ema_module_.parameters()).is_cuda
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(restored.predict_proba(X), clf.predict_proba(X), atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_default_augmentations_do_not_synchronise_the_gpu():
    # A host-device synchronisation per operation stalls the step on a GPU (a
    # (0, 0, 1) row built from Python numbers did, ten times per FixMatch step).
    images = torch.rand(16, 3, 32, 32, device="cuda")
    rows = torch.randn(16, 5, device="cuda")
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for augment, x in [
            (FlipShift(), images),
            (RandAugmentCutout(), images),
            (GaussianNoise(0.1), rows),
            (FeatureCorruption(), rows),
        ]:
            assert augment(x).shape == x.shape
    finally:
        torch.cuda.set_sync_debug_mode(0)


def test_bad_input_gives_clear_errors(moons):
    X, y, y_ssl = moons
    with pytest.raises(ValueError, match="no labelled row"):
        FixMatchClassifier(**FAST).fit(X, np.full(len(X), -1))
    with pytest.raises(ValueError, match="mu"):
        FixMatchClassifier(**{**FAST, "mu": -1}).fit(X, y_ssl)
    with pytest.raises(ValueError, match="threshold"):
        FixMatchClassifier(**FAST, threshold=1.5).fit(X, y_ssl)
    with pytest.raises(ValueError, match="threshold must be below 1"):
        FixMatchClassifier(**FAST, threshold=1.0, threshold_mode="smooth").fit(X, y_ssl)
    with pytest.raises(ValueError, match="batchnorm_recalibration"):
        FixMatchClassifier(**FAST, batchnorm_recalibration=-1).fit(X, y_ssl)
    with pytest.raises(ValueError, match="rampup_end"):
        PseudoLabelClassifier(**FAST, rampup_start=10, rampup_end=5).fit(X, y_ssl)
    with pytest.raises(ValueError, match="one row per input row"):
        FixMatchClassifier(**FAST, strong_augmentation=lambda x: x[:-1]).fit(X, y_ssl)
    with pytest.raises(ValueError, match="cannot process inputs"):
        FixMatchClassifier(MLP(5, 2), **FAST).fit(X, y_ssl)
    with pytest.raises(ValueError, match="logits of shape"):
        FixMatchClassifier(MLP(2, 3), **FAST).fit(X, y_ssl)
    with pytest.raises(ValueError, match="2-d .* or 4-d"):
        FixMatchClassifier(**FAST).fit(X.reshape(len(X), 1, 2), y_ssl)
    clf = FixMatchClassifier(**FAST).fit(X, y_ssl)
    with pytest.raises(ValueError, match="not seen during fit"):
        clf.score(X, np.where(y == 1, 7, y))
    assert 0 <= clf.score(X, y_ssl) <= 1
    with pytest.raises(ValueError, match="call fit"):
        FixMatchClassifier().initialize()
    with pytest.raises(ValueError, match="hidden_layer_sizes must be positive integers"):
        FixMatchClassifier(**{**FAST, "hidden_layer_sizes": (-3,)}).fit(X, y_ssl)
    params = {k: v for k, v in FAST.items() if k != "hidden_layer_sizes"}
    with pytest.raises(ValueError, match=r"parameters are \['torch.float64'\].*module.float"):
        FixMatchClassifier(MLP(2, 2).double(), **params).fit(X, y_ssl)
    with pytest.raises(ValueError, match="no trainable parameters"):
        FixMatchClassifier(torch.nn.Sequential, **params).fit(X, y_ssl)
    with pytest.raises(ValueError, match=r"draws its own batches.*iterator_train__shuffle"):
        FixMatchClassifier(**FAST, iterator_train__shuffle=True).fit(X, y_ssl)
    with pytest.raises(ValueError, match=r"draws its own batches.*'iterator_valid'"):
        FixMatchClassifier(**FAST, iterator_valid=type("Loader", (DataLoader,), {})).fit(X, y_ssl)
    if not torch.cuda.is_available():  # a device set after fit: checked at predict too
        with pytest.raises(ValueError, match="CUDA"):
            clone(clf).set_params(device="cuda").fit(X, y_ssl)
        clf.set_params(device="cuda")
        with pytest.raises(ValueError, match="CUDA"):
            clf.predict(X)


def test_missing_torch_gives_an_install_hint():
    code = (
        "import sys; sys.modules['skorch'] = None\n"
        "try:\n    import sklearn_ssl.neural\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert 'pip install "sklearn-ssl[torch]"' in out
    # The rest of the package, star import included, works without the extra.
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'skorch'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from sklearn_ssl import *\n"
        "print(LabelSpreading.__name__, 'FixMatchClassifier' in dir())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["LabelSpreading", "False"], result.stderr


def test_augmentations_keep_shapes_and_follow_their_definition():
    torch.manual_seed(0)
    images = torch.rand(6, 3, 16, 16)
    for aug in (FlipShift(), RandAugmentCutout(), GaussianNoise(), FeatureCorruption()):
        out = aug(images)
        assert out.shape == images.shape and torch.isfinite(out).all()
    # Flip only: each image is itself or its mirror.
    flipped = FlipShift(flip=True, max_shift=0)(images)
    for a, b in zip(images, flipped, strict=True):
        assert torch.allclose(a, b, atol=1e-5) or torch.allclose(a.flip(-1), b, atol=1e-5)
    # Corruption without noise: every value comes from the same column of another row.
    table = torch.arange(40.0).reshape(10, 4)
    corrupted = FeatureCorruption(noise_scale=0.0, corruption_rate=1.0)(table)
    for j in range(4):
        assert set(corrupted[:, j].tolist()) <= set(table[:, j].tolist())
    # Noise is relative to each feature's spread.
    wide = torch.randn(500, 2) * torch.tensor([1.0, 100.0])
    delta = GaussianNoise(0.1)(wide) - wide
    ratio = delta.std(0) / wide.std(0)
    assert torch.allclose(ratio, torch.full((2,), 0.1), rtol=0.2)
    # The batch std is the population std, also for a column far from zero.
    from sklearn_ssl.neural._augment import _batch_std

    generator = torch.Generator().manual_seed(0)
    offset = torch.randn(300, 3, dtype=torch.float64, generator=generator)
    offset += torch.tensor([0.0, 1e4, -1e6], dtype=torch.float64)
    for x in (offset, offset.float(), torch.ones(1, 3)):
        exact = x.double().std(dim=0, unbiased=False, keepdim=True)
        ours = (_batch_std(x).double() - exact).abs()
        torchs = (x.std(dim=0, unbiased=False, keepdim=True).double() - exact).abs()
        assert torch.all(ours <= 4 * torchs + 1e-6 * exact + 1e-12)  # as torch.std


def test_image_augmentations_on_float64_and_non_square_images():
    from sklearn_ssl.neural._augment import _geometric, _solarize

    images = torch.rand(3, 2, 20, 40, dtype=torch.float64)
    for aug in (FlipShift(), RandAugmentCutout()):
        out = aug(images)
        assert out.dtype == torch.float64 and out.shape == images.shape
    # Half precision too: the random signs of the operations must not promote it.
    for dtype in (torch.float16, torch.bfloat16):
        torch.manual_seed(0)
        for aug in (FlipShift(), RandAugmentCutout(n_ops=4)):
            assert aug(images.to(dtype)).dtype == dtype
    # A rotation of a 20 x 40 image is a rotation in pixels: in affine_grid's
    # coordinates D^-1 R D with D = diag(width / 2, height / 2).
    identity = torch.eye(2, 3).unsqueeze(0)
    D = torch.diag(torch.tensor([20.0, 10.0]))
    for op in (1, 2, 3):
        pixels = D @ _geometric(identity, op, torch.ones(1), 40 / 20)[0, :, :2] @ D.inverse()
        if op == 1:
            torch.testing.assert_close(pixels @ pixels.T, torch.eye(2))  # orthogonal
        else:  # a shear of 0.3 in pixels (random sign), along x (op 2) or y (op 3)
            sheared = torch.eye(2)
            sheared[(0, 1) if op == 2 else (1, 0)] = 0.3
            torch.testing.assert_close(pixels.abs(), sheared)
    # Composition with a warp already there: [A t] then a translation s gives
    # [A, A s + t] (the affine matrices' 3 x 3 product, without its last row).
    theta = torch.randn(1, 2, 3, dtype=torch.float64)
    A, t = theta[0, :, :2], theta[0, :, 2]
    out = _geometric(theta, 4, torch.ones(1, dtype=torch.float64))[0]
    torch.testing.assert_close(out[:, :2], A)
    moved = out[:, 2] - t
    torch.testing.assert_close(moved.abs(), (0.6 * A[:, 0]).abs())
    # Solarize at magnitude 0 changes nothing, the brightest pixel included.
    u = torch.rand(2, 1, 8, 8)
    u = u / u.amax(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(_solarize(u, torch.zeros(2)), u)


def test_rand_augment_magnitude_scales_the_operations():
    images = torch.rand(64, 1, 28, 28)

    def mean_change(magnitude):
        torch.manual_seed(0)  # same operations and draws; only their size differs
        aug = RandAugmentCutout(n_ops=1, cutout=0, flip=False, max_shift=0, magnitude=magnitude)
        return (aug(images) - images).abs().mean().item()

    torch.manual_seed(0)
    full = RandAugmentCutout(n_ops=1, cutout=0, flip=False, max_shift=0)(images)
    assert mean_change(1.0) == pytest.approx((full - images).abs().mean().item())
    assert mean_change(0.2) < 0.7 * mean_change(1.0)
    for bad in (1.5, -0.1, "mild"):
        with pytest.raises(ValueError, match="between 0 and 1"):
            RandAugmentCutout(magnitude=bad)


@pytest.mark.parametrize(
    "augmentation, params, match",
    [
        (RandAugmentCutout, {"cutout": 2}, r"RandAugmentCutout\(cutout=2\) must be between 0"),
        (RandAugmentCutout, {"cutout": None}, r"cutout=None\) must be between 0 and 1"),
        (RandAugmentCutout, {"max_shift": -0.1}, r"max_shift=-0.1\) must be between 0 and 1"),
        (RandAugmentCutout, {"n_ops": 1.5}, r"n_ops=1.5\) must be a non-negative integer"),
        (RandAugmentCutout, {"n_ops": -1}, r"n_ops=-1\) must be a non-negative integer"),
        (FlipShift, {"max_shift": 3}, r"FlipShift\(max_shift=3\) must be between 0 and 1"),
        (GaussianNoise, {"scale": -1}, r"GaussianNoise\(scale=-1\) must be a number >= 0"),
        (FeatureCorruption, {"noise_scale": "x"}, r"noise_scale='x'\) must be a number >= 0"),
        (FeatureCorruption, {"corruption_rate": 1.5}, r"corruption_rate=1.5\) must be between"),
    ],
)
def test_augmentations_reject_bad_parameters(augmentation, params, match):
    # Checked when the augmentation is made, not at every training step.
    with pytest.raises(ValueError, match=match):
        augmentation(**params)


def test_wide_resnet_and_small_cnn_shapes():
    assert WideResNet(n_classes=10)(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert SmallCNN()(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert SmallCNN().fc1.in_features == 640  # the seed-000 network
    with pytest.raises(ValueError, match="16x16"):
        SmallCNN(image_size=8)


def test_small_cnn_channels_last_computes_the_seed_network():
    # SmallCNN keeps its convolutions channels-last for speed on CPU; the
    # function must stay the seed's NCHW network, also after a pickle round trip.
    torch.manual_seed(0)
    net = SmallCNN().eval()
    assert net.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.rand(5, 1, 28, 28)
    F = torch.nn.functional
    h = F.relu(F.max_pool2d(F.conv2d(x, net.conv1.weight.contiguous(), net.conv1.bias), 2))
    h = F.relu(F.max_pool2d(F.conv2d(h, net.conv2.weight.contiguous(), net.conv2.bias), 2))
    expected = net.fc2(F.relu(net.fc1(h.flatten(1))))
    with torch.no_grad():
        torch.testing.assert_close(net(x), expected, rtol=1e-5, atol=1e-5)
        restored = pickle.loads(pickle.dumps(net))
        assert restored.conv2.weight.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(restored(x), expected, rtol=1e-5, atol=1e-5)


class _NormFirst(torch.nn.Module):
    """BatchNorm on the raw features, then a linear layer: the statistics a
    recalibration must find are those of X itself, whatever the weights."""

    def __init__(self, n_features, n_classes):
        super().__init__()
        self.norm = torch.nn.BatchNorm1d(n_features, momentum=0.001)
        self.linear = torch.nn.Linear(n_features, n_classes)

    def forward(self, x):
        return self.linear(self.norm(x))


@pytest.mark.parametrize("cls", [FixMatchClassifier, MeanTeacherClassifier, PseudoLabelClassifier])
def test_batchnorm_statistics_are_recomputed_on_plain_rows(cls, moons):
    X, _, y_ssl = moons
    X = (X * [3.0, 0.5] + [10.0, -4.0]).astype(np.float32)  # far from BN's initial 0 / 1
    # 200 rows in batches of batch_size * (1 + mu) = 40 rows, in row order: the
    # cumulative average is the mean of the 5 chunks' means and unbiased variances.
    params = dict(FAST, mu=3, batch_size=10, max_epochs=2)
    chunks = X.reshape(5, 40, 2)
    mean, var = chunks.mean(axis=1).mean(axis=0), chunks.var(axis=1, ddof=1).mean(axis=0)
    clf = cls(_NormFirst, batchnorm_recalibration=10_000, **params).fit(X, y_ssl)
    networks = [getattr(clf, name + "_") for name in clf._modules]
    assert len(networks) == (1 if cls is PseudoLabelClassifier else 2)
    for net in networks:
        np.testing.assert_allclose(net.norm.running_mean.numpy(), mean, rtol=1e-5)
        np.testing.assert_allclose(net.norm.running_var.numpy(), var, rtol=1e-4)
        assert net.norm.momentum == 0.001  # restored
        assert net.norm.num_batches_tracked.item() == 5
    # Without recalibration the statistics are training's: with momentum 0.001 they
    # have barely left their initial values.
    raw = cls(_NormFirst, batchnorm_recalibration=0, **params).fit(X, y_ssl)
    assert np.abs(raw.module_.norm.running_mean.numpy() - mean).min() > 1.0


def test_batchnorm_recalibration_uses_a_seeded_subset(moons):
    X, _, y_ssl = moons
    X = X.astype(np.float32)
    params = dict(FAST, batchnorm_recalibration=30)
    a = FixMatchClassifier(_NormFirst, **params).fit(X, y_ssl)
    b = FixMatchClassifier(_NormFirst, **params).fit(X, y_ssl)
    np.testing.assert_array_equal(a.module_.norm.running_mean, b.module_.norm.running_mean)
    # 30 rows, not all 200: the mean differs from that of the whole of X.
    assert not np.allclose(a.module_.norm.running_mean.numpy(), X.mean(axis=0), atol=1e-3)
    assert a.module_.norm.num_batches_tracked.item() == 1  # 30 rows < one batch of 48


def test_batchnorm_recalibration_leaves_the_validation_rows_out(moons):
    # With a train_split, the statistics come from the training part only (the
    # mean of its batch means, update_bn's cumulative average).
    X, _, y_ssl = moons
    X = X.astype(np.float32)
    X[:40] += 5.0  # a validation part far from the rest
    labeled = np.flatnonzero(y_ssl != -1)
    valid = np.union1d(np.arange(40), labeled[:2])
    train = np.setdiff1d(np.arange(len(X)), valid)
    params = {k: v for k, v in FAST.items() if k != "hidden_layer_sizes"}
    clf = FixMatchClassifier(_NormFirst, **params, train_split=_split_at(train, valid))
    clf.fit(X, y_ssl)
    running_mean = clf.module_.norm.running_mean.numpy()
    np.testing.assert_allclose(running_mean, X[train].mean(axis=0), atol=0.05)
    assert np.abs(running_mean - X.mean(axis=0)).min() > 0.5  # the +5 rows left out


def test_recalibration_improves_a_batchnorm_network_trained_on_strong_views():
    # The failure it fixes: a WideResNet trained briefly on mixed plain/strong
    # batches predicts through running statistics that do not fit plain images
    # (measured here: 0.72 test accuracy with recalibration, 0.25 without).
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    y_ssl = hide_labels(y[:1200], n_per_class=10, random_state=0)
    params = dict(
        module=WideResNet,
        module__depth=10,
        module__widen_factor=1,
        max_epochs=3,
        batch_size=8,
        mu=4,
        lr=0.01,
        random_state=0,
    )
    fixed = FixMatchClassifier(**params).fit(X[:1200], y_ssl)
    stale = FixMatchClassifier(batchnorm_recalibration=0, **params).fit(X[:1200], y_ssl)
    fixed_score, stale_score = fixed.score(X[1200:], y[1200:]), stale.score(X[1200:], y[1200:])
    assert fixed_score > 0.6
    assert fixed_score > stale_score + 0.2


def test_mixed_precision_module():
    from sklearn_ssl.neural import MixedPrecision

    torch.manual_seed(0)
    inner = WideResNet(in_channels=1, n_classes=3, depth=10, widen_factor=1)
    reference = copy.deepcopy(inner).eval()
    net = MixedPrecision(inner, channels_last=True).eval()
    conv = net.module.stem.weight
    assert conv.dtype == torch.float32  # parameters stay float32
    assert conv.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(5, 1, 16, 16)
    with torch.no_grad():
        out, ref = net(x), reference(x)
    assert out.dtype == torch.float32
    # bfloat16 keeps ~3 significant digits: close to, not equal to, float32.
    torch.testing.assert_close(out, ref, rtol=0.1, atol=0.1)
    assert not torch.equal(out, ref)
    net.train()
    net(x).sum().backward()
    assert conv.grad is not None and conv.grad.dtype == torch.float32


def test_mixed_precision_trains_inside_an_estimator():
    from sklearn_ssl.neural import MixedPrecision

    X, y = _images(n=80, size=16, seed=0)
    y_ssl = y.copy()
    y_ssl[10:] = -1
    net = MixedPrecision(SmallCNN(in_channels=1, n_classes=2, image_size=16), channels_last=True)
    clf = FixMatchClassifier(net, max_epochs=8, batch_size=8, mu=2, lr=3e-3, random_state=0)
    clf.fit(X, y_ssl)
    X_test, y_test = _images(n=60, size=16, seed=1)
    assert clf.score(X_test, y_test) > 0.9
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X_test), clf.predict_proba(X_test))
    assert isinstance(restored.module_, MixedPrecision)


def test_mixed_precision_bad_input():
    from sklearn_ssl.neural import MixedPrecision

    with pytest.raises(TypeError, match="torch.nn.Module instance"):
        MixedPrecision(SmallCNN)
    with pytest.raises(ValueError, match="bfloat16 or torch.float16"):
        MixedPrecision(SmallCNN(), dtype=torch.float32)


def test_training_step_puts_labelled_rows_first(moons):
    # A batch in any order gives the losses of the same batch with labelled rows first.
    X, _, y_ssl = moons
    clf = FixMatchClassifier(
        **{**FAST, "threshold": 0.0, "max_epochs": 1},
        weak_augmentation=None,
        strong_augmentation=None,
    ).fit(X, y_ssl)
    labeled = np.flatnonzero(y_ssl != -1)[:4]
    unlabeled = np.flatnonzero(y_ssl == -1)[:6]
    ordered = np.r_[labeled, unlabeled]
    mixed = np.r_[unlabeled[:3], labeled[:2], unlabeled[3:], labeled[2:]]
    X_t = torch.as_tensor(X, dtype=torch.float32)
    y_t = torch.as_tensor(y_ssl)
    losses = []
    for rows in (ordered, mixed):
        step = clf.train_step_single((X_t[rows], y_t[rows]))
        clf.module_.zero_grad()
        losses.append([float(step[k].detach()) for k in ("sup_loss", "unsup_loss")])
        assert torch.equal(step["pseudo_label_counts"].sum(), torch.tensor(6.0))
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)


class _CountingHooks(Callback):
    def __init__(self):
        self.counts = {}

    def _count(self, name):
        self.counts[name] = self.counts.get(name, 0) + 1

    def on_batch_end(self, net, **kwargs):
        self._count("on_batch_end")

    def on_grad_computed(self, net, named_parameters, **kwargs):
        self._count("on_grad_computed")


def test_callback_hooks_are_called_like_skorch_calls_them(moons):
    # notify skips the no-op hooks of Callback only: overridden hooks, hooks set on
    # an instance and callbacks replaced through set_params are all called.
    X, _, y_ssl = moons
    counting, instance = _CountingHooks(), Callback()
    begun = []
    instance.on_batch_begin = lambda net, **kwargs: begun.append(kwargs["training"])
    clf = FixMatchClassifier(**FAST, callbacks=[counting, instance]).fit(X, y_ssl)
    n_steps = 3 * clf.steps_per_epoch_
    assert counting.counts == {"on_batch_end": n_steps, "on_grad_computed": n_steps}
    assert begun == [True] * n_steps
    replacement = _CountingHooks()
    clf.set_params(callbacks=[replacement], max_epochs=1).fit(X, y_ssl)
    assert replacement.counts["on_batch_end"] == clf.steps_per_epoch_
    assert counting.counts["on_batch_end"] == n_steps  # the old one is not called
    restored = pickle.loads(pickle.dumps(clf))
    assert "_callback_hook_cache" not in vars(restored)
    restored.partial_fit(X, y_ssl)
    assert len(restored.history) == 2


def test_logging_in_chunks_gives_the_per_epoch_means(moons, monkeypatch):
    # The log sums each chunk of steps on the device; chunks of 2 steps and one
    # chunk per epoch record the same means, and the histogram counts exactly the
    # rows above the threshold (mask_rate * rows).
    from sklearn_ssl.neural._callbacks import SemiSupervisedLog

    X, _, y_ssl = moons
    params = {**FAST, "threshold": 0.6}
    whole = FixMatchClassifier(**params).fit(X, y_ssl)
    monkeypatch.setattr(SemiSupervisedLog, "_FLUSH_EVERY", 2)
    chunked = FixMatchClassifier(**params).fit(X, y_ssl)
    keys = ["sup_loss", "unsup_loss", "mask_rate", "unsup_weight"]
    np.testing.assert_allclose(whole.history[:, keys], chunked.history[:, keys], rtol=1e-5)
    assert whole.history[:, "pseudo_label_hist"] == chunked.history[:, "pseudo_label_hist"]
    n_rows = whole.history[-1, "train_batch_count"] * FAST["batch_size"] * FAST["mu"]
    for row in chunked.history:
        assert sum(row["pseudo_label_hist"]) == round(row["mask_rate"] * n_rows)


def _split_at(train_rows, valid_rows):
    """A train_split that puts the given rows in each part."""

    def split(dataset, y=None, **kwargs):
        return Subset(dataset, train_rows), Subset(dataset, valid_rows)

    return split


def test_validation_loss_is_the_mean_over_labelled_rows(moons):
    X, _, y_ssl = moons
    labeled = np.flatnonzero(y_ssl != -1)
    unlabeled = np.flatnonzero(y_ssl == -1)
    valid = np.r_[labeled[:4], unlabeled[:60]]
    train = np.setdiff1d(np.arange(len(X)), valid)
    clf = FixMatchClassifier(**{**FAST, "max_epochs": 2}, train_split=_split_at(train, valid))
    clf.fit(X, y_ssl)
    proba = clf.predict_proba(X[labeled[:4]])
    expected = -np.mean(np.log(proba[np.arange(4), y_ssl[labeled[:4]]]))
    assert clf.history[-1, "valid_loss"] == pytest.approx(expected, rel=1e-4)
    # No labelled row to validate on, or none to train on: clear errors, no hang.
    with pytest.raises(ValueError, match="validation part of the data holds no labelled row"):
        FixMatchClassifier(**FAST, train_split=_split_at(labeled[4:], unlabeled)).fit(X, y_ssl)
    with pytest.raises(ValueError, match="training part of the data holds no labelled row"):
        FixMatchClassifier(**FAST, train_split=_split_at(unlabeled, labeled)).fit(X, y_ssl)


@pytest.mark.parametrize("cls", [FixMatchClassifier, MeanTeacherClassifier, PseudoLabelClassifier])
def test_validation_accuracy_on_labelled_rows(cls, moons):
    # valid_acc: the accuracy of the predicting network on the labelled rows of the
    # validation part (the unlabelled ones there are not scored).
    X, _, y_ssl = moons
    names = np.array(["left", "right"], dtype=object)
    y_named = np.where(y_ssl == -1, -1, names[np.clip(y_ssl, 0, 1)]).astype(object)
    labeled = np.flatnonzero(y_ssl != -1)
    unlabeled = np.flatnonzero(y_ssl == -1)
    valid = np.r_[labeled[:4], unlabeled[:60]]
    train = np.setdiff1d(np.arange(len(X)), valid)
    clf = cls(**{**FAST, "max_epochs": 2}, train_split=_split_at(train, valid)).fit(X, y_named)
    assert len(clf.history[:, "valid_acc"]) == 2
    assert clf.history[-1, "valid_acc"] == pytest.approx(clf.score(X[valid], y_named[valid]))
    # "_best" as skorch's scoring callbacks record it (Checkpoint(monitor="valid_acc_best")).
    accs, best = clf.history[:, "valid_acc"], clf.history[:, "valid_acc_best"]
    assert best == [True, accs[1] > accs[0]]
    # skorch's EpochScoring predicts on datasets of encoded labels: a clear error.
    with pytest.raises(TypeError, match="predicts on arrays.*valid_acc"):
        clf.predict(Subset(clf.get_dataset(X), np.arange(5)))


def test_predefined_validation_set_has_its_labels_encoded(moons):
    # predefined_split hands over the user's validation set: its labels (strings
    # here) are encoded as fit encodes y, and unseen ones are an error.
    from skorch.dataset import Dataset
    from skorch.helper import predefined_split

    X, y, y_ssl = moons
    names = np.array(["left", "right"], dtype=object)
    y_named = np.where(y_ssl == -1, -1, names[np.clip(y_ssl, 0, 1)]).astype(object)
    X_valid, y_valid = X[:30].astype(np.float32), names[y[:30]]
    clf = FixMatchClassifier(**FAST, train_split=predefined_split(Dataset(X_valid, y_valid)))
    clf.fit(X, y_named)
    assert clf.history[-1, "valid_acc"] == pytest.approx(clf.score(X_valid, y_valid))
    bad = predefined_split(Dataset(X_valid, np.where(y[:30] == 0, "left", "up")))
    with pytest.raises(ValueError, match="not seen during fit"):
        FixMatchClassifier(**FAST, train_split=bad).fit(X, y_named)


@pytest.mark.parametrize("cls", [FixMatchClassifier, MeanTeacherClassifier])
def test_early_stopping_load_best_restores_the_predicting_network(cls, moons):
    # EarlyStopping(load_best=True) restores the student of the best epoch; the
    # averaged network that predicts must come back from that epoch too.
    from skorch.callbacks import EarlyStopping

    X, _, y_ssl = moons
    params = {**FAST, "lr": 0.05}
    if cls is MeanTeacherClassifier:  # a ramp in steps: the same in 1 and 4 epochs
        params["rampup_length"] = 20
    # train_loss "improves" when it rises: with loss falling, epoch 1 stays the best.
    stopper = EarlyStopping(monitor="train_loss", lower_is_better=False, patience=5, load_best=True)
    restored = cls(**{**params, "max_epochs": 4}, callbacks=[stopper]).fit(X, y_ssl)
    assert stopper.best_epoch_ == 1  # callbacks_ holds this (unfitted) instance
    one_epoch = cls(**{**params, "max_epochs": 1}).fit(X, y_ssl)
    four_epochs = cls(**{**params, "max_epochs": 4}).fit(X, y_ssl)
    np.testing.assert_allclose(restored.predict_proba(X), one_epoch.predict_proba(X), rtol=1e-6)
    assert not np.allclose(restored.predict_proba(X), four_epochs.predict_proba(X))
    assert "_best_averaged" not in vars(restored)


def test_refit_without_ema_drops_the_previous_copy(moons):
    X, _, y_ssl = moons
    clf = FixMatchClassifier(**FAST).fit(X, y_ssl)
    clf.set_params(use_ema=False, hidden_layer_sizes=(7,))
    clf.fit(X, y_ssl)  # averaging into the old (16-unit) copy failed inside torch
    assert not hasattr(clf, "ema_module_") and "ema_module" not in clf._modules
    assert clf._prediction_module() is clf.module_


def test_mean_teacher_without_augmentation_and_an_in_place_module(moons):
    # Student and teacher then see the same rows: the teacher gets its own copy, so
    # a module dividing its input in place neither breaks backward nor divides twice.
    X, _, y_ssl = moons
    X32 = (X * 255).astype(np.float32)
    params = {k: v for k, v in FAST.items() if k != "hidden_layer_sizes"}
    clf = MeanTeacherClassifier(_InPlaceScaling, weak_augmentation=None, **params)
    clf.fit(X32, y_ssl)
    # The same network dividing out of place, same seed: the same training.
    twin = MeanTeacherClassifier(_OutOfPlaceScaling, weak_augmentation=None, **params)
    twin.fit(X32, y_ssl)
    np.testing.assert_allclose(
        clf.history[:, "unsup_loss"], twin.history[:, "unsup_loss"], rtol=1e-5
    )
    np.testing.assert_allclose(clf.predict_proba(X32), twin.predict_proba(X32), rtol=1e-5)


def test_fit_parameters_the_module_does_not_take(moons):
    X, _, y_ssl = moons
    with pytest.raises(TypeError, match=r"\['sample_weight'\].*MLP.forward does not take"):
        FixMatchClassifier(**FAST).fit(X, y_ssl, sample_weight=np.ones(len(X)))


@pytest.mark.parametrize("cls", [FixMatchClassifier, MeanTeacherClassifier])
def test_disabled_callbacks_keep_the_weight_average(cls, moons):
    # callbacks="disable" switches logging off; the averaged network that predicts
    # (EMA, teacher) must still follow the student.
    X, _, y_ssl = moons
    default = cls(**FAST).fit(X, y_ssl)
    disabled = cls(**FAST, callbacks="disable").fit(X, y_ssl)
    np.testing.assert_allclose(disabled.predict_proba(X), default.predict_proba(X), rtol=1e-5)
    assert [name for name, _ in disabled.callbacks_] == ["ema"]
    # Its parameters still apply: decay 0 makes the average the student itself.
    copy = cls(**FAST, callbacks="disable", callbacks__ema__decay=0.0).fit(X, y_ssl)
    averaged = copy._prediction_module()
    assert averaged is not copy.module_
    for a, b in zip(averaged.parameters(), copy.module_.parameters(), strict=True):
        torch.testing.assert_close(a, b)


class _InPlaceScaling(torch.nn.Module):
    def __init__(self, n_features=2, n_classes=2):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, n_classes)

    def forward(self, x):
        x /= 255.0  # works on its input in place
        return self.linear(x)


class _OutOfPlaceScaling(_InPlaceScaling):
    def forward(self, x):
        return self.linear(x / 255.0)


def test_a_module_working_in_place_does_not_change_the_callers_rows(moons):
    X, _, y_ssl = moons
    X32 = (X * 100).astype(np.float32)
    before = X32.copy()
    params = {k: v for k, v in FAST.items() if k != "hidden_layer_sizes"}
    clf = FixMatchClassifier(_InPlaceScaling, **params)
    clf.fit(X32, y_ssl)
    clf.predict(X32)
    clf.predict_proba(X32)
    np.testing.assert_array_equal(X32, before)


def test_small_mu_still_draws_unlabelled_rows(moons):
    X, _, y_ssl = moons
    clf = FixMatchClassifier(**{**FAST, "mu": 0.01, "threshold": 0.0}).fit(X, y_ssl)
    assert clf.history[-1, "mask_rate"] == 1.0  # unlabelled rows were used
    assert sum(clf.history[-1, "pseudo_label_hist"]) == clf.steps_per_epoch_


def test_pseudo_label_history_has_every_key_every_epoch(moons):
    X, _, y_ssl = moons
    clf = PseudoLabelClassifier(**FAST, rampup_start=1000, rampup_end=2000).fit(X, y_ssl)
    assert clf.history[:, "mask_rate"] == [0.0, 0.0, 0.0]
    assert clf.history[:, "pseudo_label_hist"] == [[0, 0]] * 3


def test_hooks_set_between_fits_are_called(moons):
    X, _, y_ssl = moons
    watcher, calls = Callback(), []
    clf = FixMatchClassifier(**FAST, callbacks=[("watch", watcher)]).fit(X, y_ssl)
    watcher.on_epoch_end = lambda net, **kwargs: calls.append(len(net.history))
    clf.partial_fit(X, y_ssl)
    assert calls == [4, 5, 6]


def test_replaced_callbacks_are_called_in_fit_loop(moons):
    # initialize_callbacks rebuilds callbacks_ (skorch's set_params keeps the old
    # ones until then); fit_loop, which skips our fit, must call the new ones and
    # not the hooks notify cached for the old.
    class Counter(Callback):
        def __init__(self):
            self.calls = 0

        def on_epoch_end(self, net, **kwargs):
            self.calls += 1

    X, _, y_ssl = moons
    old, new = Counter(), Counter()
    clf = FixMatchClassifier(**FAST, callbacks=[("count", old)]).fit(X, y_ssl)
    calls_after_fit = old.calls
    clf.set_params(callbacks=[("count", new)])
    clf.initialize_callbacks()
    clf.fit_loop(X.astype(np.float32), clf._encode_known(y_ssl, len(y_ssl)))
    assert old.calls == calls_after_fit
    assert new.calls == FAST["max_epochs"]


def test_augmentations_refuse_what_they_cannot_take():
    images = torch.rand(4, 1, 8, 8)
    for aug in (FlipShift(), RandAugmentCutout()):
        with pytest.raises(TypeError, match=r"x.float\(\) / 255"):
            aug((images * 255).to(torch.uint8))
        with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
            aug(images[:, 0])
        with pytest.raises(TypeError, match="torch tensors"):
            aug(images.numpy())
    for aug in (GaussianNoise(), FeatureCorruption()):
        with pytest.raises(TypeError, match="floating-point"):
            aug(torch.ones(4, 3, dtype=torch.int64))
        with pytest.raises(TypeError, match="torch tensors"):
            aug(np.ones((4, 3), dtype=np.float32))


# ---------------------------------------------------------------- training length


def _table(n, n_labeled=10, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 3).astype(np.float32)
    y = np.full(n, -1)
    y[:n_labeled] = np.arange(n_labeled) % 2
    return X, y


@pytest.mark.parametrize("n_rows", [12, 600])
def test_max_steps_runs_the_same_steps_whatever_the_data_size(n_rows):
    X, y = _table(n_rows)
    params = dict(hidden_layer_sizes=(4,), batch_size=4, mu=2, random_state=0)
    clf = FixMatchClassifier(max_steps=30, **params).fit(X, y)
    assert clf.n_steps_ == 30
    # 30 steps in epochs of ceil(30 / 20) = 2 steps.
    assert clf.steps_per_epoch_ == 2 and len(clf.history) == 15
    assert sum(clf.history[:, "train_batch_count"]) == 30
    clf = FixMatchClassifier(max_steps=50, **params).fit(X, y)
    assert clf.n_steps_ == 50 and clf.history[:, "train_batch_count"][-1] == 2  # 17 x 3 - 1
    # max_epochs counts passes over the larger pool instead (max_steps is ignored).
    passes = FixMatchClassifier(max_epochs=2, max_steps=30, **params).fit(X, y)
    assert passes.steps_per_epoch_ == max(3, int(np.ceil((n_rows - 10) / 8)))
    assert passes.n_steps_ == 2 * passes.steps_per_epoch_


def test_partial_fit_runs_max_steps_more():
    X, y = _table(100)
    clf = PseudoLabelClassifier(hidden_layer_sizes=(4,), max_steps=20, batch_size=4, random_state=0)
    clf.fit(X, y)
    assert clf.n_steps_ == 20 and len(clf.history) == 20
    clf.partial_fit(X, y)
    assert clf.n_steps_ == 40 and len(clf.history) == 40
    clf.set_params(warm_start=True, max_steps=6).fit(X, y)
    assert clf.n_steps_ == 46
    clf.set_params(warm_start=False).fit(X, y)
    assert clf.n_steps_ == 6
    assert FixMatchClassifier(max_steps=0).fit(X, y).n_steps_ == 0


def test_training_length_is_validated():
    X, y = _table(20)
    with pytest.raises(ValueError, match="max_steps"):
        FixMatchClassifier(max_steps=-1).fit(X, y)
    with pytest.raises(ValueError, match="max_epochs"):
        FixMatchClassifier(max_epochs=1.5).fit(X, y)


# ---------------------------------------------------------------- progress and printing


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize(
    "verbose, terminal, shown", [(None, True, True), (None, False, False), (0, True, False)]
)
def test_progress_line_only_in_a_terminal_by_default(monkeypatch, verbose, terminal, shown):
    X, y = _table(40)
    stderr = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    clf = FixMatchClassifier(
        hidden_layer_sizes=(4,), max_steps=8, batch_size=4, verbose=verbose, random_state=0
    )
    clf.set_params(callbacks__progress__delay=0.0).fit(X, y)
    text = stderr.getvalue()
    if not shown:
        assert text == ""
        return
    assert text.startswith("\r") and text.endswith("\n") and "\x1b" not in text
    assert text.count("\n") == 1  # one line, rewritten in place
    assert "FixMatchClassifier: step 8/8 (100%)" in text.rsplit("\r", 1)[-1]


def test_progress_line_waits_for_its_delay(monkeypatch):
    X, y = _table(40)
    monkeypatch.setattr(sys, "stderr", _Terminal())
    FixMatchClassifier(hidden_layer_sizes=(4,), max_steps=8, batch_size=4).fit(X, y)
    assert sys.stderr.getvalue() == ""  # shorter than the default 5 s


@pytest.mark.parametrize("terminal", [True, False])
def test_history_table_has_colours_only_in_a_terminal(monkeypatch, terminal):
    X, y = _table(40)
    stdout = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stdout", stdout)
    clf = FixMatchClassifier(
        hidden_layer_sizes=(4,), max_steps=6, batch_size=4, verbose=1, random_state=0
    )
    clf.fit(X, y)
    text = stdout.getvalue()
    assert "train_loss" in text and text.count("\n") >= 8  # header, rule, 6 epochs
    assert ("\x1b[" in text) == terminal  # skorch marks the best train_loss in colour


# ---------------------------------------------------------------- class shares


class _AlwaysFirstClass(torch.nn.Module):
    """Logits that always pick class 0, whatever the input and the training."""

    def __init__(self, n_features=2, n_classes=2):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, n_classes)
        self.register_buffer("bias", torch.tensor([100.0] + [0.0] * (n_classes - 1)))

    def forward(self, x):
        return 0.0 * self.linear(x) + self.bias


def test_class_share_ratio_warns_on_a_collapse(moons):
    from sklearn_ssl.exceptions import ClassShareDriftWarning

    X, _, y_ssl = moons
    with pytest.warns(ClassShareDriftWarning, match="predictions on the unlabelled rows"):
        clf = FixMatchClassifier(_AlwaysFirstClass, max_steps=2, random_state=0).fit(X, y_ssl)
    assert clf.class_share_ratio_ == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClassShareDriftWarning)
        clf = FixMatchClassifier(**FAST).fit(X, y_ssl)
    unlabeled = y_ssl == -1
    predicted = np.bincount(clf.predict(X[unlabeled]), minlength=2) / unlabeled.sum()
    assert clf.class_share_ratio_ == pytest.approx(min(1.0, predicted.min() / 0.5))
    # Without unlabelled rows nothing is predicted: the ratio is 1.
    labeled = ~unlabeled
    assert FixMatchClassifier(**FAST).fit(X[labeled], y_ssl[labeled]).class_share_ratio_ == 1.0
