# docs/c-api.md's complete program, compiled against the shared library and
# run on a model trained here: its predictions and contributions are those
# of `sluice predict --explain` on the same row, and a missing file is an
# error with a message.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"
command -v cc >/dev/null || { echo "no C compiler: skipped"; exit 0; }
lib=$(dirname "$(realpath "$SLUICE")")
[ -e "$lib/libsluice.so" ] || { echo "no shared library beside the binary: skipped"; exit 0; }

"$PY" - "$SRC/docs/c-api.md" > example.c <<'P'
import re, sys
text = open(sys.argv[1]).read()
part = text[text.index("## A complete program"):]
print(re.search(r"```c\n(.*?)```", part, re.S).group(1))
P
# A library built with sanitizers needs them in the program too.
san=
if nm -D "$lib/libsluice.so" 2>/dev/null | grep __asan_init >/dev/null; then san="-fsanitize=address,undefined"; fi
cc -std=c99 -Wall -Wextra -Werror $san -I"$SRC/include" -o example example.c \
	-L"$lib" -lsluice -Wl,-rpath,"$lib" -lm || fail "the example in docs/c-api.md does not compile"

"$PY" - <<'P'
import math, random
random.seed(3)
with open("churn.csv", "w") as f:
    f.write("tenure,calls,plan,churned\n")
    for i in range(400):
        tenure, calls = random.uniform(0, 60), random.randint(0, 12)
        plan = random.choice(["basic", "plus", "pro"])
        z = 1.5 - 0.08 * tenure + 0.35 * calls + (0.8 if plan == "basic" else 0)
        f.write(f"{tenure:.1f},{calls},{plan},{'yes' if random.random() < 1 / (1 + math.exp(-z)) else 'no'}\n")
P
cat > p.yaml <<'Y'
name: capi
steps:
  ingest:
    uses: ingest.csv
    with: { path: churn.csv }
  train:
    uses: train.logistic
    inputs: { train: ingest.data }
    with: { target: churned }
Y
sl run p.yaml --json > run.json 2>/dev/null || fail "run: $(cat run.json)"
model=$(js "next(s['outputs']['model'] for s in d['steps'] if s['name']=='train')" < run.json)
sl artifacts export "$model" -o model.slm

./example model.slm tenure=12 calls=3 plan=basic > ours.txt || fail "the example failed: $(cat ours.txt)"
contains "$(cat ours.txt)" "logistic binary model, 3 inputs"
printf 'tenure,calls,plan\n12,3,basic\n' > row.csv
sl predict model.slm -i row.csv -o theirs.jsonl --explain
"$PY" - ours.txt theirs.jsonl <<'P'
import json, sys
ours = {}
for line in open(sys.argv[1]):
    if " = " in line:
        k, v = line.rsplit(" = ", 1)
        ours[k.replace("contrib ", "contrib_")] = float(v)
theirs = json.loads(open(sys.argv[2]).readline())
for k in ("proba_no", "proba_yes", "contrib_tenure", "contrib_calls", "contrib_plan", "contrib_base"):
    assert abs(ours[k] - theirs[k]) <= 1e-12 * (1 + abs(theirs[k])), (k, ours[k], theirs[k])
P

expect_exit 1 ./example nothing.slm
contains "$ERR" "nothing.slm"
echo ok
