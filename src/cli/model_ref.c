/*
 * What a command line names a model by, turned into the file to open. One
 * place for `sluice predict` and `sluice models export`, so every verb
 * accepts the same forms (and `sluice serve --model` the registry's):
 *
 *   PATH          a model or bundle file
 *   NAME@REF      a registered model's version: REF is a version number,
 *                 an alias (production, staging ...) or latest; the bundle
 *                 file is checked against its hash before it is used
 *   ARTIFACT-ID   a model or bundle artifact of the project (a unique
 *                 prefix of at least 4 hex digits)
 *
 * A file that exists wins over the other readings, so a file whose name
 * holds an '@' is still a file.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

int cli_model_ref(const char *ref, char **out_path)
{
	return cli_model_ref_version(ref, out_path, NULL);
}

int cli_model_ref_version(const char *ref, char **out_path, long long *out_version)
{
	struct stat st;
	sl_project *p = NULL;
	char *path = NULL;
	int rc;

	*out_path = NULL;
	if (out_version)
		*out_version = 0;
	if (stat(ref, &st) == 0 && S_ISREG(st.st_mode)) {
		*out_path = strdup(ref);
		return *out_path ? EXIT_OK : cli_fail(SL_ENOMEM, NULL);
	}
	if (sl_project_open(NULL, &p) != 0) {
		fprintf(stderr, "sluice: '%s': no such file (and no project here to look up %s in)\n",
			ref, strchr(ref, '@') ? "a registered model" : "an artifact id");
		return EXIT_USAGE;
	}
	if (strchr(ref, '@'))
		rc = sl_model_path(p, ref, &path, out_version);
	else
		rc = sl_artifact_path(p, ref, &path);
	if (rc) {
		/* A registry answer names what exists (the model, its aliases, the
		 * newest version); exit 2 for what is not there, 1 for a damaged file. */
		int status = strchr(ref, '@') ? cli_exit_code(rc) : EXIT_USAGE;
		long long changes;
		if (strchr(ref, '@'))
			fprintf(stderr, "sluice: '%s': %s\n", ref, sl_project_errmsg(p));
		else if (sl_model_changes(p, ref, &changes) == 0)
			fprintf(stderr, "sluice: '%s' is a registered model: name one of its versions, "
					"%s@production, %s@VERSION or %s@latest\n",
				ref, ref, ref, ref);
		else
			fprintf(stderr, "sluice: '%s': no such file or artifact (%s)\n", ref,
				sl_project_errmsg(p));
		sl_project_close(p);
		return status;
	}
	sl_project_close(p);
	/* The command frees with free(): hand over a copy of the library's string. */
	*out_path = strdup(path);
	sl_free(path);
	return *out_path ? EXIT_OK : cli_fail(SL_ENOMEM, NULL);
}
