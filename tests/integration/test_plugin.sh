# plugin: steps: a C function in a shared library, built here against
# sluice/plugin.h, reads its input and options, writes its output, records a
# metric; a failing plugin and a missing function fail the step with a reason.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"
command -v cc >/dev/null || { echo "no C compiler: skipped"; exit 0; }

cat > upper.c <<'C'
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <sluice/plugin.h>

int upper_step(sl_step_ctx *ctx)
{
	const char *times = sl_step_option(ctx, "times");
	FILE *in = fopen(sl_step_input(ctx, "text"), "rb");
	FILE *out = fopen(sl_step_output(ctx, "loud"), "wb");
	int n = times ? atoi(times) : 1, c;
	long count = 0;

	if (!in || !out)
		return sl_step_fail(ctx, "cannot open the input or the output");
	while ((c = fgetc(in)) != EOF)
		for (int i = 0; i < n; i++, count++)
			fputc(toupper(c), out);
	fclose(in);
	fclose(out);
	sl_step_metric(ctx, "bytes_written", (double)count);
	return 0;
}

int refuse_step(sl_step_ctx *ctx)
{
	return sl_step_fail(ctx, "refusing on purpose");
}
C
cc -shared -fPIC -I"$SRC/include" -o libupper.so upper.c

cat > p.yaml <<'Y'
name: plugin
steps:
  hello:
    run: printf 'hi' > "${outputs.text}"
    outputs: [text]
  loud:
    plugin: ./libupper.so:upper_step
    inputs: { text: hello.text }
    outputs: [loud]
    with: { times: 2 }
Y
sl run p.yaml -q
[ "$(step_status loud)" = completed ] || fail "plugin step"
id=$(sl runs show latest --json | js "d['steps'][1]['outputs']['loud']")
sl artifacts export "$id" -o loud.txt
[ "$(cat loud.txt)" = HHII ] || fail "plugin output: $(cat loud.txt)"
sl runs show latest --json | js "d['steps'][1]['metrics']['bytes_written']" | grep -qx 4.0 || fail "metric"

# The plugin library is part of the cache key: rebuilt code reruns the step.
sl run p.yaml -q
[ "$(step_status loud)" = cached ] || fail "unchanged plugin should be cached"
sed -i 's/fputc(toupper(c), out)/fputc(tolower(c), out)/' upper.c
cc -shared -fPIC -I"$SRC/include" -o libupper.so upper.c
sl run p.yaml -q
[ "$(step_status loud)" = completed ] || fail "a rebuilt plugin must rerun"

sed -i 's/upper_step/refuse_step/' p.yaml
expect_exit 1 sl run p.yaml -q
sl runs show latest | grep -q "refusing on purpose" || fail "plugin failure message"
sed -i 's/refuse_step/no_such_function/' p.yaml
expect_exit 1 sl run p.yaml -q
sl runs show latest | grep -q "has no function no_such_function" || fail "missing function"
echo ok
