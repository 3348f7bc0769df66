"""
==========================================================
Self-training, iteration by iteration, with ``history_``
==========================================================

A :class:`~sklearn_ssl.SelfTrainingWrapper` fitted on digits with 10 labels per class.
Every iteration pseudo-labels 10% of the unlabelled rows, the most confident first, and
refits the classifier. ``history_`` records what each iteration added;
:class:`~sklearn_ssl.self_training.SelfTrainingDisplay` plots it in one line.

To draw test accuracy per iteration as well, we refit with ``max_iter=k`` for each ``k``
(the fit is deterministic, so the ``k``-th refit is exactly the model of iteration ``k``).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from sklearn_ssl import SelfTrainingWrapper
from sklearn_ssl.datasets import hide_labels
from sklearn_ssl.self_training import SelfTrainingDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.3, random_state=0)
y_ssl = hide_labels(y_train, n_per_class=10, random_state=0)

base = LogisticRegression(max_iter=1000)
model = SelfTrainingWrapper(base, sample_rate=0.1).fit(X_train, y_ssl)
supervised = base.fit(X_train[y_ssl != -1], y_ssl[y_ssl != -1]).score(X_test, y_test)
print(
    f"supervised: {supervised:.3f}, self-training: {model.score(X_test, y_test):.3f}, "
    f"stopped by {model.termination_condition_!r} after {model.n_iter_} iterations"
)

# %%
# Test accuracy of the model after each iteration.
test_accuracy = [
    SelfTrainingWrapper(base, sample_rate=0.1, max_iter=h["iteration"])
    .fit(X_train, y_ssl)
    .score(X_test, y_test)
    for h in model.history_
]

disp = SelfTrainingDisplay.from_estimator(model, scores=test_accuracy, score_name="test accuracy")
disp.ax_score_.axhline(supervised, color="grey", linestyle=":", label="supervised")
disp.ax_.set_title("digits, 10 labels per class: pseudo-labels and accuracy per iteration")
plt.tight_layout()
plt.show()

# %%
# How many pseudo-labels each class received (from ``history_``).
counts = np.array([list(h["class_counts"].values()) for h in model.history_]).sum(axis=0)
print("pseudo-labels per class:", dict(zip(model.classes_.tolist(), counts.tolist())))
