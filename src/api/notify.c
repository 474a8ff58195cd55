/*
 * Sending an alert: a command run by /bin/sh with the alert in its
 * environment, and a JSON body POSTed to a webhook (libcurl). What the
 * monitoring loop (watch.c) calls when an alert fires or resolves.
 *
 * Invariants:
 *   1. Neither can hold the loop up for long: a command is killed (its
 *      whole process group) after NOTIFY_TIMEOUT_S, a webhook gives up
 *      after the same time. One call is one attempt: the caller (watch.c)
 *      records the alert whatever its delivery did, and retries the
 *      channels that failed on later evaluations.
 *   2. A command runs as a step's does (orch_spawn): a fresh process in
 *      its own group, no descriptors inherited beyond 0-2, killed should
 *      the thread that started it end, so a server's monitor thread never
 *      forks its address space.
 *   3. libcurl's global state is set up once per process (pthread_once),
 *      before the first transfer; each transfer has its own easy handle,
 *      so concurrent watchers share nothing.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/notify.h"
#include "pipeline/orch.h"

extern char **environ;

#define NOTIFY_TIMEOUT_S 10

/* ---- a command ------------------------------------------------------------------- */

/* environ plus the alert's variables, in one block the caller frees. */
static char **alert_env(const api_alert_msg *m, char **out_mem)
{
	const char *add[][2] = {{"SLUICE_ALERT", m->json},
				{"SLUICE_ALERT_NAME", m->name},
				{"SLUICE_ALERT_STATE", m->state},
				{"SLUICE_MODEL", m->model ? m->model : ""}};
	size_t n = 0, extra = SL__ARRAY_LEN(add);
	char **env;

	while (environ && environ[n])
		n++;
	if (!(env = sl__calloc(n + extra + 1, sizeof *env)))
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		bool ours = false;
		for (size_t j = 0; j < extra && !ours; j++) {
			size_t len = strlen(add[j][0]);
			ours = !strncmp(environ[i], add[j][0], len) && environ[i][len] == '=';
		}
		if (!ours)
			env[k++] = environ[i];
	}
	sl__buf b;
	sl__buf_init(&b, 0);
	size_t offs[SL__ARRAY_LEN(add)];
	for (size_t j = 0; j < extra; j++) {
		offs[j] = b.len;
		if (sl__buf_printf(&b, "%s=%s", add[j][0], add[j][1] ? add[j][1] : "") ||
		    sl__buf_putc(&b, '\0')) {
			sl__buf_free(&b);
			sl__free(env);
			return NULL;
		}
	}
	*out_mem = sl__buf_detach(&b);
	for (size_t j = 0; j < extra; j++)
		env[k++] = *out_mem + offs[j];
	env[k] = NULL;
	return env;
}

static int run_command(const api_alert_msg *m, const char *command)
{
	char *mem = NULL, **env = alert_env(m, &mem);
	char sh[] = "/bin/sh", dash_c[] = "-c";
	char *argv[] = {sh, dash_c, (char *)command, NULL};
	int null_fd, status = 0, rc;
	pid_t pid = 0;

	if (!env)
		return sl__oom();
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	orch_spawn_req r = {.path = "/bin/sh", .argv = argv, .envp = env, .cwd = m->cwd,
			    .fd_in = null_fd, .fd_out = 2, .fd_err = 2};
	rc = null_fd < 0 ? sl__err(SL_ESYS, "opening /dev/null: %s", strerror(errno))
			 : orch_spawn(&r, &pid);
	if (null_fd >= 0)
		close(null_fd);
	sl__free(env);
	sl__free(mem);
	if (rc)
		return sl__err_prefix(rc, "alert command");
	/* Invariant 1: wait a while, then end the command's whole group. */
	double t0 = sl__mono_sec();
	pid_t got = 0;
	while ((got = waitpid(pid, &status, WNOHANG)) == 0 && sl__mono_sec() - t0 < NOTIFY_TIMEOUT_S)
		nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
	if (got == 0) {
		kill(-pid, SIGKILL);
		waitpid(pid, &status, 0);
		return sl__err(SL_ESYS, "alert command did not end within %d s and was killed: %s",
			       NOTIFY_TIMEOUT_S, command);
	}
	if (got < 0)
		return sl__err(SL_ESYS, "waiting for the alert command: %s", strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return sl__err(SL_ESYS, "alert command exited with status %d: %s", WEXITSTATUS(status),
			       command);
	return sl__err(SL_ESYS, "alert command was killed by signal %d: %s", WTERMSIG(status),
		       command);
}

/* ---- a webhook --------------------------------------------------------------------- */

static CURLcode curl_init_rc = CURLE_OK;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_setup(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The response body is not wanted, only its status. */
static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

static int post_webhook(const api_alert_msg *m, const char *url)
{
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *h = NULL;
	long code = 0;
	CURLcode c;
	CURL *e;
	int rc = 0;

	pthread_once(&curl_once, curl_setup);
	if (curl_init_rc != CURLE_OK)
		return sl__err(SL_ESYS, "webhook: libcurl did not start: %s",
			       curl_easy_strerror(curl_init_rc));
	if (!(e = curl_easy_init()))
		return sl__err(SL_ENOMEM, "webhook: out of memory");
	errbuf[0] = '\0';
	h = curl_slist_append(h, "Content-Type: application/json");
	if (!h) {
		curl_easy_cleanup(e);
		return sl__oom();
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, m->json);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(m->json));
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)NOTIFY_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L); /* a threaded caller: no SIGALRM */
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "sluice-monitor");
	c = curl_easy_perform(e);
	if (c != CURLE_OK)
		rc = sl__err(SL_ESYS, "webhook %s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(c));
	else if (curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
		 (code < 200 || code > 299))
		rc = sl__err(SL_ESYS, "webhook %s answered HTTP %ld", url, code);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	return rc;
}

int api_notify(const api_alert_msg *m, const char *command, const char *webhook, char *err,
	       size_t err_size, unsigned *out_failed)
{
	unsigned failed = 0;
	int rc = 0, r;

	if (err_size)
		err[0] = '\0';
	if (command && *command && (r = run_command(m, command)) != 0) {
		rc = r;
		failed |= API_NOTIFY_COMMAND;
		snprintf(err, err_size, "%s", sl_errmsg());
	}
	if (webhook && *webhook && (r = post_webhook(m, webhook)) != 0) {
		size_t len = strlen(err);
		if (!rc)
			rc = r;
		failed |= API_NOTIFY_WEBHOOK;
		snprintf(err + len, err_size - len, "%s%s", len ? "; " : "", sl_errmsg());
	}
	if (out_failed)
		*out_failed = failed;
	return rc;
}
