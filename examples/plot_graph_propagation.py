"""
======================================================
Label propagation on a sparse graph, and how it scales
======================================================

Three labelled points per class are enough to label the two moons when labels
flow along a k-nearest-neighbour graph. The first figure shows the labels
propagated by :class:`~sklearn_ssl.graph.LabelSpreading`,
:class:`~sklearn_ssl.graph.LabelPropagation` and
:class:`~sklearn_ssl.graph.LocalLabelPropagation`, and a supervised model
fitted on the six labelled points only.

The second figure times the fit against the number of rows, for
scikit-learn's ``LabelSpreading(kernel="knn")`` and for ours, on
``make_classification`` data with 1% of the rows labelled. The sizes are kept
small so that the example runs in seconds; see ``benchmarks/README.md`` for
10^4 to 10^6 rows.
"""

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification, make_moons
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression
from sklearn.semi_supervised import LabelSpreading as SkLabelSpreading

from sklearn_ssl.datasets import hide_labels
from sklearn_ssl.graph import LabelPropagation, LabelSpreading, LocalLabelPropagation

# %%
# Propagated labels on two moons
# ------------------------------
# LocalLabelPropagation compares rows by cosine similarity, which on raw 2-D
# points only sees their angle; it is meant for embeddings. We give it
# random RBF features (Nystroem), whose cosine similarity follows the
# distance between points.
X, y = make_moons(500, noise=0.08, random_state=0)
y_ssl = hide_labels(y, n_per_class=3, random_state=0)
labeled = y_ssl != -1
embedding = Nystroem(gamma=5.0, n_components=200, random_state=0).fit_transform(X)

results = {
    "supervised (6 labels)": LogisticRegression().fit(X[labeled], y_ssl[labeled]).predict(X),
    "LabelSpreading": LabelSpreading(n_neighbors=10).fit(X, y_ssl).transduction_,
    "LabelPropagation": LabelPropagation(n_neighbors=10).fit(X, y_ssl).transduction_,
    "LocalLabelPropagation\n(on RBF features)": LocalLabelPropagation(n_neighbors=3)
    .fit(embedding, y_ssl)
    .transduction_,
}

fig, axes = plt.subplots(1, 4, figsize=(14, 3.5), sharey=True)
for ax, (name, pred) in zip(axes, results.items()):
    ax.scatter(X[:, 0], X[:, 1], c=pred, cmap="coolwarm", s=8)
    ax.scatter(X[labeled, 0], X[labeled, 1], c="k", marker="*", s=150, label="labelled")
    ax.set_title(f"{name}\naccuracy {np.mean(pred == y):.2f}")
axes[0].legend(loc="lower left")
fig.tight_layout()

# %%
# Time against the number of rows
# -------------------------------
# scikit-learn builds its graph with exact neighbours; LocalLabelPropagation
# only compares each row with the labelled rows (O(N M)).
sizes = [1000, 2000, 5000]
timings = {"scikit-learn LabelSpreading": [], "LabelSpreading": [], "LocalLabelPropagation": []}
for n in sizes:
    Xn, yn = make_classification(
        n, n_features=32, n_informative=16, n_classes=10, n_clusters_per_class=2, random_state=0
    )
    yn_ssl = hide_labels(yn, n_labeled=0.01, random_state=0)
    models = {
        "scikit-learn LabelSpreading": SkLabelSpreading(kernel="knn", n_neighbors=10),
        "LabelSpreading": LabelSpreading(n_neighbors=10),
        "LocalLabelPropagation": LocalLabelPropagation(),
    }
    for name, model in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            model.fit(Xn, yn_ssl)
            timings[name].append(time.perf_counter() - start)

fig, ax = plt.subplots(figsize=(5, 3.5))
for name, t in timings.items():
    ax.loglog(sizes, t, "o-", label=name)
ax.set_xlabel("rows (1% labelled)")
ax.set_ylabel("fit time (s)")
ax.legend()
fig.tight_layout()
plt.show()
