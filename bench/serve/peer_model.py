"""The peers' model: scikit-learn's LogisticRegression fitted on the same
spambase CSV that sluice's train.logistic learns from (the file given by
SPAM_CSV), once, when a worker starts. Shared by the FastAPI and Flask
apps, so both score with the same model and the same request decoding."""
import os
import warnings

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

warnings.simplefilter("ignore")  # lbfgs on unscaled counts: convergence notes
_df = pd.read_csv(os.environ["SPAM_CSV"])
_y = _df.pop("type").to_numpy()
COLUMNS = list(_df.columns)
MODEL = LogisticRegression(max_iter=2000).fit(_df.to_numpy(dtype=np.float64), _y)


def v2_rows(req):
    """The rows of a V2 request: one [n, k] input, or one input per column."""
    ins = req["inputs"]
    if len(ins) == 1 and ins[0]["name"] not in COLUMNS:
        n, k = ins[0]["shape"]
        return np.asarray(ins[0]["data"], dtype=np.float64).reshape(n, k)
    by = {i["name"]: i["data"] for i in ins}
    return np.column_stack([np.asarray(by[c], dtype=np.float64).ravel() for c in COLUMNS])


def v2_response(req, X):
    proba = MODEL.predict_proba(X)
    labels = MODEL.classes_[proba.argmax(axis=1)]
    return {"model_name": "spam", "model_version": "1", "id": req.get("id", ""),
            "outputs": [
                {"name": "predict", "datatype": "BYTES", "shape": [len(X)], "data": labels.tolist()},
                {"name": "predict_proba", "datatype": "FP64", "shape": list(proba.shape),
                 "data": proba.ravel().tolist()}]}


def invocations(req):
    """MLflow's pyfunc path: dataframe_split into a DataFrame, predict."""
    split = req["dataframe_split"]
    df = pd.DataFrame(split["data"], columns=split["columns"])[COLUMNS]
    return {"predictions": MODEL.predict(df.to_numpy(dtype=np.float64)).tolist()}
