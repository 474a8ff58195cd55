/*
 * What a command line names a model by, turned into the file to open. One
 * place for `sluice predict` and `sluice models export` (and, with the
 * registry, `serve`), so every verb accepts the same forms:
 *
 *   PATH          a model or bundle file
 *   ARTIFACT-ID   a model or bundle artifact of the project (a unique
 *                 prefix of at least 4 hex digits)
 *   NAME@REF      a registered model's version or alias (the registry)
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

int cli_model_ref(const char *ref, char **out_path)
{
	struct stat st;
	sl_project *p = NULL;
	int rc;

	*out_path = NULL;
	if (stat(ref, &st) == 0 && S_ISREG(st.st_mode)) {
		*out_path = strdup(ref);
		return *out_path ? EXIT_OK : cli_fail(SL_ENOMEM, NULL);
	}
	if (strchr(ref, '@')) {
		fprintf(stderr,
			"sluice: '%s': a NAME@REF model reference needs the model registry, which "
			"this sluice does not have; name a bundle file or an artifact id\n",
			ref);
		return EXIT_USAGE;
	}
	if (sl_project_open(NULL, &p) != 0) {
		fprintf(stderr, "sluice: '%s': no such file (and no project here to look up an "
				"artifact id in)\n",
			ref);
		return EXIT_USAGE;
	}
	rc = sl_artifact_path(p, ref, out_path);
	if (rc) {
		fprintf(stderr, "sluice: '%s': no such file or artifact (%s)\n", ref,
			sl_project_errmsg(p));
		sl_project_close(p);
		return EXIT_USAGE;
	}
	sl_project_close(p);
	return EXIT_OK;
}
