/*
 * test/unit/test_bq_answer.c — unit tests of how src/sink/bq_answer.c reads
 * BigQuery's answers: the insertAll answer's per-row errors (invalid rows,
 * the rows stopped with them, transient errors to retry, unknown reasons, a
 * row named twice, long and odd reason text cut cleanly, indexes out of
 * range, garbage), and the verdict on every class of HTTP answer (OK, too
 * large, auth, not found, retry, quota, fatal; Google's JSON envelopes, its
 * HTML pages and plain text) with its message: one clean line of valid
 * UTF-8, cut to the buffer on a character boundary.
 *
 * The bodies sent are test_bq_body.c's.  The harness is test/unit/harness.h:
 * one line per failed check, then "N passed, N failed" (N counting test
 * cases), exit status non-zero on any failure.  `make unit` runs it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/bq_json.h"

#include "harness.h"
#include "json_check.h"

#define ERRLEN 256

/* ---- helpers ------------------------------------------------------------- */

/* Whether s is valid UTF-8 (for messages cut to a length). */
static bool
valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;

	while (*p)
	{
		int			n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 :
			(*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;

		if (n < 0)
			return false;
		p++;
		for (int i = 0; i < n; i++, p++)
			if ((*p & 0xC0) != 0x80)
				return false;
	}
	return true;
}

/* ---- insertAll answers ------------------------------------------------------------ */

static void
test_insertall_response(void)
{
	F1BqRowResult res[8];
	char		err[ERRLEN];
	int			n;

#define PARSE_RESP(s, nrows) (err[0] = '\0', \
	f1_bq_parse_insertall_response((s), strlen(s), (nrows), res, err, ERRLEN))

	begin_case("insertAll answer: no errors");
	memset(res, 0x7f, sizeof(res));
	CHECK(PARSE_RESP(J("{'kind':'bigquery#tableDataInsertAllResponse'}"), 8) == 0);
	for (int i = 0; i < 8; i++)
		CHECK(res[i].status == F1BQ_ROW_OK && res[i].reason[0] == '\0');
	CHECK(PARSE_RESP(J("{'kind':'bigquery#tableDataInsertAllResponse','insertErrors':[]}"), 8) == 0);
	CHECK(PARSE_RESP(J("{}"), 0) == 0);
	CHECK(f1_bq_parse_insertall_response("{}", 2, 0, NULL, NULL, 0) == 0);
	end_case();

	begin_case("insertAll answer: one invalid row, the others stopped");
	/* as BigQuery answers with skipInvalidRows=false */
	n = PARSE_RESP(J("{'kind':'bigquery#tableDataInsertAllResponse','insertErrors':["
					 "{'index':0,'errors':[{'reason':'stopped','location':'','debugInfo':'','message':''}]},"
					 "{'index':1,'errors':[{'reason':'stopped','location':'','debugInfo':'','message':''}]},"
					 "{'index':2,'errors':[{'reason':'invalid','location':'lap_numbr','debugInfo':'',"
					 "'message':'no such field: lap_numbr.'}]},"
					 "{'index':3,'errors':[{'reason':'stopped','location':'','debugInfo':'','message':''}]}]}"),
				   4);
	CHECKF(n == 4, "returned %d: %s", n, err);
	CHECK(res[0].status == F1BQ_ROW_STOPPED && res[1].status == F1BQ_ROW_STOPPED &&
		  res[3].status == F1BQ_ROW_STOPPED);
	CHECK(res[2].status == F1BQ_ROW_INVALID);
	CHECK_STREQ(res[2].reason, "invalid: lap_numbr: no such field: lap_numbr.");
	CHECK_STREQ(res[0].reason, "stopped");
	end_case();

	begin_case("insertAll answer: rows not named are OK");
	n = PARSE_RESP(J("{'insertErrors':[{'index':1,'errors':[{'reason':'invalid','message':"
					 "'Cannot convert value to integer.','location':'driver_number'}]}]}"), 3);
	CHECK(n == 1);
	CHECK(res[0].status == F1BQ_ROW_OK && res[2].status == F1BQ_ROW_OK);
	CHECK(res[1].status == F1BQ_ROW_INVALID);
	CHECK_STREQ(res[1].reason, "invalid: driver_number: Cannot convert value to integer.");
	end_case();

	begin_case("insertAll answer: transient row errors");
	n = PARSE_RESP(J("{'insertErrors':["
					 "{'index':0,'errors':[{'reason':'backendError','message':'Backend error.'}]},"
					 "{'index':1,'errors':[{'reason':'timeout','message':'Timed out.'}]},"
					 "{'index':2,'errors':[{'reason':'rateLimitExceeded'}]},"
					 "{'index':3,'errors':[{'reason':'internalError'}]},"
					 "{'index':4,'errors':[{'reason':'stopped'},{'reason':'backendError'}]}]}"), 6);
	CHECKF(n == 5, "returned %d: %s", n, err);
	for (int i = 0; i < 5; i++)
		CHECKF(res[i].status == F1BQ_ROW_RETRY, "row %d: status %d", i, (int) res[i].status);
	CHECK(res[5].status == F1BQ_ROW_OK);
	CHECK_STREQ(res[0].reason, "backendError: Backend error.");
	CHECK_STREQ(res[4].reason, "backendError");
	end_case();

	begin_case("insertAll answer: unknown reasons and mixtures are INVALID");
	n = PARSE_RESP(J("{'insertErrors':["
					 "{'index':0,'errors':[{'reason':'accessDenied','message':'Access Denied.'}]},"
					 "{'index':1,'errors':[{'reason':'stopped'},{'reason':'invalid','location':'x'},"
					 "{'reason':'backendError'}]},"
					 "{'index':2,'errors':[{'message':'no reason'}]},"
					 "{'index':3,'errors':[]},"
					 "{'index':'4','errors':[{'reason':'somethingNew'},{'reason':'invalid','message':'m'}]}]}"), 5);
	CHECKF(n == 5, "returned %d: %s", n, err);
	for (int i = 0; i < 5; i++)
		CHECKF(res[i].status == F1BQ_ROW_INVALID, "row %d: status %d", i, (int) res[i].status);
	CHECK_STREQ(res[0].reason, "accessDenied: Access Denied.");
	CHECK_STREQ(res[1].reason, "invalid: x");
	CHECK_STREQ(res[2].reason, "no reason");
	CHECK_STREQ(res[3].reason, "invalid: no reason given");
	CHECK_STREQ(res[4].reason, "invalid: m");
	end_case();

	begin_case("insertAll answer: a row named twice keeps the worse status");
	n = PARSE_RESP(J("{'insertErrors':[{'index':0,'errors':[{'reason':'stopped'}]},"
					 "{'index':0,'errors':[{'reason':'invalid','message':'bad'}]},"
					 "{'index':0,'errors':[{'reason':'backendError'}]}]}"), 1);
	CHECK(n == 1 && res[0].status == F1BQ_ROW_INVALID);
	CHECK_STREQ(res[0].reason, "invalid: bad");
	end_case();

	begin_case("insertAll answer: long and odd reason text is cut cleanly");
	{
		char		big[4096];
		char		msg[1200];

		for (int i = 0; i < 300; i++)
			memcpy(msg + 3 * i, "\xc3\xa9\n", 3);	/* é and a newline */
		msg[900] = '\0';
		snprintf(big, sizeof(big), "{\"insertErrors\":[{\"index\":0,\"errors\":[{\"reason\":"
				 "\"invalid\",\"location\":\"x\",\"message\":\"%s\"}]}]}", msg);
		/* the newline must be escaped in JSON */
		for (char *p = big; *p; p++)
			if (*p == '\n')
				*p = ' ';
		CHECK(PARSE_RESP(big, 1) == 1);
		CHECK(strlen(res[0].reason) < sizeof(res[0].reason));
		CHECK(strlen(res[0].reason) > 200);
		CHECK(valid_utf8(res[0].reason));
		CHECK(PARSE_RESP(J("{'insertErrors':[{'index':0,'errors':[{'reason':'invalid',"
						   "'message':'a\\nb\\u0000c'}]}]}"), 1) == 1);
		CHECK(strchr(res[0].reason, '\n') == NULL);
	}
	end_case();

	begin_case("insertAll answer: index out of range");
	CHECK(PARSE_RESP(J("{'insertErrors':[{'index':3,'errors':[{'reason':'invalid'}]}]}"), 3) == -1);
	CHECKF(strstr(err, "row 3 of 3") != NULL, "error: %s", err);
	CHECK(PARSE_RESP(J("{'insertErrors':[{'index':-1,'errors':[{'reason':'invalid'}]}]}"), 3) == -1);
	CHECK(PARSE_RESP(J("{'insertErrors':[{'index':99999999999,'errors':[]}]}"), 3) == -1);
	CHECK(PARSE_RESP(J("{'insertErrors':[{'index':0,'errors':[]}]}"), 0) == -1);
	end_case();

	begin_case("insertAll answer: garbage");
	CHECK(PARSE_RESP("", 2) == -1);
	CHECK(PARSE_RESP("not json", 2) == -1);
	CHECKF(err[0] != '\0', "no reason");
	CHECK(PARSE_RESP("[]", 2) == -1);
	CHECK(PARSE_RESP(J("{'insertErrors':{}}"), 2) == -1);
	CHECK(PARSE_RESP(J("{'insertErrors':[5]}"), 2) == -1);
	CHECK(PARSE_RESP(J("{'insertErrors':[{'errors':[]}]}"), 2) == -1);
	CHECK(PARSE_RESP(J("{'insertErrors':[{'index':'x','errors':[]}]}"), 2) == -1);
	CHECK(PARSE_RESP(J("{'insertErrors':[{'index':1.5,'errors':[]}]}"), 2) == -1);
	CHECK(PARSE_RESP(J("{'insertErrors':[]"), 2) == -1);
	CHECK(PARSE_RESP(J("{'insertErrors':[]} {}"), 2) == -1);
	CHECK(PARSE_RESP("<html>502</html>", 2) == -1);
	CHECK(f1_bq_parse_insertall_response(NULL, 0, 2, res, NULL, 0) == -1);
	CHECK(f1_bq_parse_insertall_response("{}", 2, 2, NULL, err, ERRLEN) == -1);
	end_case();
#undef PARSE_RESP
}

/* ---- refused requests ---------------------------------------------------------- */

static const char google_413[] =
"<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
"  <meta name=viewport content=\"initial-scale=1, minimum-scale=1, width=device-width\">\n"
"  <title>Error 413 (Request Entity Too Large)!!1</title>\n"
"  <style>\n    *{margin:0;padding:0}html,code{font:15px/22px arial,sans-serif}"
"html{background:#fff;color:#222;padding:15px}body{margin:7% auto 0;max-width:390px}\n"
"  </style>\n"
"  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>\n"
"  <p><b>413.</b> <ins>That\xe2\x80\x99s an error.</ins>\n"
"  <p>Your client issued a request that was too large.\n"
"  <script>\n  (function() { var x = 1; })();\n  </script>\n"
"  <ins>That\xe2\x80\x99s all we know.</ins>\n";

static const char google_503[] =
"<html><head><title>503 Service Unavailable</title></head><body>"
"<h1>Service Unavailable</h1>&lt;retry&gt; later &amp; again</body></html>";

/* A Google error envelope with one error. */
static const char *
envelope(int code, const char *reason, const char *message, const char *status)
{
	static char buf[8][1024];
	static int	next;
	char	   *b = buf[next++ % 8];

	snprintf(b, sizeof(buf[0]),
			 "{\n  \"error\": {\n    \"code\": %d,\n    \"message\": \"%s\",\n"
			 "    \"errors\": [\n      {\n        \"message\": \"%s\",\n"
			 "        \"domain\": \"global\",\n        \"reason\": \"%s\"\n      }\n    ],\n"
			 "    \"status\": \"%s\"\n  }\n}\n", code, message, message, reason, status);
	return b;
}

static void
test_classify(void)
{
	static const struct
	{
		long		status;
		const char *body;		/* NULL: envelope() of reason and message */
		const char *reason;
		const char *message;
		F1BqVerdict want;
		const char *in_message; /* expected in the message, or NULL */
	}			cases[] = {
		{200, "{\"kind\":\"bigquery#tableDataInsertAllResponse\"}", NULL, NULL, F1BQ_OK, NULL},
		{204, "", NULL, NULL, F1BQ_OK, NULL},
		{400, NULL, "badRequest", "Request payload size exceeds the limit: 10485760 bytes.",
		F1BQ_TOO_LARGE, "HTTP 400 badRequest: Request payload size exceeds the limit: 10485760 bytes."},
		{400, NULL, "invalid", "Request payload size exceeds the limit: 10485760 bytes.",
		F1BQ_TOO_LARGE, "exceeds the limit"},
		{413, google_413, NULL, NULL, F1BQ_TOO_LARGE,
		"HTTP 413: Error 413 (Request Entity Too Large)!!1 413. That\xe2\x80\x99s an error. "
		"Your client issued a request that was too large. That\xe2\x80\x99s all we know."},
		{413, "", NULL, NULL, F1BQ_TOO_LARGE, "HTTP 413"},
		{401, NULL, "authError", "Request had invalid authentication credentials.",
		F1BQ_AUTH, "HTTP 401 authError: Request had invalid authentication credentials."},
		{401, "Unauthorized", NULL, NULL, F1BQ_AUTH, "HTTP 401: Unauthorized"},
		{404, NULL, "notFound", "Not found: Table f1tel-test:f1tel.driver_laps",
		F1BQ_NOT_FOUND, "HTTP 404 notFound: Not found: Table f1tel-test:f1tel.driver_laps"},
		{404, "", NULL, NULL, F1BQ_NOT_FOUND, "HTTP 404"},
		{408, "<html><body>Request Timeout</body></html>", NULL, NULL, F1BQ_RETRY,
		"HTTP 408: Request Timeout"},
		{429, NULL, "rateLimitExceeded", "Exceeded rate limits: too many api requests per user per method for this user_method.",
		F1BQ_RETRY, "rateLimitExceeded"},
		{429, "Too Many Requests", NULL, NULL, F1BQ_RETRY, "HTTP 429: Too Many Requests"},
		{500, NULL, "backendError", "Error encountered during execution. Retrying may solve the problem.",
		F1BQ_RETRY, "HTTP 500 backendError: Error encountered"},
		{500, "{}", NULL, NULL, F1BQ_RETRY, "HTTP 500: {}"},
		{502, NULL, "badGateway", "Bad gateway", F1BQ_RETRY, "badGateway"},
		{503, google_503, NULL, NULL, F1BQ_RETRY,
		"HTTP 503: 503 Service Unavailable Service Unavailable <retry> later & again"},
		{503, NULL, "backendError", "The service is currently unavailable.", F1BQ_RETRY, NULL},
		{403, NULL, "quotaExceeded", "Quota exceeded: Your table exceeded quota for imports or query appends per table.",
		F1BQ_QUOTA, "HTTP 403 quotaExceeded: Quota exceeded"},
		{429, NULL, "quotaExceeded", "Quota exceeded", F1BQ_QUOTA, NULL},
		{403, NULL, "rateLimitExceeded", "Exceeded rate limits: too many table update operations for this table.",
		F1BQ_RETRY, "HTTP 403 rateLimitExceeded: Exceeded rate limits"},
		{403, NULL, "accessDenied", "Access Denied: Table f1tel-test:f1tel.laps: Permission bigquery.tables.updateData denied.",
		F1BQ_FATAL, "HTTP 403 accessDenied: Access Denied"},
		{403, NULL, "billingNotEnabled", "Billing has not been enabled for this project.", F1BQ_FATAL,
		"billingNotEnabled"},
		{400, NULL, "invalid", "No rows present in the request.", F1BQ_FATAL,
		"HTTP 400 invalid: No rows present in the request."},
		{409, NULL, "duplicate", "Already Exists: Table f1tel-test:f1tel.laps", F1BQ_FATAL,
		"HTTP 409 duplicate: Already Exists"},
		{400, "Bad Request", NULL, NULL, F1BQ_FATAL, "HTTP 400: Bad Request"},
		{400, "payload size exceeds the limit", NULL, NULL, F1BQ_TOO_LARGE, NULL},
		{302, "<a href=\"https://accounts.google.com\">Found</a>", NULL, NULL, F1BQ_FATAL, "HTTP 302: Found"},
		{0, NULL, NULL, NULL, F1BQ_RETRY, "no HTTP answer"},
		{0, "", NULL, NULL, F1BQ_RETRY, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char		name[128];
		char		msg[512];
		const char *body = cases[i].body;
		F1BqVerdict v;

		if (body == NULL && cases[i].reason != NULL)
			body = envelope(cases[i].status >= 100 ? (int) cases[i].status : 0,
							cases[i].reason, cases[i].message, "SOME_STATUS");
		snprintf(name, sizeof(name), "classify: %ld %s", cases[i].status,
				 cases[i].reason ? cases[i].reason :
				 body == NULL ? "no body" : body[0] == '<' ? "HTML" : body[0] == '{' ? "JSON" : "text");
		begin_case(name);
		memset(msg, 'X', sizeof(msg));
		v = f1_bq_classify(cases[i].status, body, body != NULL ? strlen(body) : 0,
						   msg, sizeof(msg));
		CHECKF(v == cases[i].want, "got %s, want %s (%s)", f1_bq_verdict_name(v),
			   f1_bq_verdict_name(cases[i].want), msg);
		CHECK(memchr(msg, '\0', sizeof(msg)) != NULL);
		if (cases[i].in_message != NULL)
			CHECKF(strstr(msg, cases[i].in_message) != NULL, "message \"%s\" lacks \"%s\"",
				   msg, cases[i].in_message);
		CHECKF(strchr(msg, '\n') == NULL && strchr(msg, '<') == NULL ? true :
			   cases[i].in_message != NULL && strchr(cases[i].in_message, '<') != NULL,
			   "message not one clean line: \"%s\"", msg);
		CHECK(valid_utf8(msg));
		/* the same without a message buffer */
		CHECK(f1_bq_classify(cases[i].status, body, body != NULL ? strlen(body) : 0, NULL, 0) == v);
		end_case();
	}

	begin_case("classify: messages are cut to the buffer, on a UTF-8 boundary");
	{
		char		small[12];
		char		body[2048];

		CHECK(f1_bq_classify(413, google_413, strlen(google_413), small, sizeof(small)) ==
			  F1BQ_TOO_LARGE);
		CHECK(strlen(small) == sizeof(small) - 1);
		body[0] = '\0';
		for (int i = 0; i < 400; i++)
			strcat(body, "\xc3\xa9");
		for (size_t len = 10; len < 40; len++)
		{
			char		m[40];

			f1_bq_classify(500, body, strlen(body), m, len);
			CHECKF(valid_utf8(m) && strlen(m) < len, "cut to %zu: \"%s\"", len, m);
		}
		f1_bq_classify(500, body, strlen(body), small, 1);
		CHECK(small[0] == '\0');
		/* a long body gives a short excerpt */
		{
			char		m[1024];

			f1_bq_classify(502, body, strlen(body), m, sizeof(m));
			CHECKF(strlen(m) < 240 && valid_utf8(m), "excerpt of %zu bytes", strlen(m));
		}
	}
	end_case();

	begin_case("classify: verdict names");
	CHECK_STREQ(f1_bq_verdict_name(F1BQ_OK), "OK");
	CHECK_STREQ(f1_bq_verdict_name(F1BQ_QUOTA), "QUOTA");
	CHECK_STREQ(f1_bq_verdict_name(F1BQ_FATAL), "FATAL");
	CHECK_STREQ(f1_bq_verdict_name((F1BqVerdict) 99), "?");
	end_case();
}

HARNESS_MAIN(test_insertall_response(); test_classify();)
