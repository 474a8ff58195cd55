# sluice init and its templates: the canvas it writes has the ten blocks
# with DESIGN's keys, each explained; a template is its example project byte
# for byte (so a file added to an example and not to CMakeLists.txt's list
# is caught here), its pipeline runs, and its canvas checks clean; a
# template never writes over an existing file.
. "$(dirname "$0")/lib.sh"

blocks="value_proposition data_sources prediction_task features offline_evaluation decisions
making_predictions data_collection building_models live_monitoring"

# A plain init: every block, at the top level, after a comment that explains it.
mkdir plain && (cd plain && sl init . >/dev/null)
for b in $blocks; do
	grep -q "^$b:" plain/canvas.yaml || fail "init's canvas.yaml has no '$b:'"
	grep -B1 "^$b:" plain/canvas.yaml | head -1 | grep -q '^#' || fail "'$b' has no comment above it"
done
for wrong in predictions retraining monitoring; do
	grep -q "^$wrong:" plain/canvas.yaml && fail "init's canvas.yaml still has '$wrong:'"
done
# The acted-on fields are named as DESIGN fixes them.
for f in metric min cost value latency_p99_ms pipeline cadence retrain_on auto_promote window metrics drift alert; do
	grep -q "^  $f:" plain/canvas.yaml || fail "init's canvas.yaml has no field '$f'"
done
(cd plain && sl canvas check >/dev/null) || fail "init's canvas does not check"
[ "$(cd plain && sl canvas check --json | js "len(d['errors']), len(d['warnings'])")" = "0 0" ] ||
	fail "init's canvas has problems"

# --template blank is the same project; the folder is made.
sl init new/blank --template blank >/dev/null
cmp plain/canvas.yaml new/blank/canvas.yaml || fail "blank template differs from plain init"
cmp plain/sluice.yaml new/blank/sluice.yaml || fail "sluice.yaml differs"
[ -d new/blank/.sluice ] || fail "no .sluice in the blank template"

# spam and forecast: the example project, byte for byte, plus the project's own files.
same_as() {
	diff -r -x .sluice -x sluice.yaml "$1" "$SRC/examples/$2" || fail "template $1 differs from examples/$2"
}
out=$(sl init spam --template spam)
contains "$out" "from the spam template"
contains "$out" "sluice run train.yaml"
same_as spam spam
sl init sales -t forecast >/dev/null
same_as sales sales

# Their pipelines run as far as sluice goes today, and their canvases check clean.
(cd spam && sl run -q train.yaml) || fail "the spam template's pipeline"
[ "$(cd spam && sl runs show latest --json | js "d['status']")" = completed ] || fail "spam run status"
(cd sales && sl run -q forecast.yaml) || fail "the forecast template's pipeline"
for p in spam sales; do
	r=$(cd $p && sl canvas check --json)
	[ "$(printf '%s' "$r" | js "d['valid'], len(d['warnings'])")" = "True 0" ] ||
		fail "$p's canvas: $r"
	[ "$(printf '%s' "$r" | js "d['descriptive']['empty']")" = "[]" ] || fail "$p's canvas leaves blocks empty"
done
[ "$(cd spam && sl canvas check --json | js "d['pipelines']")" = "['retrain.yaml', 'train.yaml']" ] || fail "spam pipelines"

# Refusals: an unknown template (with a suggestion), a file in the way
# (nothing written), a folder that is already a project.
expect_exit 2 sl init x --template spma
contains "$ERR" "did you mean 'spam'"
[ -e x ] && fail "an unknown template made its folder"
mkdir busy && echo keep > busy/train.yaml
expect_exit 2 sl init busy --template spam
contains "$ERR" "busy/train.yaml already exists"
[ "$(ls -A busy)" = train.yaml ] || fail "a refused template wrote: $(ls -A busy)"
[ "$(cat busy/train.yaml)" = keep ] || fail "a refused template changed a file"
expect_exit 2 sl init spam --template forecast
contains "$ERR" "already a sluice project"
expect_exit 2 sl init --template
sl help init | grep -q -- "--template" || fail "help init"
echo ok
