# Data fidelity of ingest.csv, in the manner of the csv-spectrum suite (the
# files are written here): leading zeros, CRLF inside quotes, quotes inside
# unquoted fields, latin1 and windows-1252 files, each ingested and exported
# back with `sluice artifacts export --format csv` and compared byte for byte
# where that is the contract. Then: bad rows left out are shown by `sluice
# run` and past max_bad_rows fail the step naming them; the same data
# ingested in two project folders gets the same artifact ids.
. "$(dirname "$0")/lib.sh"

# ingest FILE [OPTIONS]: runs ingest.csv on FILE; prints the data artifact id.
ingest() {
	cat > ingest.yaml <<Y
name: fidelity
steps:
  ingest:
    uses: ingest.csv
    with: { path: $1 ${2:+, $2} }
Y
	sl run -q ingest.yaml || fail "ingest of $1 failed"
	sl runs show latest --json | js "d['steps'][0]['outputs']['data']"
}

# same FILE EXPECTED_FILE [OPTIONS]: ingest, export as CSV, compare bytes.
same() {
	local id
	id=$(ingest "$1" "${3:-}")
	sl artifacts export "$id" --format csv -o "$1.out"
	cmp "$2" "$1.out" || fail "$1: the export differs from $2:
$(od -c "$1.out" | head -20)"
}

# Leading zeros: ZIP codes, account numbers, product codes survive unchanged.
printf 'zip,account,product\n08123,000123,0042\n90210,123456,1234\n00501,7,0\n' > zeros.csv
same zeros.csv zeros.csv
sl artifacts show "$(ingest zeros.csv)" --json | js "[c['type'] for c in d['dataset']['columns']]" > types.txt
[ "$(cat types.txt)" = "['string', 'string', 'string']" ] || fail "leading zeros: $(cat types.txt)"

# A quoted field's bytes are data: a CRLF inside quotes stays CRLF.
printf 'id,text\n1,"Once upon \r\na time"\n2,"a, b"\n3,"say ""hi"""\n' > crlf.csv
same crlf.csv crlf.csv
[ "$(sl artifacts show "$(ingest crlf.csv)" --json | js "repr(d['dataset']['head'][0][1])")" = "'Once upon \\r\\na time'" ] ||
	fail "CRLF in quotes"

# A quote inside an unquoted field: refused by default (the message names
# the place), kept as data with quote_in_field: literal. The export quotes it
# the RFC 4180 way, and reading that back gives the same dataset.
printf 'place,coords\nSan Francisco,37\xc2\xb036'"'"'37.8"N\n' > coords.csv
cat > strict.yaml <<'Y'
name: strict
steps:
  ingest:
    uses: ingest.csv
    with: { path: coords.csv }
Y
expect_exit 1 sl run strict.yaml
contains "$ERR" "coords.csv:2:26: quote inside an unquoted field, never closed"
contains "$ERR" "set quote_in_field: literal"
printf 'place,coords\nSan Francisco,"37\xc2\xb036'"'"'37.8""N"\n' > coords.rfc
same coords.csv coords.rfc "quote_in_field: literal"
[ "$(ingest coords.csv "quote_in_field: literal")" = "$(ingest coords.rfc)" ] ||
	fail "literal quotes: the RFC 4180 export must read back to the same dataset"

# Encodings: transcoded to UTF-8; the export is the UTF-8 text, byte for byte.
printf 'name,city\nJos\xe9,M\xfcnchen\n\xc6gir,K\xf8benhavn\n' > latin1.csv
printf 'name,city\nJos\xc3\xa9,M\xc3\xbcnchen\n\xc3\x86gir,K\xc3\xb8benhavn\n' > latin1.utf8
same latin1.csv latin1.utf8 "encoding: latin1"
[ "$(ingest latin1.csv "encoding: iso-8859-1")" = "$(ingest latin1.utf8)" ] || fail "latin1 round trip"
printf 'item,price\n\x80 sign,1\n\x93quoted\x94,2\n' > cp1252.csv
printf 'item,price\n\xe2\x82\xac sign,1\n\xe2\x80\x9cquoted\xe2\x80\x9d,2\n' > cp1252.utf8
same cp1252.csv cp1252.utf8 "encoding: windows-1252"
# Without the option such a file is refused, with its place, never guessed at.
cat > noenc.yaml <<'Y'
name: noenc
steps:
  ingest:
    uses: ingest.csv
    with: { path: cp1252.csv }
Y
expect_exit 1 sl run noenc.yaml
contains "$ERR" "cp1252.csv:2:1: invalid UTF-8"

# Bad rows: the count shows in the progress output; past max_bad_rows
# (default 1%) the step fails and names the first bad rows.
"$PY" -c "
print('id,zip')
for i in range(300): print(i, 'x' if i == 7 else 10000 + i, sep=',')" > zips.csv
cat > skip.yaml <<'Y'
name: skip
steps:
  ingest:
    uses: ingest.csv
    with: { path: zips.csv, on_error: skip, types: { zip: int } }
Y
sl run skip.yaml 2>progress.txt || fail "skip run: $(cat progress.txt)"
contains "$(cat progress.txt)" "step ingest: completed in"
contains "$(cat progress.txt)" ": 1 of 300 rows bad, skipped"
"$PY" -c "
print('id,zip')
for i in range(300): print(i, 'x' if i % 3 == 0 else 10000 + i, sep=',')" > zips.csv
expect_exit 1 sl run skip.yaml
contains "$ERR" "100 of 300 rows (33.3%) are bad, more than max_bad_rows allows (1% of the rows): zips.csv:2:3: column 'zip': 'x' is not a valid int64"
contains "$ERR" "zips.csv:5:3: "
[ "$(step_status ingest)" = failed ] || fail "the step must fail"

# The same data in two project folders: the same artifact ids (the rejects
# name the file as the pipeline does, not by the folder it is in); the
# source path stays visible in the artifact's metadata.
for p in one deeper/two; do
	mkdir -p "$T/$p"
	(
		cd "$T/$p"
		sl init . >/dev/null
		printf 'a,b\n1,x\n2,y,extra\n3,z\n' > d.csv
		cat > p.yaml <<'Y'
name: where
steps:
  ingest:
    uses: ingest.csv
    with: { path: d.csv, on_error: quarantine, max_bad_rows: 1 }
Y
		sl run -q p.yaml
		sl runs show latest --json | js "d['steps'][0]['outputs']['data'] + ' ' + d['steps'][0]['outputs']['rejects']" > ids.txt
		sl artifacts show "$(cut -d' ' -f1 ids.txt)" --json | js "d['meta']['source']" > source.txt
	)
done
[ "$(cat "$T/one/ids.txt")" = "$(cat "$T/deeper/two/ids.txt")" ] ||
	fail "artifact ids depend on the folder: $(cat "$T/one/ids.txt") vs $(cat "$T/deeper/two/ids.txt")"
[ "$(cat "$T/one/source.txt")" = "$T/one/d.csv" ] || fail "source in metadata: $(cat "$T/one/source.txt")"
[ "$(cat "$T/deeper/two/source.txt")" = "$T/deeper/two/d.csv" ] || fail "source in metadata (two)"
echo ok
