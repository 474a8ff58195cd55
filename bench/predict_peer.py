"""The XGBoost side of bench/predict.sh: the same trees (hist, depth 6, 256
bins, eta 0.3, 2 threads) on the same rows, then what predict.sh asks, as
one JSON line.

  predict_peer.py model DIR ROUNDS OUT.json     train and save
  predict_peer.py score DIR MODEL               DMatrix + predict, and
                                                inplace_predict, on test.x
                                                (wall and process CPU time)
  predict_peer.py load MODEL [LOADS]           Booster(model_file=...) LOADS times (31):
                                                median and best wall and CPU time
  predict_peer.py row DIR MODEL ROWS            inplace_predict one row per call
  predict_peer.py csv IN.csv MODEL OUT.csv      pandas read_csv, predict, to_csv
"""
import json
import statistics
import sys
import time

import numpy as np
import xgboost as xgb

P = 28
PARAMS = {"tree_method": "hist", "max_depth": 6, "max_bin": 256, "eta": 0.3, "lambda": 1,
          "min_child_weight": 1, "objective": "binary:logistic", "nthread": 2}


def rows(d, name):
    x = np.fromfile(f"{d}/{name}", dtype="<f8")
    return np.ascontiguousarray(x.reshape(P, -1).T)


def booster(path):
    b = xgb.Booster(model_file=path)
    b.set_param({"nthread": 2})
    return b


mode = sys.argv[1]
if mode == "model":
    d, rounds, out = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    y = np.fromfile(f"{d}/train.y", dtype="<f8")
    bst = xgb.train(PARAMS, xgb.DMatrix(rows(d, "train.x"), label=y), rounds)
    bst.save_model(out)
    print(json.dumps({"rounds": rounds}))
elif mode == "score":
    X, b = rows(sys.argv[2], "test.x"), booster(sys.argv[3])
    dm, ip = [], []  # (wall, process CPU) of each run
    for _ in range(3):
        t0, c0 = time.monotonic(), time.process_time()
        b.predict(xgb.DMatrix(X, nthread=2))
        dm.append((time.monotonic() - t0, time.process_time() - c0))
        t0, c0 = time.monotonic(), time.process_time()
        b.inplace_predict(X)
        ip.append((time.monotonic() - t0, time.process_time() - c0))
    n = X.shape[0]
    (dw, dc), (iw, ic) = min(dm), min(ip)
    print(json.dumps({"rows": n, "dmatrix_seconds": dw, "dmatrix_rows_per_s": n / dw,
                      "dmatrix_cpu_seconds": dc, "dmatrix_rows_per_cpu_s": n / dc,
                      "inplace_seconds": iw, "inplace_rows_per_s": n / iw,
                      "inplace_cpu_seconds": ic, "inplace_rows_per_cpu_s": n / ic}))
elif mode == "load":
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 31
    booster(sys.argv[2])  # the page cache, as the sluice side does
    ms, cpu = [], []
    for _ in range(n):
        t0, c0 = time.monotonic(), time.process_time()
        booster(sys.argv[2])
        cpu.append((time.process_time() - c0) * 1e3)
        ms.append((time.monotonic() - t0) * 1e3)
    print(json.dumps({"loads": n, "load_ms": statistics.median(ms), "load_ms_min": min(ms),
                      "load_cpu_ms": statistics.median(cpu), "load_cpu_ms_min": min(cpu)}))
elif mode == "row":
    X, b, n = rows(sys.argv[2], "test.x"), booster(sys.argv[3]), int(sys.argv[4])
    X1 = [X[i:i + 1] for i in range(min(n, X.shape[0]))]
    for _ in range(3):  # warm, then keep the last
        t0, c0 = time.monotonic(), time.thread_time()
        for r in X1:
            b.inplace_predict(r)
        us = (time.monotonic() - t0) / len(X1) * 1e6
        cpu = (time.thread_time() - c0) / len(X1) * 1e6
    print(json.dumps({"rows": len(X1), "row_us": us, "row_cpu_us": cpu}))
elif mode == "csv":
    import pandas as pd
    t0 = time.monotonic()
    df = pd.read_csv(sys.argv[2])
    p = booster(sys.argv[3]).inplace_predict(df[[f"f{j}" for j in range(P)]].to_numpy())
    df["proba_0"], df["proba_1"] = 1 - p, p
    df.to_csv(sys.argv[4], index=False)
    print(json.dumps({"rows": len(df), "seconds": time.monotonic() - t0}))
