"""The scikit-learn side of bench/tune.sh: RandomizedSearchCV over the same
family and ranges, 20 iterations, scored by ROC AUC on the fixed valid rows
(PredefinedSplit: train rows -1, valid rows 0), n_jobs=2, refit off.
Prints one JSON line: {"seconds": [...], "auc": [...]} over RUNS searches."""
import json
import sys
import time
import warnings

import numpy as np
import pandas as pd
from scipy.stats import loguniform, randint
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import PredefinedSplit, RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# lbfgs stops at 200 iterations on both sides; its warnings for large C are noise here.
warnings.filterwarnings("ignore")
family, train_path, valid_path, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
tr, va = pd.read_csv(train_path), pd.read_csv(valid_path)
y = np.concatenate([(tr.pop("type") == "spam").to_numpy(), (va.pop("type") == "spam").to_numpy()])
X = np.ascontiguousarray(np.vstack([tr.to_numpy(dtype=np.float64), va.to_numpy(dtype=np.float64)]))
fold = np.concatenate([np.full(len(tr), -1), np.zeros(len(va), dtype=int)])

if family == "gbdt":
    model = HistGradientBoostingClassifier(max_iter=100, max_leaf_nodes=None, early_stopping=False)
    space = {"learning_rate": loguniform(0.01, 0.3), "max_depth": randint(2, 9),
             "l2_regularization": loguniform(0.001, 10)}
else:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200))
    space = {"logisticregression__C": loguniform(0.001, 100)}

out = {"seconds": [], "auc": []}
for r in range(runs):
    search = RandomizedSearchCV(model, space, n_iter=20, scoring="roc_auc", cv=PredefinedSplit(fold),
                                n_jobs=2, refit=False, random_state=r + 1)
    t0 = time.monotonic()
    search.fit(X, y)
    out["seconds"].append(time.monotonic() - t0)
    out["auc"].append(float(search.best_score_))
print(json.dumps(out))
