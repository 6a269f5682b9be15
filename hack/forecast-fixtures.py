#!/usr/bin/python3
"""Writes the forecasting engine's reference fixtures from statsmodels.

    /usr/bin/python3 hack/forecast-fixtures.py [TRACES_DIR]

Run with Debian's python3 and python3-statsmodels (0.13.5): the fixtures
record what that version computes. TRACES_DIR defaults to ../shared/traces
(relative to the repository). Writes under tests/fixtures/forecast/:

  series/NAME.txt   the trace's values, one bucket per line; a bucket missing
                    from the trace (by timestamp) is `nan`.
  fixed/NAME_MODEL.txt
                    fixed parameters and statsmodels' heuristic initial state
                    (passed to both sides as known), and statsmodels' one-step
                    fitted values at every 200th bucket and the last 24:
                    test_forecast_fixtures checks ours equal them to 1e-6.
  fitted.txt        statsmodels' fitted models (initial state and parameters
                    all estimated, its defaults): sum of squared one-step
                    errors over the observed buckets, parameters and fit time.
                    Ours must come within 1.05 times that SSE.

statsmodels cannot take missing values: on a trace with gaps it is fitted on
the series with its gaps filled by straight lines, and its SSE is summed over
the observed buckets only, like ours.
"""

import os
import sys
import time
import warnings

import numpy as np
import pandas as pd
import statsmodels
from statsmodels.tsa.holtwinters import ExponentialSmoothing

warnings.simplefilter("ignore")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "tests", "fixtures", "forecast")

# (trace, season) as the issue fixes them.
TRACES = [
    ("nyc_taxi", 48),
    ("Twitter_volume_AMZN", 288),
    ("Twitter_volume_GOOG", 288),
    ("elb_request_count_8c0756", 288),
]

# Our model names (fc_model_name) and statsmodels' arguments for them.
MODELS = {
    "SimpleExponentialSmoothing": dict(trend=None, seasonal=None, damped_trend=False),
    "Holt": dict(trend="add", seasonal=None, damped_trend=False),
    "HoltDamped": dict(trend="add", seasonal=None, damped_trend=True),
    "HoltWinters": dict(trend="add", seasonal="add", damped_trend=False),
    "HoltWintersDamped": dict(trend="add", seasonal="add", damped_trend=True),
    "HoltWintersMultiplicative": dict(trend="add", seasonal="mul", damped_trend=False),
    "HoltWintersMultiplicativeDamped": dict(trend="add", seasonal="mul", damped_trend=True),
}

# Fixed parameters for the known-state comparison: moderate values. The
# multiplicative ones keep level + trend positive on every trace: where it
# falls to zero or below, statsmodels divides by it (and can turn seasonal
# factors negative) while the engine leaves the season as it was.
FIXED = dict(smoothing_level=0.3, smoothing_trend=0.05, smoothing_seasonal=0.1,
             damping_trend=0.92)
FIXED_MUL = dict(smoothing_level=0.1, smoothing_trend=0.001, smoothing_seasonal=0.05,
                 damping_trend=0.92)


def load(traces, name):
    d = pd.read_csv(os.path.join(traces, name + ".csv"), parse_dates=["timestamp"])
    step = d.timestamp.diff().min()
    idx = pd.date_range(d.timestamp.iloc[0], d.timestamp.iloc[-1], freq=step)
    v = d.set_index("timestamp").value.reindex(idx).to_numpy(dtype=float)
    return v, int(step.total_seconds())


def write_series(name, v, step):
    path = os.path.join(OUT, "series", name + ".txt")
    with open(path, "w") as f:
        f.write("# %s: %d buckets of %d s, %d missing (nan); from ../shared/traces/%s.csv\n"
                % (name, len(v), step, int(np.isnan(v).sum()), name))
        for x in v:
            f.write("nan\n" if np.isnan(x) else "%.10g\n" % x)


def model_of(y, args, season, **kw):
    return ExponentialSmoothing(y, trend=args["trend"], seasonal=args["seasonal"],
                                damped_trend=args["damped_trend"],
                                seasonal_periods=season if args["seasonal"] else None, **kw)


def write_fixed(name, y, season, model):
    args = MODELS[model]
    fixed = FIXED_MUL if args["seasonal"] == "mul" else FIXED
    mod = model_of(y, args, season, initialization_method="heuristic")
    kw = dict(smoothing_level=fixed["smoothing_level"])
    if args["trend"]:
        kw["smoothing_trend"] = fixed["smoothing_trend"]
    if args["seasonal"]:
        kw["smoothing_seasonal"] = fixed["smoothing_seasonal"]
    if args["damped_trend"]:
        kw["damping_trend"] = fixed["damping_trend"]
    res = mod.fit(optimized=False, **kw)
    fitted = np.asarray(res.fittedvalues)
    n = len(y)
    keep = sorted(set(range(0, n, 200)) | set(range(max(0, n - 24), n)))
    path = os.path.join(OUT, "fixed", "%s_%s.txt" % (name, model))
    with open(path, "w") as f:
        f.write("# statsmodels %s ExponentialSmoothing(trend=%r, seasonal=%r, damped_trend=%r),\n"
                "# initialization_method='heuristic', fit(optimized=False): one-step fitted\n"
                "# values of series/%s.txt with these parameters and initial state\n"
                % (statsmodels.__version__, args["trend"], args["seasonal"],
                   args["damped_trend"], name))
        f.write("series %s\nmodel %s\nseason %d\n" % (name, model, season if args["seasonal"] else 0))
        f.write("alpha %.17g\nbeta %.17g\ngamma %.17g\nphi %.17g\n"
                % (kw["smoothing_level"], kw.get("smoothing_trend", 0.0),
                   kw.get("smoothing_seasonal", 0.0), kw.get("damping_trend", 1.0)))
        f.write("level %.17g\n" % mod._initial_level)
        f.write("trend %.17g\n" % (mod._initial_trend if args["trend"] else 0.0))
        if args["seasonal"]:
            f.write("seasonal " + " ".join("%.17g" % s for s in mod._initial_seasonal) + "\n")
        for t in keep:
            f.write("fitted %d %.15g\n" % (t, fitted[t]))
    return path


def fit(y, season, model):
    """statsmodels' own fit: SSE over the observed buckets, params, seconds."""
    args = MODELS[model]
    observed = ~np.isnan(y)
    filled = pd.Series(y).interpolate(limit_direction="both").to_numpy()
    mod = model_of(filled, args, season)
    t0 = time.perf_counter()
    res = mod.fit()
    secs = time.perf_counter() - t0
    err = (filled - np.asarray(res.fittedvalues))[observed]
    p = res.params

    def param(key, unused):
        v = p.get(key)
        return unused if v is None or np.isnan(v) else v

    return float(err @ err), param("smoothing_level", 0.0), param("smoothing_trend", 0.0), \
        param("smoothing_seasonal", 0.0), param("damping_trend", 1.0), secs


def main():
    traces = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "..", "shared", "traces")
    os.makedirs(os.path.join(OUT, "series"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "fixed"), exist_ok=True)
    lines = []
    for name, season in TRACES:
        y, step = load(traces, name)
        write_series(name, y, step)
        positive = bool(np.all(y[~np.isnan(y)] > 0))
        for model, args in MODELS.items():
            if args["seasonal"] == "mul" and not positive:
                continue
            if not np.isnan(y).any():
                print("fixed", write_fixed(name, y, season, model), flush=True)
            sse, a, b, g, phi, secs = fit(y, season, model)
            line = "%s %s %d %.10g %.6g %.6g %.6g %.6g %.3f" % (
                name, model, season if args["seasonal"] else 0, sse, a, b, g, phi, secs)
            print("fitted", line, flush=True)
            lines.append(line)
    with open(os.path.join(OUT, "fitted.txt"), "w") as f:
        f.write("# statsmodels %s ExponentialSmoothing(...).fit() with its defaults\n"
                "# (initial state estimated, SLSQP); written by hack/forecast-fixtures.py\n"
                "# series model season sse alpha beta gamma phi seconds\n"
                % statsmodels.__version__)
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
