"""
====================================================================
Entropy minimisation moves the boundary into the gap of two moons
====================================================================

Two moons with 1000 points and only 3 labels per class. All models are the same
logistic regression on RBF features (:class:`~sklearn.kernel_approximation.Nystroem`);
they differ only in what they ask of the unlabelled rows:

* ``lambda_=0``: nothing. This is scikit-learn's
  :class:`~sklearn.linear_model.LogisticRegression` on the 6 labelled points; its
  boundary runs wherever those few points leave room, often through a moon.
* ``class_balance=0``: Grandvalet & Bengio's entropy term alone. Confident
  predictions on the unlabelled rows are rewarded, but one class may grow
  across the other moon, which lowers the entropy just as well.
* the defaults: the entropy term plus a class-balance penalty that keeps the
  mean prediction on unlabelled rows at the labelled class frequencies. The
  boundary settles in the low-density gap between the moons.

The bottom row follows the deterministic annealing of the last model:
``lambda_`` doubles at every stage, each solve warm-started from the previous.

This is one draw of the 6 labelled points, picked because the supervised model
is misled by it; over 10 draws the gain is smaller and varies (see the
benchmark in ``benchmarks/README.md``), and on some draws the entropy term
makes things worse.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_moons
from sklearn.kernel_approximation import Nystroem
from sklearn.pipeline import make_pipeline

from sklearn_ssl.datasets import hide_labels
from sklearn_ssl.linear_model import EntropyRegularizedLogisticRegression

X, y = make_moons(n_samples=1000, noise=0.1, random_state=8)
y_ssl = hide_labels(y, n_per_class=3, random_state=8)
X_test, y_test = make_moons(n_samples=1000, noise=0.1, random_state=12345)
labeled = y_ssl != -1


def model(**params):
    features = Nystroem(gamma=3.0, n_components=200, random_state=0)
    return make_pipeline(features, EntropyRegularizedLogisticRegression(C=10.0, **params))


models = {
    "supervised (lambda_=0)": model(lambda_=0.0),
    "entropy only (class_balance=0)": model(class_balance=0.0),
    "entropy + class balance (defaults)": model(),
}

xx, yy = np.meshgrid(np.linspace(-1.6, 2.6, 200), np.linspace(-1.1, 1.6, 200))
grid = np.c_[xx.ravel(), yy.ravel()]


def draw(ax, clf, title):
    proba = clf.predict_proba(grid)[:, 1].reshape(xx.shape)
    ax.contourf(xx, yy, proba, levels=np.linspace(0, 1, 11), cmap="RdBu", alpha=0.5)
    ax.contour(xx, yy, proba, levels=[0.5], colors="k", linewidths=2)
    ax.scatter(X[~labeled, 0], X[~labeled, 1], c=y[~labeled], s=3, cmap="RdBu")
    ax.scatter(
        X[labeled, 0], X[labeled, 1], c=y[labeled], s=120, cmap="RdBu", edgecolors="k", marker="*"
    )
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


fig, axes = plt.subplots(2, 3, figsize=(13, 8))
for ax, (name, clf) in zip(axes[0], models.items()):
    clf.fit(X, y_ssl)
    accuracy = clf.score(X_test, y_test)
    print(f"{name}: test accuracy {accuracy:.3f}")
    draw(ax, clf, f"{name}\ntest accuracy {accuracy:.3f}")

# %%
# Annealing: refit the default model stopping after stage 1, 3 and 5. The
# ``lambda_path_``, ``n_iter_`` and ``objective_path_`` attributes record each stage.
final = models["entropy + class balance (defaults)"][-1]
for stage, k in zip(axes[1], [1, 3, 5]):
    lam = final.lambda_path_[k]
    clf = model(lambda_=lam, annealing_steps=k).fit(X, y_ssl)
    draw(stage, clf, f"annealing stage {k}: lambda_={lam:g}")
print("lambda_ per stage:", final.lambda_path_)
print("L-BFGS iterations per stage:", final.n_iter_)
print("objective per stage:", np.round(final.objective_path_, 3))
fig.tight_layout()
plt.show()
