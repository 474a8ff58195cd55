# train.forecast end to end on the sales example (elec_equip, the last 18
# months held out): auto beats the seasonal naive baseline on the held-out
# months with honest intervals; two series under `by:` each get a model;
# a gap and a misspelt method are refused, naming the series or the line.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

cp -r "$SRC/examples/sales/." .
sl run forecast.yaml --json > run.json 2>/dev/null
[ "$(js "d['status']" < run.json)" = completed ] || fail "example run: $(cat run.json)"
metric() { js "next(s['metrics'].get('$2') for s in d['steps'] if s['name']=='$1')" < run.json; }
[ "$(metric forecast valid_rows)" = 18.0 ] || fail "valid rows: $(metric forecast valid_rows)"
"$PY" - "$(metric forecast valid_mase)" "$(metric forecast valid_baseline_mase)" \
	"$(metric forecast valid_coverage95)" "$(metric forecast series)" <<'P'
import sys
mase, base, cov95, series = map(float, sys.argv[1:])
assert series == 1, series
assert mase < base, (mase, base)        # better than seasonal naive
assert mase < 0.8, mase
assert cov95 >= 0.8, cov95
P
# Every candidate of auto was scored and one was chosen.
for m in naive seasonal_naive drift theta ets; do
	[ "$(metric forecast auto_mase_$m)" != None ] || fail "auto did not score $m"
done

# Two series under by: (the second twice the first, shifted a year).
"$PY" - <<'P'
import csv
rows = list(csv.reader(open("data/elec_equip.csv")))[1:]
with open("data/two.csv", "w") as f:
    f.write("store,month,turnover\n")
    for d, v in rows:
        f.write("a,%s,%s\n" % (d, v))
    for d, v in rows:
        f.write("b,%s,%.2f\n" % (d, 2 * float(v)))
P
cat > two.yaml <<'Y'
name: two
steps:
  ingest: { uses: ingest.csv, with: { path: data/two.csv } }
  forecast:
    uses: train.forecast
    inputs: { train: ingest.data }
    with: { target: turnover, time: month, by: store, horizon: 12, method: ets }
Y
sl run two.yaml --json > two.json 2>/dev/null
[ "$(js "d['status']" < two.json)" = completed ] || fail "two series: $(cat two.json)"
[ "$(js "next(s['metrics']['series'] for s in d['steps'] if s['name']=='forecast')" < two.json)" = 2.0 ] ||
	fail "two series expected"

# A gap in a series fails the step and names the series and the months.
awk -F, 'NR != 40' data/two.csv > gap.csv && mv gap.csv data/two.csv
expect_exit 1 sl run two.yaml
show=$(sl runs show latest)
contains "$show" "series store=a has a gap: 1 missing monthly step between 1998-02-01"

# A misspelt method is a usage error pointing at the line.
sed 's/method: ets/method: arima/' two.yaml > bad.yaml
expect_exit 2 sl run bad.yaml
contains "$ERR" "bad.yaml:"
contains "$ERR" "option 'method' of train.forecast must be one of auto, naive, seasonal_naive, drift, ets, theta or gbdt, not 'arima'"
echo ok
