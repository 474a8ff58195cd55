# ingest.sql against a real PostgreSQL server: scripts/pg.sh starts one on
# 127.0.0.1 on a free port in this test's folder, a table holds every type
# and NULLs, `sluice run` ingests it, and the dataset is checked through
# `sluice artifacts show --json` and `export --format csv`. Then quarantine,
# a large streamed result, caching (a url step always reruns; an unchanged
# result is the same artifact, so what follows stays cached), and the errors a user
# meets: a bad query, a type conflict, a refused connection. The server is
# stopped when the test ends, whatever happens (lib.sh: pg_server).
. "$(dirname "$0")/lib.sh"

pg_server "$T/pg"
URL=$PG_SERVER_URL
psql() { "$PSQL" "$URL" -X -q -v ON_ERROR_STOP=1 "$@"; }

psql <<'SQL'
CREATE TABLE every (
	id int4 PRIMARY KEY, small int2, big int8, r4 float4, r8 float8, num numeric(24, 6),
	flag bool, name text, code varchar(8), pad char(4), nm name, uid uuid, doc json,
	docb jsonb, day date, at timestamp, atz timestamptz, dur interval, tags text[],
	raw bytea, price text
);
INSERT INTO every VALUES
	(1, 7, 9007199254740993, 1.5, 0.1, 12345.678901, true, 'apple', 'A1', 'ab', 'nm1',
	 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1}', '{"b": [1, 2]}', '2024-05-01',
	 '2024-05-01 12:30:00.25', '2024-05-01 12:30:00+02', '1 day 02:00:00', '{x,y}',
	 '\x00ff', '1.5'),
	(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(3, -32768, -9223372036854775808, 'NaN', '-Infinity', -0.5, false,
	 'é "quoted", comma', '', 'x', 'nm3', '00000000-0000-0000-0000-000000000000', '[]',
	 'null', '1970-01-01', '1969-12-31 23:59:59.999999', '2000-01-01 00:00:00+00',
	 '-00:00:01', '{}', '\x', 'abc');
SQL

cat > every.yaml <<Y
name: pg-every
steps:
  every:
    uses: ingest.sql
    with:
      url: "$URL"
      query: |
        SELECT *
        FROM every
        WHERE id >= \$1
        ORDER BY id
      params: [1]
Y
t0=$(date +%s%N)
sl run every.yaml >/dev/null 2>run.err || fail "run: $(cat run.err)"
data=$(sl runs show latest --json | js "d['steps'][0]['outputs']['data']")
rejects=$(sl runs show latest --json | js "d['steps'][0]['outputs']['rejects']")

# Schema: each PostgreSQL type mapped, nulls counted.
sl artifacts show "$data" --json >show.json
schema=$(js "' '.join(c['name'] + ':' + c['type'] + ':' + str(c['nulls']) for c in d['dataset']['columns'])" <show.json)
want="id:int64:0 small:int64:1 big:int64:1 r4:float64:1 r8:float64:1 num:float64:1"
want="$want flag:bool:1 name:string:1 code:string:1 pad:string:1 nm:string:1 uid:string:1"
want="$want doc:string:1 docb:string:1 day:timestamp:1 at:timestamp:1 atz:timestamp:1"
want="$want dur:string:1 tags:string:1 raw:string:1 price:string:1"
[ "$schema" = "$want" ] || fail "schema:
got  $schema
want $want"
[ "$(js "d['dataset']['rows']" <show.json)" = 3 ] || fail "rows"
[ "$(js "d['type']" <show.json)" = dataset ] || fail "type"

# Values, through the CSV export.
sl artifacts export "$data" --format csv -o every.csv
cat > want.csv <<'C'
id,small,big,r4,r8,num,flag,name,code,pad,nm,uid,doc,docb,day,at,atz,dur,tags,raw,price
1,7,9007199254740993,1.5,0.1,12345.678901,true,apple,A1,ab  ,nm1,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,"{""a"": 1}","{""b"": [1, 2]}",2024-05-01T00:00:00Z,2024-05-01T12:30:00.25Z,2024-05-01T10:30:00Z,1 day 02:00:00,"{x,y}",\x00ff,1.5
2,,,,,,,,,,,,,,,,,,,,
3,-32768,-9223372036854775808,NaN,-Inf,-0.5,false,"é ""quoted"", comma","",x   ,nm3,00000000-0000-0000-0000-000000000000,[],"null",1970-01-01T00:00:00Z,1969-12-31T23:59:59.999999Z,2000-01-01T00:00:00Z,-00:00:01,{},\x,abc
C
diff want.csv every.csv >&2 || fail "exported values differ (want < > got)"

# An empty rejects file (header only) is written even when nothing is bad.
sl artifacts export "$rejects" -o rejects.csv
[ "$(cat rejects.csv)" = "file,line,column,reason,raw" ] || fail "empty rejects: $(cat rejects.csv)"

# A url step reruns the query every time, and an unchanged result is the same artifact.
sl run every.yaml >/dev/null 2>&1
[ "$(step_status every)" = completed ] || fail "a url step must rerun"
[ "$(sl runs show latest --json | js "d['steps'][0]['outputs']['data']")" = "$data" ] ||
	fail "the same result must give the same dataset id"

# Overrides and quarantine: 'abc' is no float; the row goes to rejects.
cat > quarantine.yaml <<Y
name: pg-quarantine
steps:
  q:
    uses: ingest.sql
    with:
      url: "$URL"
      query: SELECT id, price, day FROM every ORDER BY id
      types: { price: float, day: string }
      on_error: quarantine
      max_bad_rows: 1
Y
sl run quarantine.yaml >/dev/null 2>run.err || fail "quarantine run: $(cat run.err)"
sl runs show latest >show.txt
contains "$(cat show.txt)" "rows=2"
contains "$(cat show.txt)" "rows_quarantined=1"
q_data=$(sl runs show latest --json | js "d['steps'][0]['outputs']['data']")
q_rej=$(sl runs show latest --json | js "d['steps'][0]['outputs']['rejects']")
sl artifacts export "$q_data" --format csv -o q.csv
printf 'id,price,day\n1,1.5,2024-05-01\n2,,\n' | diff - q.csv >&2 || fail "quarantine data"
sl artifacts export "$q_rej" -o q_rej.csv
contains "$(cat q_rej.csv)" ',3,2,"""abc"" is not a float64","[""3"", ""abc"", ""1970-01-01""]"'

# A large result is streamed row by row.
cat > big.yaml <<Y
name: pg-big
steps:
  big:
    uses: ingest.sql
    with:
      url: "$URL"
      query: SELECT g AS i, g * 0.5 AS x, 'row ' || (g % 100) AS s FROM generate_series(1, 200000) g
Y
sl run big.yaml >/dev/null 2>run.err || fail "big run: $(cat run.err)"
big=$(sl runs show latest --json | js "d['steps'][0]['outputs']['data']")
sl artifacts show "$big" --json | js "d['dataset']['rows']" | grep -qx 200000 || fail "200000 rows"
sl run big.yaml >/dev/null 2>&1
[ "$(step_status big)" = completed ] || fail "a url step is never served from the cache"
[ "$(sl runs show latest --json | js "d['steps'][0]['outputs']['data']")" = "$big" ] ||
	fail "an unchanged result must give the same dataset id"

# Errors: exit 1, and the message says what and where.
cat > badquery.yaml <<Y
name: pg-badquery
steps:
  bad:
    uses: ingest.sql
    with:
      url: "$URL"
      query: |
        SELECT id,
               nosuch
        FROM every
Y
expect_exit 1 sl run badquery.yaml
show=$(sl runs show latest)
contains "$show" "error in the query at line 2, column 8: column \"nosuch\" does not exist (SQLSTATE 42703)"
[ "$(step_status bad)" = failed ] || fail "bad query: step status"

# Errors while rows stream, values the mapped type cannot hold, a timeout.
cat > runtime.yaml <<Y
name: pg-runtime
steps:
  div:
    uses: ingest.sql
    with:
      url: "$URL"
      query: SELECT g, 10 / (g - 3) AS q FROM generate_series(1, 5) g
Y
expect_exit 1 sl run runtime.yaml
contains "$(sl runs show latest)" "the query failed at row 3: division by zero (SQLSTATE 22012)"

cat > infinity.yaml <<Y
name: pg-infinity
steps:
  inf:
    uses: ingest.sql
    with:
      url: "$URL"
      query: SELECT d FROM (VALUES ('2024-01-01'::date), ('infinity'::date), (NULL)) v(d)
      on_error: skip
      max_bad_rows: 50%
Y
sl run infinity.yaml >/dev/null 2>run.err || fail "infinity run: $(cat run.err)"
show=$(sl runs show latest)
contains "$show" "rows=2"
contains "$show" "rows_skipped=1"

cat > slow.yaml <<Y
name: pg-slow
steps:
  slow:
    uses: ingest.sql
    with:
      url: "$URL"
      query: SELECT pg_sleep(10) AS slept
      timeout: 0.2
Y
expect_exit 1 sl run slow.yaml
contains "$(sl runs show latest)" "canceling statement due to statement timeout (SQLSTATE 57014)"

cat > dup.yaml <<Y
name: pg-dup
steps:
  dup:
    uses: ingest.sql
    with:
      url: "$URL"
      query: SELECT 1, 2
Y
expect_exit 1 sl run dup.yaml
contains "$(sl runs show latest)" 'two columns named "?column?" (1 and 2); give them distinct names with AS'

cat > conflict.yaml <<Y
name: pg-conflict
steps:
  c:
    uses: ingest.sql
    with:
      url: "$URL"
      query: SELECT id, price FROM every ORDER BY id
      types: { price: float }
Y
expect_exit 1 sl run conflict.yaml
contains "$(sl runs show latest)" "row 3, column 2 (price): \"abc\" is not a float64"

cat > readonly.yaml <<Y
name: pg-readonly
steps:
  w:
    uses: ingest.sql
    with:
      url: "$URL"
      query: DELETE FROM every RETURNING id
Y
expect_exit 1 sl run readonly.yaml
contains "$(sl runs show latest)" "cannot execute DELETE in a read-only transaction"
[ "$(psql -tA -c 'SELECT count(*) FROM every')" = 3 ] || fail "the table must be untouched"

DEAD=$(free_port)
cat > refused.yaml <<Y
name: pg-refused
steps:
  r:
    uses: ingest.sql
    with:
      url: "postgresql://postgres:hunter2@127.0.0.1:$DEAD/postgres"
      query: SELECT 1
Y
expect_exit 1 sl run refused.yaml
show=$(sl runs show latest)
contains "$show" "postgresql://postgres:***@127.0.0.1:$DEAD/postgres: cannot connect:"
contains "$show" "Connection refused"
not_contains "$show" "hunter2"

db_check
echo "ok ($(( ($(date +%s%N) - t0) / 1000000 )) ms after the server started)"
