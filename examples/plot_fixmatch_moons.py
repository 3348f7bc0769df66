"""
=========================================
FixMatch on two moons with six labels
=========================================

Six labelled points (three per moon) are not enough for a network to find the
moons: trained on them alone, it draws a straight-ish boundary between the two
groups of labels. :class:`~sklearn_ssl.neural.FixMatchClassifier` also uses the
994 unlabelled points: where the network is confident on a slightly noised copy
of a point (the weak view), it trains the network to give the same class to a
more strongly noised copy (the strong view). Confidence spreads along each moon
and the boundary moves into the gap between them.

The right panel shows the mask rate per epoch: the fraction of unlabelled
points whose pseudo-label passed the confidence threshold (0.95).

On two features we use a noise-only strong view (``GaussianNoise(0.2)``): the
tabular default, :class:`~sklearn_ssl.neural.FeatureCorruption`, swaps
coordinates between points, which on a 2-d problem moves a point to another
region of the plane. Distribution alignment keeps the pseudo-labels balanced.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import make_moons
from sklearn.preprocessing import StandardScaler

from sklearn_ssl.datasets import hide_labels
from sklearn_ssl.neural import FixMatchClassifier, GaussianNoise

torch.set_num_threads(1)

X, y = make_moons(n_samples=1000, noise=0.1, random_state=0)
X = StandardScaler().fit_transform(X)
y_ssl = hide_labels(y, n_per_class=3, random_state=1)
labeled = y_ssl != -1

params = dict(hidden_layer_sizes=(64, 64), lr=3e-3, batch_size=32, random_state=0)
# 994 unlabelled rows in batches of 7 * 32 make 5 steps per epoch.
supervised = FixMatchClassifier(mu=0, max_epochs=500, **params).fit(X, y_ssl)
fixmatch = FixMatchClassifier(
    strong_augmentation=GaussianNoise(0.2),
    distribution_alignment=True,
    max_epochs=100,
    **params,
).fit(X, y_ssl)

xx, yy = np.meshgrid(np.linspace(-2.5, 2.5, 200), np.linspace(-2.5, 2.5, 200))
grid = np.c_[xx.ravel(), yy.ravel()]

fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for ax, clf, title in [
    (axes[0], supervised, "Labelled points only"),
    (axes[1], fixmatch, "FixMatch"),
]:
    proba = clf.predict_proba(grid)[:, 1].reshape(xx.shape)
    ax.contourf(xx, yy, proba, levels=20, cmap="RdBu_r", alpha=0.6)
    ax.contour(xx, yy, proba, levels=[0.5], colors="k")
    ax.scatter(X[~labeled, 0], X[~labeled, 1], c="lightgray", s=4)
    ax.scatter(X[labeled, 0], X[labeled, 1], c=y[labeled], cmap="RdBu_r", s=80, edgecolors="k")
    accuracy = np.mean(clf.predict(X) == y)
    ax.set_title(f"{title}: accuracy {accuracy:.1%}")
    ax.set_xticks([])
    ax.set_yticks([])

axes[2].plot(fixmatch.history[:, "epoch"], fixmatch.history[:, "mask_rate"])
axes[2].set_xlabel("epoch")
axes[2].set_ylabel("mask rate")
axes[2].set_ylim(0, 1.05)
axes[2].set_title("Unlabelled points above the threshold")
fig.tight_layout()
plt.show()
