# The command line itself: help on every verb, exit statuses, errors that
# name their place, artifact ids by prefix, JSON on every listing.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

# Help and version.
for v in init run runs artifacts canvas steps version help; do
	sl help $v | grep -q "usage: sluice $v" || fail "help $v"
	sl $v --help | grep -q "usage: sluice $v" || fail "$v --help"
done
sl --help | grep -q "verbs:" || fail "--help"
sl version | grep -Eq '^sluice [0-9]+\.[0-9]+\.[0-9]+$' || fail "version"
expect_exit 2 sl
expect_exit 2 sl frobnicate
contains "$ERR" "'frobnicate' is not a verb"
expect_exit 2 sl run
expect_exit 2 sl run a.yaml b.yaml
expect_exit 2 sl run p.yaml -j 0
expect_exit 2 sl runs bogus
expect_exit 2 sl artifacts export abcd
contains "$ERR" "-o FILE"

# init: a second time is an error; outside a project, verbs say so.
expect_exit 2 sl init .
contains "$ERR" "already a sluice project"
[ -f sluice.yaml ] && [ -f canvas.yaml ] && [ -d .sluice ] || fail "init layout"
# What init writes points only at verbs that exist.
if ! sl help canvas >/dev/null 2>&1; then
	not_contains "$(cat canvas.yaml sluice.yaml)" "sluice canvas"
fi
mkdir -p elsewhere && (cd elsewhere && sl runs >/dev/null) || fail "project found from a subfolder"
(cd / && set +e; "$SLUICE" runs >/dev/null 2>"$T/.e"; [ $? -eq 2 ]) || fail "outside a project"
grep -q "not in a sluice project" "$T/.e" || fail "outside message"
SLUICE_HOME="$T" sl runs --json | js "d" >/dev/null || fail "SLUICE_HOME"

# An invalid pipeline: exit 2, FILE:LINE:COL, nothing runs.
cat > bad.yaml <<'Y'
name: bad
steps:
  a:
    run: echo hi > "${outputs.out}"
    outputs: [out]
  b:
    run: cat "${inputs.x}"
    inputs: { x: nosuch.out }
Y
expect_exit 2 sl run bad.yaml
contains "$ERR" "bad.yaml:8:"
[ "$(sl runs --json | js "len(d)")" = 0 ] || fail "an invalid file must not create a run"
cat > badkey.yaml <<'Y'
name: bad
steps:
  a:
    runn: echo hi
Y
expect_exit 2 sl run badkey.yaml
contains "$ERR" "badkey.yaml:4:5:"
# A built-in's own check of its options together is a parse error too.
cat > both.yaml <<'Y'
name: both
steps:
  q:
    uses: ingest.sql
    with: { path: a.db, url: "postgresql://x@127.0.0.1/db", query: "SELECT 1" }
Y
expect_exit 2 sl run both.yaml
contains "$ERR" "both.yaml:5:25: 'url' cannot be given with 'path'"
cat > badtimeout.yaml <<'Y'
name: t
steps:
  a:
    run: "true"
    timeout: -3
Y
expect_exit 2 sl run badtimeout.yaml
contains "$ERR" "badtimeout.yaml:5:14: 'timeout' must be a number of seconds"
expect_exit 2 sl run missing.yaml
expect_exit 2 sl run bad.yaml -p nosuch=1

# Listings: empty, then filled; --json parses everywhere.
sl runs | grep -q "no runs yet" || fail "empty runs"
cat > p.yaml <<'Y'
name: small
steps:
  a:
    run: echo hello > "${outputs.out}"
    outputs: [out]
  b:
    run: cat "${inputs.x}" "${inputs.x}" > "${outputs.out}"
    inputs: { x: a.out }
    outputs: [out]
Y
sl run p.yaml >run.out 2>run.err
grep -q "step a: completed" run.err || fail "plain progress lines when not a terminal: $(cat run.err)"
sl runs | grep -q small || fail "runs list"
sl runs --json | js "d[0]['pipeline']" | grep -qx small || fail "runs --json"
sl runs show latest | grep -q "completed" || fail "runs show"
sl artifacts | grep -q file || fail "artifacts list"
sl artifacts --json | js "len(d)" | grep -qx 2 || fail "two artifacts"
a=$(sl runs show latest --json | js "next(s['outputs']['out'] for s in d['steps'] if s['name']=='a')")
sl artifacts show "${a:0:4}" | grep -q "hello" || fail "show by 4-digit prefix previews text"
sl artifacts show "$a" --json | js "d['id']" | grep -qx "$a" || fail "show --json"
expect_exit 2 sl artifacts show abc
expect_exit 2 sl artifacts show ffffffffffff
contains "$ERR" "ffffffffffff"
sl artifacts export "$a" -o out.txt && [ "$(cat out.txt)" = hello ] || fail "export"
sl artifacts export "${a:0:6}" -o out2.txt --json | js "d['id'] == '$a' and d['format'] == 'raw'" | grep -qx True || fail "export --json"
expect_exit 2 sl artifacts export "$a" -o out.csv --format csv
sl steps | grep -q "ingest.file" || fail "steps"
sl steps ingest.file | grep -q "path" || fail "steps NAME"
sl steps --json | js "[s['name'] for s in d]" | grep -q ingest.file || fail "steps --json"

# ingest.file records the artifact type it is given; a false "dataset" claim fails.
echo weights > m.bin
cat > typed.yaml <<'Y'
name: typed
steps:
  m: { uses: ingest.file, with: { path: m.bin, type: model } }
Y
sl run typed.yaml -q
sl artifacts --type model --json | js "len(d)" | grep -qx 1 || fail "--type model"
cat > notds.yaml <<'Y'
name: notds
steps:
  d: { uses: ingest.file, with: { path: m.bin, type: dataset } }
Y
expect_exit 1 sl run notds.yaml -q
sl runs show latest | grep -q "not a sluice dataset file" || fail "false dataset claim"

# artifacts show: floats rounded (not cut) to 10 significant digits, integers
# never cut, long text shortened with an ellipsis, control characters escaped.
printf 'x,y,big,name\n0.30000000000000004,2.718281828459045,12345678901234567,"Zo\xc3\xab \xc3\x9cnl\xc3\xbc, a rather long name"\n1e-300,-123456.789012345,1,"two\r\nlines"\n' > fl.csv
cat > fl.yaml <<'Y'
name: fl
steps:
  i: { uses: ingest.csv, with: { path: fl.csv } }
Y
sl run fl.yaml -q
fl=$(sl runs show latest --json | js "d['steps'][0]['outputs']['data']")
sl artifacts show "$fl" > show.txt
grep -Eq $'^ +0\\.3  +2\\.718281828  12345678901234567  Zo\xc3\xab \xc3\x9cnl\xc3\xbc, a rather long\xe2\x80\xa6$' show.txt ||
	fail "artifacts show row 1: $(cat show.txt)"
grep -Eq '^1e-300  +-123456\.789 +1  two\\r\\nlines$' show.txt || fail "artifacts show row 2: $(cat show.txt)"

# Every --format the CLI takes is in its help and in docs/cli.md; raw is the
# stored bytes (a dataset stays a dataset file).
for f in raw csv jsonl; do
	sl artifacts --help | grep -q -- "--format.*$f" || fail "artifacts --help lacks --format $f"
	sed -n '/^## sluice artifacts export/,/^## /p' "$SRC/docs/cli.md" | grep -q "\`$f\`" ||
		fail "docs/cli.md does not document --format $f"
done
sl artifacts export "$fl" --format raw -o fl.ds
cmp fl.ds ".sluice/artifacts/${fl:0:2}/${fl:2}" || fail "--format raw must write the stored bytes"

# A corrupt artifact is an error naming it.
f=".sluice/artifacts/${a:0:2}/${a:2}"
chmod u+w "$f"; echo tampered > "$f"
expect_exit 1 sl artifacts export "$a" -o x.txt
contains "$ERR" "${a:0:12}"
contains "$ERR" "corrupt"
echo ok
