"""The forecasting benchmark's data and its peer (statsmodels).

  forecast_peer.py gen DIR         writes the synthetic panel and elec_equip,
                                   each split into train / test CSV files
  forecast_peer.py peer DIR JOBS   fits statsmodels' ExponentialSmoothing to
                                   every series (its best configuration by
                                   AICc over trend none/add/damped x season
                                   none/add/mul), forecasts the test months and
                                   prints MASE and the fitting time as JSON
  forecast_peer.py hgb DIR THREADS scikit-learn's HistGradientBoostingRegressor
                                   on the features sluice's gbdt builds (one
                                   global model, scaled seasonal differences,
                                   lags 1..11 and 24, the mean of 12, month,
                                   series id; 100 rounds, rate 0.1, depth 6),
                                   forecast recursively; MASE and time as JSON

The generator is deterministic (numpy RandomState(2024)): 1,000 monthly
series of 48 to 144 months with a level, a trend (none, up, down, damped),
a season (none, additive, multiplicative) and noise of varied strength;
the last 18 months of each are the test rows. MASE is the mean absolute
error over the test months divided by the in-sample mean absolute
seasonal-naive (lag 12) error, averaged over series, as sluice computes it.
"""
import csv
import json
import os
import sys
import time
import warnings

import numpy as np

H = 18
M = 12


def gen(out):
    rng = np.random.RandomState(2024)
    rows_tr, rows_te = [], []
    for s in range(1000):
        n = int(rng.randint(48, 145)) + H
        t = np.arange(n)
        level = 10 ** rng.uniform(1, 3)
        kind = rng.randint(4)
        slope = [0, 1, -1, 1][kind] * level * rng.uniform(0.002, 0.01)
        trend = slope * t if kind < 3 else slope * (1 - 0.97 ** t) / 0.03
        amp = rng.uniform(0.05, 0.3)
        phase = rng.uniform(0, 2 * np.pi)
        shape = np.sin(2 * np.pi * t / M + phase) + 0.3 * np.sin(4 * np.pi * t / M)
        base = level + trend
        season_kind = rng.randint(3)
        if season_kind == 0:
            y = base.copy()
        elif season_kind == 1:
            y = base + amp * level * shape
        else:
            y = base * (1 + amp * shape)
        noise = rng.uniform(0.01, 0.15)
        y = y + rng.normal(0, noise * level, n)
        y = np.maximum(y, 0.05 * level)
        name = "s%04d" % s
        for i in range(n):
            yr, mo = 2000 + i // 12, i % 12 + 1
            row = (name, "%04d-%02d-01" % (yr, mo), "%.6g" % y[i])
            (rows_tr if i < n - H else rows_te).append(row)
    for fname, rows in (("series_train.csv", rows_tr), ("series_test.csv", rows_te)):
        with open(os.path.join(out, fname), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["series", "month", "value"])
            w.writerows(rows)
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(here, "..", "examples", "sales", "data", "elec_equip.csv")
    with open(src) as f:
        rows = list(csv.reader(f))[1:]
    for fname, part in (("elec_train.csv", rows[:-H]), ("elec_test.csv", rows[-H:])):
        with open(os.path.join(out, fname), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["month", "turnover"])
            w.writerows(part)


def load(path, key, value):
    series = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            series.setdefault(r.get(key, ""), []).append(float(r[value]))
    return series


def fit_one(y):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    warnings.simplefilter("ignore")
    y = np.asarray(y)
    best = None
    for trend, damped in ((None, False), ("add", False), ("add", True)):
        for seasonal in (None, "add", "mul"):
            if seasonal and len(y) < 2 * M:
                continue
            if seasonal == "mul" and y.min() <= 0:
                continue
            try:
                f = ExponentialSmoothing(y, trend=trend, damped_trend=damped,
                                         seasonal=seasonal,
                                         seasonal_periods=M if seasonal else None,
                                         initialization_method="estimated").fit()
            except Exception:
                continue
            if np.isfinite(f.aicc) and (best is None or f.aicc < best.aicc):
                best = f
    return best.forecast(H)


def mase(train, test, fc):
    train, test = np.asarray(train), np.asarray(test)
    lag = M if len(train) > M else 1
    scale = np.mean(np.abs(train[lag:] - train[:-lag]))
    return np.mean(np.abs(test - fc)) / scale


def peer(d, jobs):
    from multiprocessing import Pool
    out = {}
    for name, key, value in (("panel", "series", "value"), ("elec", None, "turnover")):
        pre = "series" if name == "panel" else "elec"
        tr = load(os.path.join(d, pre + "_train.csv"), key, value)
        te = load(os.path.join(d, pre + "_test.csv"), key, value)
        keys = sorted(tr)
        t0 = time.perf_counter()
        with Pool(jobs) as pool:
            fcs = pool.map(fit_one, [tr[k] for k in keys], chunksize=8)
        secs = time.perf_counter() - t0
        out[name] = {"mase": float(np.mean([mase(tr[k], te[k], f) for k, f in zip(keys, fcs)])),
                     "seconds": secs, "series": len(keys)}
    print(json.dumps(out))


def hgb_features(ys, scales, ids, months, i):
    """Rows predicting position i of every series in ys (lists) at once."""
    rows = []
    for y, sc, sid, m0 in zip(ys, scales, ids, months):
        a = y[i - M]
        r = [(y[i - j] - a) / sc if i >= j else np.nan for j in list(range(1, M)) + [2 * M]]
        w = y[max(0, i - M):i]
        r.append((sum(w) / len(w) - a) / sc)
        pos = (m0 + i) % M
        r += [pos, pos + 1, sid]
        rows.append(r)
    return rows


def hgb(d, threads):
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from sklearn.ensemble import HistGradientBoostingRegressor
    out = {}
    for name, key, value in (("panel", "series", "value"), ("elec", None, "turnover")):
        pre = "series" if name == "panel" else "elec"
        tr = load(os.path.join(d, pre + "_train.csv"), key, value)
        te = load(os.path.join(d, pre + "_test.csv"), key, value)
        keys = sorted(tr)
        t0 = time.perf_counter()
        X, Y = [], []
        scales = []
        for sid, k in enumerate(keys):
            y = tr[k]
            sc = np.mean(np.abs(np.asarray(y[M:]) - np.asarray(y[:-M])))
            sc = sc if sc > 0 else 1.0
            scales.append(sc)
            for i in range(M, len(y)):
                X += hgb_features([y], [sc], [sid], [0], i)
                Y.append((y[i] - y[i - M]) / sc)
        # The series id is numeric here: scikit-learn takes at most 255
        # categories (sluice keeps 64 as their own bins and pools the rest).
        model = HistGradientBoostingRegressor(
            max_iter=100, learning_rate=0.1, max_depth=6, min_samples_leaf=3,
            l2_regularization=1.0, max_bins=255, early_stopping=False, random_state=0)
        model.fit(np.asarray(X), np.asarray(Y))
        bufs = [list(tr[k]) for k in keys]
        for k in range(H):
            rows = [hgb_features([b], [sc], [sid], [0], len(b))[0]
                    for sid, (b, sc) in enumerate(zip(bufs, scales))]
            f = model.predict(np.asarray(rows))
            for b, fk, sc in zip(bufs, f, scales):
                b.append(b[-M] + sc * fk)
        secs = time.perf_counter() - t0
        out[name] = {"mase": float(np.mean([mase(tr[k], te[k], b[-H:])
                                            for k, b in zip(keys, bufs)])),
                     "seconds": secs, "series": len(keys)}
    print(json.dumps(out))


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
    elif sys.argv[1] == "hgb":
        hgb(sys.argv[2], int(sys.argv[3]))
    else:
        peer(sys.argv[2], int(sys.argv[3]))
