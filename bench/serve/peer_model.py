"""The peers' models, fitted on the same spambase CSV sluice's models learn
from (the file given by SPAM_CSV), once, when a worker starts:
  spam  scikit-learn's LogisticRegression (sluice: train.logistic)
  gb    XGBoost's XGBClassifier, 100 trees of depth 6, hist, one thread per
        worker (sluice: train.gbdt rounds 100, max_depth 6)
Shared by the FastAPI and Flask apps, so both score with the same models and
the same request decoding."""
import os
import warnings

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from xgboost import XGBClassifier

warnings.simplefilter("ignore")  # lbfgs on unscaled counts: convergence notes
_df = pd.read_csv(os.environ["SPAM_CSV"])
_y = _df.pop("type").to_numpy()
CLASSES, _yi = np.unique(_y, return_inverse=True)
COLUMNS = list(_df.columns)
_X = _df.to_numpy(dtype=np.float64)
MODELS = {
    "spam": LogisticRegression(max_iter=2000).fit(_X, _yi),
    "gb": XGBClassifier(n_estimators=100, max_depth=6, tree_method="hist", n_jobs=1).fit(_X, _yi),
}


def v2_rows(req):
    """The rows of a V2 request: one [n, k] input, or one input per column."""
    ins = req["inputs"]
    if len(ins) == 1 and ins[0]["name"] not in COLUMNS:
        n, k = ins[0]["shape"]
        return np.asarray(ins[0]["data"], dtype=np.float64).reshape(n, k)
    by = {i["name"]: i["data"] for i in ins}
    return np.column_stack([np.asarray(by[c], dtype=np.float64).ravel() for c in COLUMNS])


def v2_response(name, req, X):
    proba = MODELS[name].predict_proba(X)
    labels = CLASSES[proba.argmax(axis=1)]
    return {"model_name": name, "model_version": "1", "id": req.get("id", ""),
            "outputs": [
                {"name": "predict", "datatype": "BYTES", "shape": [len(X)], "data": labels.tolist()},
                {"name": "predict_proba", "datatype": "FP64", "shape": list(proba.shape),
                 "data": proba.ravel().tolist()}]}


def invocations(name, req):
    """MLflow's pyfunc path: dataframe_split into a DataFrame, predict."""
    split = req["dataframe_split"]
    df = pd.DataFrame(split["data"], columns=split["columns"])[COLUMNS]
    return {"predictions": CLASSES[MODELS[name].predict(df.to_numpy(dtype=np.float64))].tolist()}

if os.environ.get("PEER_READY"):
    # Tells the benchmark this worker has fitted its models.
    open(os.path.join(os.environ["PEER_READY"], str(os.getpid())), "w").close()
