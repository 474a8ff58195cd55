# Caching: an unchanged rerun starts no step process; a changed parameter
# reruns only its step and descendants; a rerun after a failure resumes at
# the failed step; a missing or corrupt cached artifact is not a hit;
# --no-cache and `cache: false` turn it off; editing an ingested file reruns.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

mkdir -p data && echo "v1" > data/in.txt
cat > p.yaml <<'Y'
name: cached
params: { suffix: one }
steps:
  ingest:
    uses: ingest.file
    with: { path: data/in.txt }
  upper:
    run: echo upper >> count; tr a-z A-Z < "${inputs.x}" > "${outputs.out}"
    inputs: { x: ingest.data }
    outputs: [out]
  tag:
    run: echo tag >> count; cat "${inputs.x}" > "${outputs.out}"; echo "${params.suffix}" >> "${outputs.out}"
    inputs: { x: upper.out }
    outputs: [out]
  side:
    run: echo side >> count; echo side > "${outputs.out}"
    outputs: [out]
Y
count() { grep -c "^$1\$" count 2>/dev/null || true; }

sl run p.yaml -q
[ "$(count upper)" = 1 ] && [ "$(count tag)" = 1 ] && [ "$(count side)" = 1 ] || fail "first run"

# 1. Unchanged: every step cached, no process started.
sl run p.yaml -q
[ "$(steps_with cached)" = "ingest side tag upper" ] || fail "all cached: $(steps_with cached)"
[ "$(count upper)" = 1 ] && [ "$(count tag)" = 1 ] && [ "$(count side)" = 1 ] || fail "a cached step ran"
sl runs show latest --json | js "all(s['cache_hit'] for s in d['steps'])" | grep -qx True || fail "cache_hit"

# 2. A parameter used only by `tag` reruns only `tag`.
sl run p.yaml -q -p suffix=two
[ "$(steps_with completed)" = "tag" ] || fail "param change reran: $(steps_with completed)"
[ "$(count tag)" = 2 ] && [ "$(count upper)" = 1 ] || fail "counts after param change"

# 3. Editing the ingested file reruns ingest and everything below it, not side.
echo "v2" > data/in.txt
sl run p.yaml -q
[ "$(steps_with completed)" = "ingest tag upper" ] || fail "file change: $(steps_with completed)"
[ "$(steps_with cached)" = "side" ] || fail "side stays cached"

# 4. Resume after a failure: make tag fail, then fix it.
sed -i 's/cat "${inputs.x}" > "${outputs.out}";/test -e ok || exit 1; cat "${inputs.x}" > "${outputs.out}";/' p.yaml
expect_exit 1 sl run p.yaml -q
[ "$(step_status tag)" = failed ] || fail "tag should fail"
touch ok
sl run p.yaml -q
[ "$(steps_with completed)" = "tag" ] || fail "resume: $(steps_with completed)"
[ "$(steps_with cached)" = "ingest side upper" ] || fail "resume cached: $(steps_with cached)"

# 5. A corrupt cached artifact is not a hit: upper reruns and heals it.
up=$(sl runs show latest --json | js "next(s['outputs']['out'] for s in d['steps'] if s['name']=='upper')")
f=".sluice/artifacts/${up:0:2}/${up:2}"
chmod u+w "$f"; echo garbage > "$f"
before=$(count upper)
sl run p.yaml -q
[ "$(count upper)" = $((before + 1)) ] || fail "corrupt artifact was used as a hit"
[ "$(sha256sum "$f" | cut -c1-64)" = "$up" ] || fail "artifact not restored"
# ... and a missing one neither.
rm -f "$f"
sl run p.yaml -q
[ "$(count upper)" = $((before + 2)) ] || fail "missing artifact was used as a hit"
[ -f "$f" ] || fail "artifact not restored after removal"

# 6. --no-cache runs everything; cache: false runs that step every time.
sl run p.yaml -q --no-cache
[ "$(steps_with cached)" = "" ] || fail "--no-cache"
sed -i 's/^  side:$/  side:\n    cache: false/' p.yaml
s0=$(count side)
sl run p.yaml -q
[ "$(count side)" = $((s0 + 1)) ] || fail "cache: false"
[ "$(steps_with cached)" = "ingest tag upper" ] || fail "others stay cached"
db_check
echo ok
