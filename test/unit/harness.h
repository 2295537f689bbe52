/*
 * test/unit/harness.h — the small test harness shared by the plain-C unit
 * tests (test/unit/test_*.c, one program each; `make unit` runs them all).
 *
 * A test case is begin_case() ... end_case(); CHECK()/CHECKF() print one
 * line per failed check ("FAIL [case] file:line: ...") and fail the case.
 * A check outside a case fails none: keep every check inside one.
 * harness_report() prints the one closing line "N passed, N failed" (N
 * counting test cases) and gives the exit status: non-zero on any failure.
 * Also: J() for JSON written with ' for " (the copies are freed by
 * harness_report()), find_repo_root() for files read from the repository,
 * and UBSan set to fail the run on undefined behaviour.
 *
 * Include it once, from the test's only translation unit (it defines
 * __ubsan_default_options and the harness's state), before the test-only
 * helper headers beside it (decode_check.h, json_check.h, ...).  A test may
 * define HARNESS_J_STRINGS (the most J() copies at once, default 1024)
 * before it.
 */
#ifndef F1TEL_TEST_HARNESS_H
#define F1TEL_TEST_HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef HARNESS_J_STRINGS
#define HARNESS_J_STRINGS 1024
#endif

const char *__ubsan_default_options(void);

/* Undefined behaviour fails the run (UBSan only warns by default). */
const char *
__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static int	n_passed;
static int	n_failed;
static const char *case_name;
static bool case_ok;

static inline void
begin_case(const char *name)
{
	case_name = name;
	case_ok = true;
}

static inline void
end_case(void)
{
	if (case_ok)
		n_passed++;
	else
		n_failed++;
	case_name = NULL;
}

static bool check_at(bool ok, const char *file, int line, const char *fmt,...)
			__attribute__((format(printf, 4, 5), unused));

static bool
check_at(bool ok, const char *file, int line, const char *fmt,...)
{
	va_list		ap;

	if (ok)
		return true;
	case_ok = false;
	printf("FAIL [%s] %s:%d: ", case_name ? case_name : "?", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return false;
}

#define CHECK(cond) check_at((cond), __FILE__, __LINE__, "%s", #cond)
#define CHECKF(cond, ...) check_at((cond), __FILE__, __LINE__, __VA_ARGS__)

/* J(): a copy of s with ' turned into ", freed at exit. */
static char *j_strings[HARNESS_J_STRINGS];
static int	n_j_strings;

static inline const char *
J(const char *s)
{
	char	   *c = strdup(s);

	if (c == NULL || n_j_strings == (int) (sizeof(j_strings) / sizeof(j_strings[0])))
	{
		fprintf(stderr, "J(): out of room\n");
		exit(2);
	}
	for (char *p = c; *p; p++)
		if (*p == '\'')
			*p = '"';
	j_strings[n_j_strings++] = c;
	return c;
}

static inline void
free_j_strings(void)
{
	for (int i = 0; i < n_j_strings; i++)
		free(j_strings[i]);
	n_j_strings = 0;
}

static char repo_root[4096] = ".";

/*
 * The repository root, into repo_root: the current directory if it holds
 * probe (a path relative to the root), else three levels above the test
 * binary (test/unit/<name>).
 */
static inline void
find_repo_root(const char *argv0, const char *probe)
{
	char		buf[4096];
	char	   *slash;

	if (access(probe, R_OK) == 0)
		return;
	snprintf(buf, sizeof(buf), "%s", argv0);
	for (int up = 0; up < 3; up++)
	{
		slash = strrchr(buf, '/');
		if (slash == NULL)
			return;
		*slash = '\0';
	}
	snprintf(repo_root, sizeof(repo_root), "%s", buf[0] ? buf : "/");
}

/* The start of every test program: line-buffered output, repo_root found. */
static inline void
harness_start(const char *argv0)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	find_repo_root(argv0, "src/shared/endpoints.h");
}

/* Frees the J() copies, prints "N passed, N failed"; the exit status. */
static inline int
harness_report(void)
{
	free_j_strings();
	printf("%d passed, %d failed\n", n_passed, n_failed);
	return n_failed == 0 ? 0 : 1;
}

/*
 * A test program's main: HARNESS_MAIN(test_a(); test_b();) runs the
 * statements between harness_start() and harness_report().
 */
#define HARNESS_MAIN(...) \
	int main(int argc, char **argv); \
	int main(int argc, char **argv) \
	{ \
		harness_start(argv[0]); \
		__VA_ARGS__; \
		return harness_report(); \
	}

#endif							/* F1TEL_TEST_HARNESS_H */
