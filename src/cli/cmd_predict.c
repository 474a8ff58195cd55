/*
 * sluice predict MODEL -i IN -o OUT [--explain] [--json]
 *
 * Batch scoring through the public API (sl_predict_file): the model or
 * bundle's transform, then the model, on every row of a CSV, JSONL or
 * dataset file.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
	"usage: sluice predict MODEL -i IN -o OUT [--explain] [--json]\n"
	"\n"
	"Scores every row of IN with MODEL and writes OUT: the input's columns as they\n"
	"came, then `rejected` (true for a row the bundle's filters reject; its outputs\n"
	"are empty), then the predictions:\n"
	"  classifiers   prediction (the label), proba_<class> for each class\n"
	"  regression    prediction\n"
	"  anomaly       score, anomaly\n"
	"  forecast      forecast, lo80, hi80, lo95, hi95\n"
	"A bundle applies its fitted transform first, so IN holds raw rows, as a client\n"
	"sends them to the server.\n"
	"\n"
	"MODEL is a bundle or model file, the id of a model or bundle artifact, or a\n"
	"registered model's version: NAME@VERSION, NAME@ALIAS or NAME@latest.\n"
	"IN is a .csv or .jsonl file or a dataset file; OUT a .csv or .jsonl file.\n"
	"\n"
	"  -i, --input IN     the rows to score\n"
	"  -o, --output OUT   where the predictions go (written atomically)\n"
	"      --explain      add contrib_<input> per model input and contrib_base: each\n"
	"                     input's share of the raw score (log-odds for classifiers)\n"
	"      --json         print {rows, rejected, output} when done\n"
	"\n"
	"Exit status: 0 done; 2 bad usage or bad input (a missing column, a value of\n"
	"the wrong type: the message names the column and the row); 1 other failures.\n";

static int predict_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"input", required_argument, NULL, 'i'}, {"output", required_argument, NULL, 'o'},
		{"explain", no_argument, NULL, 'E'},     {"json", no_argument, NULL, 'J'},
		CLI_HELP_OPT,                            {NULL, 0, NULL, 0},
	};
	const char *in = NULL, *out = NULL;
	sl_predict_opts opts;
	sl_predict_stats st;
	bool json = false;
	char *model = NULL;
	int c, status, rc;

	memset(&opts, 0, sizeof opts);
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			in = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'E':
			opts.explain = 1;
			break;
		case 'J':
			json = true;
			break;
		case 'h':
			return cli_help_for(&cmd_predict);
		default:
			return cli_bad_option("predict", argv, longopts, "i:o:");
		}
	}
	if (optind + 1 != argc)
		return cli_usage("predict", optind >= argc ? "which model? give MODEL"
							   : "takes one MODEL");
	if (!in || !out)
		return cli_usage("predict", "needs -i IN and -o OUT");
	if ((status = cli_model_ref(argv[optind], &model)) != EXIT_OK)
		return status;
	rc = sl_predict_file(model, in, out, &opts, &st);
	free(model);
	if (rc)
		return cli_fail(rc, sl_errmsg());
	if (json) {
		json_t *o = json_pack("{s:I, s:I, s:s}", "rows", (json_int_t)st.rows, "rejected",
				      (json_int_t)st.rejected, "output", out);
		char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		json_decref(o);
		if (!text)
			return cli_fail(SL_ENOMEM, NULL);
		cli_print_json(text);
		free(text);
	} else if (st.rejected)
		fprintf(stderr, "sluice: %zu of %zu rows rejected by the transform's filters "
				"(marked in the rejected column)\n",
			st.rejected, st.rows);
	return EXIT_OK;
}

const cli_cmd cmd_predict = {"predict", predict_main, "score a file of rows with a model", help};
