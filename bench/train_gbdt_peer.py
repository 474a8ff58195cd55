"""The XGBoost side of bench/train_gbdt.sh.

    gbdt_xgb.py DIR THREADS ROUNDS DEPTH BINS ETA [PREDICT_ROWS]

Reads the problem gbdt_bench wrote (column-major float64 files), converts it
to the float32 C-ordered array XGBoost copies least, then times DMatrix
construction plus training with tree_method "hist" and prints one JSON line
like gbdt_bench's: fit seconds (DMatrix + train), train-only seconds, test
AUC, peak RSS and the RSS before the DMatrix. With PREDICT_ROWS, the mean
time of one-row Booster.inplace_predict calls.
"""
import json
import os
import resource
import sys
import time

import numpy as np
import xgboost as xgb
from sklearn.metrics import roc_auc_score


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def load(d, name):
    y = np.fromfile(os.path.join(d, name + ".y"), dtype=np.float64)
    n = len(y)
    raw = np.memmap(os.path.join(d, name + ".x"), dtype=np.float64, mode="r")
    p = len(raw) // n
    x = np.empty((n, p), dtype=np.float32)
    for j in range(p):  # column by column: the float64 copy never exists whole
        x[:, j] = raw[j * n:(j + 1) * n]
    del raw
    return x, y.astype(np.float32)


def main():
    d, threads, rounds, depth, bins, eta = sys.argv[1:7]
    rows = int(sys.argv[7]) if len(sys.argv) > 7 else 0
    x, y = load(d, "train")
    xt, yt = load(d, "test")
    params = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": int(depth),
              "max_bin": int(bins), "eta": float(eta), "nthread": int(threads),
              "lambda": 1.0, "min_child_weight": 1.0, "verbosity": 0}
    rss0 = rss_kb()
    t0 = time.monotonic()
    dtrain = xgb.DMatrix(x, label=y, nthread=int(threads))
    t1 = time.monotonic()
    bst = xgb.train(params, dtrain, num_boost_round=int(rounds))
    t2 = time.monotonic()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pred = bst.inplace_predict(xt)
    auc = roc_auc_score(yt, pred)
    us = cpu_us = 0.0
    if rows:
        rows = min(rows, len(yt))
        one = [np.ascontiguousarray(xt[i:i + 1]) for i in range(rows)]
        for _ in range(3):  # warm, then measure the last
            t3, c3 = time.monotonic(), time.thread_time()
            for r in one:
                bst.inplace_predict(r)
            us = (time.monotonic() - t3) / rows * 1e6
            cpu_us = (time.thread_time() - c3) / rows * 1e6
    print(json.dumps({"seconds": round(t2 - t0, 3), "train_seconds": round(t2 - t1, 3),
                      "auc": round(float(auc), 6), "peak_rss_kb": peak, "rss_before_kb": rss0,
                      "rows": len(y), "threads": int(threads), "predict_us": round(us, 3),
                      "predict_cpu_us": round(cpu_us, 3)}))


main()
