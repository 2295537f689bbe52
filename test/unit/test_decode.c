/*
 * test/unit/test_decode.c — unit tests of the plain-C OpenF1 decoder.
 *
 * Tests src/ingest/{decode,endpoints,timestamp}.c without a server: the
 * endpoint table against src/ingest/schema.sql, real records of every
 * endpoint and their quirks, every class of rejected message, the
 * all-or-nothing rollback, timestamps against values PostgreSQL 15 computes,
 * and every record of the recorded sessions in F1TEL_DATA (default
 * test/data/openf1 in the repository), with the decode speed of
 * one of them.  The harness is test/unit/harness.h (shared with
 * test_sink.c): it prints one line per failed check, ends with "N passed,
 * N failed" (N counting test cases) and exits non-zero on any failure.  `make unit` runs it; it finds the repository
 * root from the current directory or else from its own path.
 *
 * Records are written with ' for " to keep them readable; J() swaps them.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "ingest/decode.h"

#define ERRLEN 256

/* ---- harness: test/unit/harness.h -------------------------------------- */

#define HARNESS_J_STRINGS 8192
#include "harness.h"

/* ---- helpers ------------------------------------------------------------- */

static const F1Endpoint *
EP(F1EndpointId id)
{
	return &f1_endpoints[id];
}

static int
col_of(const F1Batch *b, const char *name)
{
	for (int c = 0; c < b->ep->ncolumns; c++)
		if (strcmp(b->ep->columns[c].name, name) == 0)
			return c;
	fprintf(stderr, "test bug: no column %s in %s\n", name, b->ep->name);
	exit(2);
}

static const F1Value *
val(const F1Batch *b, int r, const char *name)
{
	return f1_batch_value(b, r, col_of(b, name));
}

static bool
is_null(const F1Batch *b, int r, const char *name)
{
	return val(b, r, name)->isnull;
}

/* Value checks: a NULL value never matches. */
#define CHECK_INT(bt, r, name, expect) do { \
	const F1Value *v_ = val((bt), (r), (name)); \
	CHECKF(!v_->isnull && v_->v.i4 == (expect), "%s: got %s%d, want %d", (name), \
		   v_->isnull ? "NULL " : "", v_->isnull ? 0 : v_->v.i4, (int) (expect)); \
} while (0)
#define CHECK_F8(bt, r, name, expect) do { \
	const F1Value *v_ = val((bt), (r), (name)); \
	CHECKF(!v_->isnull && v_->v.f8 == (expect), "%s: got %s%.17g, want %.17g", (name), \
		   v_->isnull ? "NULL " : "", v_->isnull ? 0.0 : v_->v.f8, (double) (expect)); \
} while (0)
#define CHECK_BOOL(bt, r, name, expect) do { \
	const F1Value *v_ = val((bt), (r), (name)); \
	CHECKF(!v_->isnull && v_->v.b == (expect), "%s: wrong boolean", (name)); \
} while (0)
#define CHECK_TS(bt, r, name, expect) do { \
	const F1Value *v_ = val((bt), (r), (name)); \
	CHECKF(!v_->isnull && v_->v.ts == (expect), "%s: got %s%lld, want %lld", (name), \
		   v_->isnull ? "NULL " : "", v_->isnull ? 0LL : (long long) v_->v.ts, \
		   (long long) (expect)); \
} while (0)
#define CHECK_STR(bt, r, name, expect) check_str_at((bt), (r), (name), (expect), __FILE__, __LINE__)
#define CHECK_NULL(bt, r, name) CHECKF(is_null((bt), (r), (name)), "%s: not NULL", (name))

/* A text or int4[] value equals expect (NULL: the value is NULL). */
static void
check_str_at(const F1Batch *b, int r, const char *name, const char *expect,
			 const char *file, int line)
{
	const F1Value *v = val(b, r, name);

	if (expect == NULL)
	{
		check_at(v->isnull, file, line, "%s: want NULL", name);
		return;
	}
	if (!check_at(!v->isnull, file, line, "%s: NULL, want \"%s\"", name, expect))
		return;
	if (!check_at((size_t) v->v.str.off + v->v.str.len <= b->poollen, file, line,
				  "%s: string outside the pool", name))
		return;
	check_at(b->pool != NULL && v->v.str.len == strlen(expect) &&
			 memcmp(b->pool + v->v.str.off, expect, v->v.str.len) == 0,
			 file, line, "%s: got \"%.*s\", want \"%s\"", name,
			 (int) v->v.str.len, b->pool + v->v.str.off, expect);
}

static int
decode(F1Batch *b, const char *json, char *err)
{
	err[0] = '\0';
	return f1_decode_message(b, json, strlen(json), 7, 1000, err, ERRLEN);
}

/* Decodes one message that must be accepted with `rows` rows. */
static bool
decode_ok_at(F1Batch *b, const char *json, int rows, const char *file, int line)
{
	char		err[ERRLEN];
	int			rc = decode(b, json, err);

	return check_at(rc == rows, file, line, "decode returned %d (want %d): %s",
					rc, rows, err);
}

#define DECODE_OK(b, json, rows) decode_ok_at((b), (json), (rows), __FILE__, __LINE__)

/* ---- real records (copied from the files named) -------------------------- */

/* 9189/laps.json, the first record */
static const char *laps_9189_first =
	"{'meeting_key':1225,'session_key':9189,'driver_number':1,'lap_numb"
	"er':1,'date_start':'2023-11-19T06:04:05.009000+00:00','duration_se"
	"ctor_1':34.284,'duration_sector_2':33.497,'duration_sector_3':38.2"
	"49,'i1_speed':176,'i2_speed':204,'is_pit_out_lap':false,'lap_durat"
	"ion':106.03,'segments_sector_1':[2048,2049,2051,2049,2051,2051],'s"
	"egments_sector_2':[2051,2051,2051,2051,2049,2051,2051],'segments_s"
	"ector_3':[2049,2049,2049,2049,2049,2049,2049,2051],'st_speed':278}";

/* 9189/laps.json, driver 1 lap 51 after the flag: null lap_duration */
static const char *laps_9189_lap51 =
	"{'meeting_key':1225,'session_key':9189,'driver_number':1,'lap_numb"
	"er':51,'date_start':'2023-11-19T07:33:13.695000+00:00','duration_s"
	"ector_1':null,'duration_sector_2':null,'duration_sector_3':null,'i"
	"1_speed':null,'i2_speed':null,'is_pit_out_lap':false,'lap_duration"
	"':null,'segments_sector_1':[null,2048,2048,2048,2048,2048],'segmen"
	"ts_sector_2':[2048,2048,2048,2048,2048,2048,2048],'segments_sector"
	"_3':[2048],'st_speed':null}";

/* 9189/laps.json, driver 4 lap 3 (retired): null segments_sector_3 */
static const char *laps_9189_retired =
	"{'meeting_key':1225,'session_key':9189,'driver_number':4,'lap_numb"
	"er':3,'date_start':'2023-11-19T06:08:15.098000+00:00','duration_se"
	"ctor_1':29.696,'duration_sector_2':null,'duration_sector_3':null,'"
	"i1_speed':170,'i2_speed':null,'is_pit_out_lap':false,'lap_duration"
	"':null,'segments_sector_1':[null,2048,2049,2049,2049,2049],'segmen"
	"ts_sector_2':[2048],'segments_sector_3':null,'st_speed':null}";

/* 9606/laps.json, driver 23 lap 16 (retired): all but the keys null */
static const char *laps_9606_retired =
	"{'meeting_key':1246,'session_key':9606,'driver_number':23,'lap_num"
	"ber':16,'date_start':'2024-09-22T12:29:58.265000+00:00','duration_"
	"sector_1':null,'duration_sector_2':null,'duration_sector_3':null,'"
	"i1_speed':null,'i2_speed':null,'is_pit_out_lap':false,'lap_duratio"
	"n':null,'segments_sector_1':null,'segments_sector_2':null,'segment"
	"s_sector_3':null,'st_speed':null}";

/* 9606/laps.json, the first record: a null segment element */
static const char *laps_9606_first =
	"{'meeting_key':1246,'session_key':9606,'driver_number':1,'lap_numb"
	"er':1,'date_start':'2024-09-22T12:03:57.136000+00:00','duration_se"
	"ctor_1':32.12,'duration_sector_2':41.689,'duration_sector_3':27.88"
	"8,'i1_speed':281,'i2_speed':261,'is_pit_out_lap':false,'lap_durati"
	"on':101.697,'segments_sector_1':[null,2049,2049,2049,2049,2049,204"
	"9,2049],'segments_sector_2':[2049,2051,2049,2049,2051,2049,2049,20"
	"49],'segments_sector_3':[2049,2049,2049,2051,2049,2049,2051,2051],"
	"'st_speed':189}";

/* 9189/position.json, the first record (pre-race grid) */
static const char *position_9189_first =
	"{'position':2,'driver_number':1,'date':'2023-11-19T05:50:05.914000"
	"+00:00','session_key':9189,'meeting_key':1225}";

/* 9189/drivers.json, the first record */
static const char *drivers_9189_first =
	"{'driver_number':1,'broadcast_name':'M VERSTAPPEN','full_name':'Ma"
	"x VERSTAPPEN','name_acronym':'VER','team_name':'Red Bull Racing','"
	"team_colour':'3671C6','first_name':'Max','last_name':'Verstappen',"
	"'headshot_url':'https://www.formula1.com/content/dam/fom-website/d"
	"rivers/M/MAXVER01_Max_Verstappen/maxver01.png.transform/1col/image"
	".png','country_code':'NED','session_key':9189,'meeting_key':1225}";

/* 9189/drivers.json, driver 3: null headshot_url */
static const char *drivers_9189_ric =
	"{'driver_number':3,'broadcast_name':'D RICCIARDO','full_name':'Dan"
	"iel RICCIARDO','name_acronym':'RIC','team_name':'AlphaTauri','team"
	"_colour':'5E8FAA','first_name':'Daniel','last_name':'Ricciardo','h"
	"eadshot_url':null,'country_code':'AUS','session_key':9189,'meeting"
	"_key':1225}";

/* 9189/race_control.json, the first record: whole-second date, nulls */
static const char *race_control_9189_first =
	"{'date':'2023-11-19T05:57:18+00:00','category':'Drs','flag':null,'"
	"scope':null,'message':'DRS DISABLED','session_key':9189,'meeting_k"
	"ey':1225,'driver_number':null,'lap_number':1,'sector':null}";

/* 9606/race_control.json, the first record with a driver_number */
static const char *race_control_9606_blue =
	"{'meeting_key':1246,'session_key':9606,'date':'2024-09-22T13:07:07"
	"+00:00','driver_number':18,'lap_number':39,'category':'Flag','flag"
	"':'BLUE','scope':'Driver','sector':null,'message':'WAVED BLUE FLAG"
	" FOR CAR 18 (STR) TIMED AT 21:07:06'}";

/* 9606/sessions.json */
static const char *sessions_9606 =
	"{'meeting_key':1246,'session_key':9606,'location':'Marina Bay','da"
	"te_start':'2024-09-22T12:00:00+00:00','date_end':'2024-09-22T14:00"
	":00+00:00','session_type':'Race','session_name':'Race','country_ke"
	"y':157,'country_code':'SGP','country_name':'Singapore','circuit_ke"
	"y':61,'circuit_short_name':'Singapore','gmt_offset':'08:00:00','ye"
	"ar':2024}";

/* 9189/meetings.json: null meeting_code */
static const char *meetings_9189 =
	"{'meeting_name':'Las Vegas Grand Prix','meeting_official_name':'FO"
	"RMULA 1 HEINEKEN SILVER LAS VEGAS GRAND PRIX 2023','location':'Las"
	" Vegas','country_key':19,'country_code':'USA','country_name':'Unit"
	"ed States','circuit_key':152,'circuit_short_name':'Las Vegas','dat"
	"e_start':'2023-11-17T04:30:00+00:00','gmt_offset':'-08:00:00','mee"
	"ting_key':1225,'year':2023,'meeting_code':null}";

/* 9606/meetings.json */
static const char *meetings_9606 =
	"{'meeting_key':1246,'circuit_key':61,'circuit_short_name':'Singapo"
	"re','meeting_code':'SGP','location':'Marina Bay','country_key':157"
	",'country_code':'SGP','country_name':'Singapore','meeting_name':'S"
	"ingapore Grand Prix','meeting_official_name':'FORMULA 1 SINGAPORE "
	"AIRLINES SINGAPORE GRAND PRIX 2024','gmt_offset':'08:00:00','date_"
	"start':'2024-09-20T09:30:00+00:00','year':2024}";

/* 9189/car_data.json.gz, the first record */
static const char *car_data_9189_first =
	"{'date':'2023-11-19T05:50:02.821000+00:00','session_key':9189,'spe"
	"ed':0,'rpm':0,'meeting_key':1225,'driver_number':1,'brake':0,'thro"
	"ttle':0,'drs':0,'n_gear':0}";

/* 9606/car_data.json.gz, record 88186 */
static const char *car_data_9606 =
	"{'date':'2024-09-22T13:16:52.599000+00:00','session_key':9606,'spe"
	"ed':125,'n_gear':2,'rpm':11696,'driver_number':4,'throttle':72,'br"
	"ake':0,'drs':0,'meeting_key':1246}";

/* 9606/car_data.json.gz, record 88189: the first null date */
static const char *car_data_9606_null_date =
	"{'date':null,'session_key':9606,'speed':176,'n_gear':4,'rpm':10869"
	",'driver_number':1,'throttle':100,'brake':0,'drs':0,'meeting_key':"
	"1246}";

/* 9189/location.json.gz, the first record */
static const char *location_9189_first =
	"{'date':'2023-11-19T05:50:02.764000+00:00','session_key':9189,'x':"
	"1661,'z':6066,'meeting_key':1225,'driver_number':1,'y':-1065}";

/* 9606/location.json.gz, the first record */
static const char *location_9606_first =
	"{'date':'2024-09-22T11:06:58.454000+00:00','session_key':9606,'y':"
	"0,'x':0,'z':0,'meeting_key':1246,'driver_number':1}";

/* One good record per endpoint, for tests that need any */
static const char *
good_record(F1EndpointId id)
{
	switch (id)
	{
		case F1E_LAPS:
			return J(laps_9189_first);
		case F1E_POSITION:
			return J(position_9189_first);
		case F1E_DRIVERS:
			return J(drivers_9189_first);
		case F1E_RACE_CONTROL:
			return J(race_control_9189_first);
		case F1E_SESSIONS:
			return J(sessions_9606);
		case F1E_MEETINGS:
			return J(meetings_9606);
		case F1E_CAR_DATA:
			return J(car_data_9189_first);
		case F1E_LOCATION:
			return J(location_9189_first);
		case F1E_COUNT:
			break;
	}
	return NULL;
}

/* ---- repository and data paths -------------------------------------------- */

/* A whole file, gunzipped if it is gzipped (zlib reads plain files as is) */
static char *
read_file(const char *path, size_t *lenp)
{
	gzFile		gz = gzopen(path, "rb");
	size_t		len = 0,
				cap = 1 << 16;
	char	   *buf;

	if (gz == NULL)
		return NULL;
	buf = malloc(cap);
	for (;;)
	{
		int			n;

		if (buf == NULL)
			break;
		if (cap - len < (1 << 16))
		{
			char	   *nb = realloc(buf, cap * 2);

			if (nb == NULL)
			{
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		n = gzread(gz, buf + len, (unsigned) (cap - len));
		if (n < 0)
		{
			free(buf);
			buf = NULL;
			break;
		}
		if (n == 0)
			break;
		len += (size_t) n;
	}
	gzclose(gz);
	*lenp = len;
	return buf;
}

/*
 * The next object of a JSON array text: its bounds in *start and *end (one
 * past its '}').  *pos is 0 before the first call and is moved past the
 * object; false at the end of the array.
 */
static bool
next_record(const char *s, size_t len, size_t *pos, size_t *start, size_t *end)
{
	size_t		i = *pos;
	int			depth = 0;
	bool		in_string = false;

	if (i == 0)
	{
		while (i < len && s[i] != '[')
			i++;
		i++;
	}
	while (i < len && (s[i] == ',' || s[i] == ' ' || s[i] == '\n' ||
					   s[i] == '\r' || s[i] == '\t'))
		i++;
	if (i >= len || s[i] != '{')
		return false;
	*start = i;
	for (; i < len; i++)
	{
		char		c = s[i];

		if (in_string)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		}
		else if (c == '"')
			in_string = true;
		else if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
		{
			*end = *pos = i + 1;
			return true;
		}
	}
	return false;
}

/* ---- test: the endpoint table ---------------------------------------------- */

/* schema.sql's column type as an F1Type; -1 if it is none */
static int
sql_type(const char *t)
{
	if (strncmp(t, "integer[]", 9) == 0)
		return F1T_INT4ARRAY;
	if (strncmp(t, "integer", 7) == 0)
		return F1T_INT4;
	if (strncmp(t, "double precision", 16) == 0)
		return F1T_FLOAT8;
	if (strncmp(t, "boolean", 7) == 0)
		return F1T_BOOL;
	if (strncmp(t, "text", 4) == 0)
		return F1T_TEXT;
	if (strncmp(t, "timestamptz", 11) == 0)
		return F1T_TIMESTAMPTZ;
	return -1;
}

static void
test_endpoint_table(void)
{
	static const char *names[F1E_COUNT] = {
		"laps", "position", "drivers", "race_control", "sessions",
		"meetings", "car_data", "location"
	};
	static const char *topics[F1E_COUNT] = {
		"f1_laps", "f1_position", "f1_drivers", "f1-race_control",
		"f1_sessions", "f1_meetings", "f1_car_data", "f1_location"
	};
	char		path[4200];
	char	   *sql;
	size_t		sqllen;

	begin_case("endpoint table: names, topics, lookup, ranges");
	for (int i = 0; i < F1E_COUNT; i++)
	{
		const F1Endpoint *ep = &f1_endpoints[i];

		CHECK(ep->id == (F1EndpointId) i);
		CHECKF(ep->name && strcmp(ep->name, names[i]) == 0, "endpoint %d name", i);
		CHECKF(ep->default_topic && strcmp(ep->default_topic, topics[i]) == 0,
			   "endpoint %s topic", names[i]);
		CHECK(f1_endpoint_by_name(names[i]) == ep);
		CHECK(ep->ncolumns > 0 && ep->columns != NULL);
		for (int c = 0; c < ep->ncolumns; c++)
		{
			const F1Column *col = &ep->columns[c];

			if (col->key)
				CHECKF(col->notnull, "%s.%s: key but not notnull", ep->name, col->name);
			if (col->type == F1T_INT4 || col->type == F1T_INT4ARRAY)
				CHECKF(col->min <= col->max && col->min >= INT32_MIN &&
					   col->max <= INT32_MAX, "%s.%s: range", ep->name, col->name);
		}
	}
	CHECK(f1_endpoint_by_name("pit") == NULL);
	CHECK(f1_endpoint_by_name("") == NULL);
	CHECK(f1_endpoint_by_name(NULL) == NULL);
	end_case();

	/* The columns are schema.sql's, in its order, and agree on type and NOT NULL */
	begin_case("endpoint columns match schema.sql");
	snprintf(path, sizeof(path), "%s/src/ingest/schema.sql", repo_root);
	sql = read_file(path, &sqllen);
	if (!CHECKF(sql != NULL, "cannot read %s", path))
	{
		end_case();
		return;
	}
	sql = realloc(sql, sqllen + 1);
	sql[sqllen] = '\0';
	for (int i = 0; i < F1E_COUNT; i++)
	{
		const F1Endpoint *ep = &f1_endpoints[i];
		char		head[128];
		const char *p;
		int			c = 0;

		snprintf(head, sizeof(head), "CREATE TABLE f1tel.%s (\n", ep->name);
		p = strstr(sql, head);
		if (!CHECKF(p != NULL, "no table %s in schema.sql", ep->name))
			continue;
		p += strlen(head);
		/* column lines are "\t<name>\t...<type>..." until ");" */
		while (*p && strncmp(p, ");", 2) != 0)
		{
			const char *eol = strchr(p, '\n');
			char		line[512];
			char		name[128];
			const char *t;
			size_t		n;

			if (eol == NULL)
				eol = p + strlen(p);
			n = (size_t) (eol - p) < sizeof(line) - 1 ? (size_t) (eol - p) : sizeof(line) - 1;
			memcpy(line, p, n);
			line[n] = '\0';
			p = *eol ? eol + 1 : eol;
			if (line[0] != '\t' || line[1] < 'a' || line[1] > 'z')
				continue;		/* constraint lines and their continuations */
			n = strcspn(line + 1, " \t");
			snprintf(name, sizeof(name), "%.*s", (int) n, line + 1);
			if (strcmp(name, "src_topic") == 0 || strcmp(name, "src_partition") == 0 ||
				strcmp(name, "src_offset") == 0 || strcmp(name, "ingested_at") == 0 ||
				strcmp(name, "id") == 0)
				continue;
			t = line + 1 + n;
			t += strspn(t, " \t");
			if (!CHECKF(c < ep->ncolumns, "%s: table column %s not in the endpoint",
						ep->name, name))
				break;
			CHECKF(strcmp(ep->columns[c].name, name) == 0,
				   "%s: column %d is %s in the table, %s in the endpoint",
				   ep->name, c, name, ep->columns[c].name);
			/*
			 * t is never NULL (it points into line); with -fsanitize=undefined
			 * GCC 12 warns that it may be ("'%s' directive argument is null"):
			 * a false positive of the format check CHECKF has from harness.h.
			 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-overflow"
			CHECKF(sql_type(t) == (int) ep->columns[c].type,
				   "%s.%s: type differs from \"%s\"", ep->name, name, t);
#pragma GCC diagnostic pop
			CHECKF((strstr(t, "NOT NULL") != NULL) == ep->columns[c].notnull,
				   "%s.%s: NOT NULL differs", ep->name, name);
			c++;
		}
		CHECKF(c == ep->ncolumns, "%s: table has %d columns, endpoint %d",
			   ep->name, c, ep->ncolumns);
	}
	free(sql);
	end_case();

	begin_case("natural keys");
	{
		static const struct
		{
			F1EndpointId ep;
			const char *keys;
		}			keys[] = {
			{F1E_LAPS, "session_key,driver_number,lap_number,"},
			{F1E_POSITION, "session_key,driver_number,date,"},
			{F1E_DRIVERS, "session_key,driver_number,"},
			{F1E_RACE_CONTROL, ""},
			{F1E_SESSIONS, "session_key,"},
			{F1E_MEETINGS, "meeting_key,"},
			{F1E_CAR_DATA, "session_key,driver_number,date,"},
			{F1E_LOCATION, "session_key,driver_number,date,"},
		};

		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		{
			const F1Endpoint *ep = EP(keys[i].ep);
			char		got[256] = "";

			for (int c = 0; c < ep->ncolumns; c++)
				if (ep->columns[c].key)
				{
					strcat(got, ep->columns[c].name);
					strcat(got, ",");
				}
			CHECKF(strcmp(got, keys[i].keys) == 0, "%s keys: %s", ep->name, got);
		}
	}
	end_case();
}

/* ---- test: real records ------------------------------------------------------ */

static void
test_real_records(void)
{
	F1Batch		b;

	begin_case("laps: 9189 first record");
	f1_batch_init(&b, EP(F1E_LAPS));
	if (DECODE_OK(&b, J(laps_9189_first), 1))
	{
		CHECK_INT(&b, 0, "session_key", 9189);
		CHECK_INT(&b, 0, "driver_number", 1);
		CHECK_INT(&b, 0, "lap_number", 1);
		CHECK_INT(&b, 0, "meeting_key", 1225);
		CHECK_TS(&b, 0, "date_start", INT64_C(753689045009000));
		CHECK_F8(&b, 0, "lap_duration", 106.03);
		CHECK_F8(&b, 0, "duration_sector_1", 34.284);
		CHECK_F8(&b, 0, "duration_sector_2", 33.497);
		CHECK_F8(&b, 0, "duration_sector_3", 38.249);
		CHECK_INT(&b, 0, "i1_speed", 176);
		CHECK_INT(&b, 0, "i2_speed", 204);
		CHECK_INT(&b, 0, "st_speed", 278);
		CHECK_BOOL(&b, 0, "is_pit_out_lap", false);
		CHECK_STR(&b, 0, "segments_sector_1", "{2048,2049,2051,2049,2051,2051}");
		CHECK_STR(&b, 0, "segments_sector_2", "{2051,2051,2051,2051,2049,2051,2051}");
		CHECK_STR(&b, 0, "segments_sector_3", "{2049,2049,2049,2049,2049,2049,2049,2051}");
		CHECK(b.src_partition[0] == 7 && b.src_offset[0] == 1000);
	}
	f1_batch_free(&b);
	end_case();

	begin_case("laps: null lap_duration, null elements (9189 lap 51)");
	f1_batch_init(&b, EP(F1E_LAPS));
	if (DECODE_OK(&b, J(laps_9189_lap51), 1))
	{
		CHECK_INT(&b, 0, "lap_number", 51);
		CHECK_NULL(&b, 0, "lap_duration");
		CHECK_NULL(&b, 0, "duration_sector_1");
		CHECK_NULL(&b, 0, "i1_speed");
		CHECK_NULL(&b, 0, "st_speed");
		CHECK_STR(&b, 0, "segments_sector_1", "{NULL,2048,2048,2048,2048,2048}");
		CHECK_STR(&b, 0, "segments_sector_3", "{2048}");
	}
	f1_batch_free(&b);
	end_case();

	begin_case("laps: null segments (9189 driver 4 lap 3, 9606 driver 23 lap 16)");
	f1_batch_init(&b, EP(F1E_LAPS));
	if (DECODE_OK(&b, J(laps_9189_retired), 1) &&
		DECODE_OK(&b, J(laps_9606_retired), 1))
	{
		CHECK_F8(&b, 0, "duration_sector_1", 29.696);
		CHECK_STR(&b, 0, "segments_sector_2", "{2048}");
		CHECK_STR(&b, 0, "segments_sector_3", NULL);
		CHECK_INT(&b, 1, "driver_number", 23);
		CHECK_TS(&b, 1, "date_start", INT64_C(780323398265000));
		CHECK_STR(&b, 1, "segments_sector_1", NULL);
		CHECK_STR(&b, 1, "segments_sector_2", NULL);
		CHECK_STR(&b, 1, "segments_sector_3", NULL);
		CHECK_BOOL(&b, 1, "is_pit_out_lap", false);
	}
	f1_batch_free(&b);
	end_case();

	begin_case("laps: 9606 first record, leading null segment");
	f1_batch_init(&b, EP(F1E_LAPS));
	if (DECODE_OK(&b, J(laps_9606_first), 1))
	{
		CHECK_STR(&b, 0, "segments_sector_1", "{NULL,2049,2049,2049,2049,2049,2049,2049}");
		CHECK_F8(&b, 0, "lap_duration", 101.697);
		CHECK_TS(&b, 0, "date_start", INT64_C(780321837136000));
	}
	f1_batch_free(&b);
	end_case();

	begin_case("laps: arrays: empty, nulls only, boundaries");
	f1_batch_init(&b, EP(F1E_LAPS));
	if (DECODE_OK(&b, J("{'session_key':1,'driver_number':0,'lap_number':0,"
						"'segments_sector_1':[],'segments_sector_2':[null,null],"
						"'segments_sector_3':[0,65535,null]}"), 1))
	{
		CHECK_STR(&b, 0, "segments_sector_1", "{}");
		CHECK_STR(&b, 0, "segments_sector_2", "{NULL,NULL}");
		CHECK_STR(&b, 0, "segments_sector_3", "{0,65535,NULL}");
		CHECK_NULL(&b, 0, "meeting_key");	/* missing non-key fields */
		CHECK_NULL(&b, 0, "date_start");
		CHECK_NULL(&b, 0, "is_pit_out_lap");
	}
	f1_batch_free(&b);
	end_case();

	begin_case("position: 9189 first record");
	f1_batch_init(&b, EP(F1E_POSITION));
	if (DECODE_OK(&b, J(position_9189_first), 1))
	{
		CHECK_INT(&b, 0, "position", 2);
		CHECK_INT(&b, 0, "driver_number", 1);
		CHECK_INT(&b, 0, "session_key", 9189);
		CHECK_INT(&b, 0, "meeting_key", 1225);
		CHECK_TS(&b, 0, "date", INT64_C(753688205914000));
	}
	f1_batch_free(&b);
	end_case();

	begin_case("drivers: 9189 first record, and a null headshot_url");
	f1_batch_init(&b, EP(F1E_DRIVERS));
	if (DECODE_OK(&b, J(drivers_9189_first), 1) &&
		DECODE_OK(&b, J(drivers_9189_ric), 1))
	{
		CHECK_INT(&b, 0, "session_key", 9189);
		CHECK_INT(&b, 0, "driver_number", 1);
		CHECK_STR(&b, 0, "broadcast_name", "M VERSTAPPEN");
		CHECK_STR(&b, 0, "full_name", "Max VERSTAPPEN");
		CHECK_STR(&b, 0, "name_acronym", "VER");
		CHECK_STR(&b, 0, "team_name", "Red Bull Racing");
		CHECK_STR(&b, 0, "team_colour", "3671C6");
		CHECK_STR(&b, 0, "first_name", "Max");
		CHECK_STR(&b, 0, "last_name", "Verstappen");
		CHECK_STR(&b, 0, "headshot_url",
				  "https://www.formula1.com/content/dam/fom-website/drivers/M/"
				  "MAXVER01_Max_Verstappen/maxver01.png.transform/1col/image.png");
		CHECK_STR(&b, 0, "country_code", "NED");
		CHECK_STR(&b, 1, "full_name", "Daniel RICCIARDO");
		CHECK_STR(&b, 1, "headshot_url", NULL);
	}
	f1_batch_free(&b);
	end_case();

	begin_case("drivers: empty text first in an empty batch");
	f1_batch_init(&b, EP(F1E_DRIVERS));
	if (DECODE_OK(&b, J("{'session_key':1,'driver_number':1,'full_name':''}"), 1))
	{
		CHECK_STR(&b, 0, "full_name", "");
		CHECK_STR(&b, 0, "last_name", NULL);
	}
	f1_batch_free(&b);
	end_case();

	begin_case("drivers: non-ASCII text and \\u escapes");
	f1_batch_init(&b, EP(F1E_DRIVERS));
	if (DECODE_OK(&b, "{\"session_key\":1,\"driver_number\":11,"
				  "\"full_name\":\"Sergio P\xc3\xa9rez \xf0\x9f\x8f\x8e\","
				  "\"last_name\":\"P\\u00e9rez \\ud83c\\udfce \\\"Checo\\\"\\n\","
				  "\"first_name\":\"\"}", 1))
	{
		CHECK_STR(&b, 0, "full_name", "Sergio P\xc3\xa9rez \xf0\x9f\x8f\x8e");
		CHECK_STR(&b, 0, "last_name", "P\xc3\xa9rez \xf0\x9f\x8f\x8e \"Checo\"\n");
		CHECK_STR(&b, 0, "first_name", "");
	}
	f1_batch_free(&b);
	end_case();

	begin_case("race_control: 9189 first record (whole-second date, nulls)");
	f1_batch_init(&b, EP(F1E_RACE_CONTROL));
	if (DECODE_OK(&b, J(race_control_9189_first), 1) &&
		DECODE_OK(&b, J(race_control_9606_blue), 1))
	{
		CHECK_INT(&b, 0, "session_key", 9189);
		CHECK_TS(&b, 0, "date", INT64_C(753688638000000));
		CHECK_INT(&b, 0, "meeting_key", 1225);
		CHECK_NULL(&b, 0, "driver_number");
		CHECK_INT(&b, 0, "lap_number", 1);
		CHECK_NULL(&b, 0, "sector");
		CHECK_STR(&b, 0, "category", "Drs");
		CHECK_STR(&b, 0, "flag", NULL);
		CHECK_STR(&b, 0, "scope", NULL);
		CHECK_STR(&b, 0, "message", "DRS DISABLED");
		CHECK_INT(&b, 1, "driver_number", 18);
		CHECK_STR(&b, 1, "flag", "BLUE");
		CHECK_STR(&b, 1, "scope", "Driver");
		CHECK_STR(&b, 1, "message", "WAVED BLUE FLAG FOR CAR 18 (STR) TIMED AT 21:07:06");
	}
	f1_batch_free(&b);
	end_case();

	begin_case("sessions: 9606");
	f1_batch_init(&b, EP(F1E_SESSIONS));
	if (DECODE_OK(&b, J(sessions_9606), 1))
	{
		CHECK_INT(&b, 0, "session_key", 9606);
		CHECK_INT(&b, 0, "meeting_key", 1246);
		CHECK_STR(&b, 0, "session_name", "Race");
		CHECK_STR(&b, 0, "session_type", "Race");
		CHECK_TS(&b, 0, "date_start", INT64_C(780321600000000));
		CHECK_TS(&b, 0, "date_end", INT64_C(780328800000000));
		CHECK_STR(&b, 0, "location", "Marina Bay");
		CHECK_INT(&b, 0, "country_key", 157);
		CHECK_STR(&b, 0, "country_code", "SGP");
		CHECK_STR(&b, 0, "country_name", "Singapore");
		CHECK_INT(&b, 0, "circuit_key", 61);
		CHECK_STR(&b, 0, "circuit_short_name", "Singapore");
		CHECK_STR(&b, 0, "gmt_offset", "08:00:00");
		CHECK_INT(&b, 0, "year", 2024);
	}
	f1_batch_free(&b);
	end_case();

	begin_case("meetings: 9189 (null meeting_code) and 9606");
	f1_batch_init(&b, EP(F1E_MEETINGS));
	if (DECODE_OK(&b, J(meetings_9189), 1) && DECODE_OK(&b, J(meetings_9606), 1))
	{
		CHECK_INT(&b, 0, "meeting_key", 1225);
		CHECK_STR(&b, 0, "meeting_name", "Las Vegas Grand Prix");
		CHECK_STR(&b, 0, "meeting_official_name",
				  "FORMULA 1 HEINEKEN SILVER LAS VEGAS GRAND PRIX 2023");
		CHECK_STR(&b, 0, "meeting_code", NULL);
		CHECK_STR(&b, 0, "location", "Las Vegas");
		CHECK_INT(&b, 0, "country_key", 19);
		CHECK_STR(&b, 0, "country_code", "USA");
		CHECK_STR(&b, 0, "country_name", "United States");
		CHECK_INT(&b, 0, "circuit_key", 152);
		CHECK_STR(&b, 0, "circuit_short_name", "Las Vegas");
		CHECK_STR(&b, 0, "gmt_offset", "-08:00:00");
		CHECK_TS(&b, 0, "date_start", INT64_C(753510600000000));
		CHECK_INT(&b, 0, "year", 2023);
		CHECK_STR(&b, 1, "meeting_code", "SGP");
	}
	f1_batch_free(&b);
	end_case();

	begin_case("car_data: 9189 first record and one of 9606");
	f1_batch_init(&b, EP(F1E_CAR_DATA));
	if (DECODE_OK(&b, J(car_data_9189_first), 1) && DECODE_OK(&b, J(car_data_9606), 1))
	{
		CHECK_INT(&b, 0, "session_key", 9189);
		CHECK_INT(&b, 0, "driver_number", 1);
		CHECK_TS(&b, 0, "date", INT64_C(753688202821000));
		CHECK_INT(&b, 0, "meeting_key", 1225);
		CHECK_INT(&b, 0, "rpm", 0);
		CHECK_INT(&b, 1, "rpm", 11696);
		CHECK_INT(&b, 1, "speed", 125);
		CHECK_INT(&b, 1, "n_gear", 2);
		CHECK_INT(&b, 1, "throttle", 72);
		CHECK_INT(&b, 1, "brake", 0);
		CHECK_INT(&b, 1, "drs", 0);
		CHECK_TS(&b, 1, "date", INT64_C(780326212599000));
	}
	f1_batch_free(&b);
	end_case();

	begin_case("car_data: a null date (9606) is a missing key");
	{
		char		err[ERRLEN];

		f1_batch_init(&b, EP(F1E_CAR_DATA));
		CHECK(decode(&b, J(car_data_9606_null_date), err) == -1);
		CHECKF(strcmp(err, "car_data: missing key field \"date\"") == 0, "reason: %s", err);
		CHECK(b.nrows == 0 && b.poollen == 0);
		f1_batch_free(&b);
	}
	end_case();

	begin_case("location: 9189 and 9606 first records, int32 bounds");
	f1_batch_init(&b, EP(F1E_LOCATION));
	if (DECODE_OK(&b, J(location_9189_first), 1) && DECODE_OK(&b, J(location_9606_first), 1) &&
		DECODE_OK(&b, J("{'session_key':1,'driver_number':1,'date':'2024-01-01T00:00:00Z',"
						"'x':-2147483648,'y':2147483647,'z':-1}"), 1))
	{
		CHECK_INT(&b, 0, "x", 1661);
		CHECK_INT(&b, 0, "y", -1065);
		CHECK_INT(&b, 0, "z", 6066);
		CHECK_TS(&b, 0, "date", INT64_C(753688202764000));
		CHECK_INT(&b, 1, "x", 0);
		CHECK_INT(&b, 1, "session_key", 9606);
		CHECK_INT(&b, 2, "x", INT32_MIN);
		CHECK_INT(&b, 2, "y", INT32_MAX);
		CHECK_NULL(&b, 2, "meeting_key");
	}
	f1_batch_free(&b);
	end_case();

	begin_case("floats accept JSON integers; unknown fields are ignored");
	f1_batch_init(&b, EP(F1E_LAPS));
	if (DECODE_OK(&b, J("{'session_key':9189,'driver_number':1,'lap_number':2,"
						"'lap_duration':95,'duration_sector_1':-0.0,"
						"'duration_sector_2':1.5e1,'new_field':{'a':[1,{}]},"
						"'another':'x','i1_speed':null}"), 1))
	{
		CHECK_F8(&b, 0, "lap_duration", 95.0);
		CHECK_F8(&b, 0, "duration_sector_1", 0.0);
		CHECK_F8(&b, 0, "duration_sector_2", 15.0);
		CHECK_NULL(&b, 0, "i1_speed");
	}
	f1_batch_free(&b);
	end_case();

	begin_case("dates: naive (UTC), whole seconds, Z and other offsets");
	f1_batch_init(&b, EP(F1E_POSITION));
	{
		static const struct
		{
			const char *date;
			int64_t		ts;
		}			dates[] = {
			{"2023-11-19T05:57:18+00:00", INT64_C(753688638000000)},
			{"2023-11-19T05:57:18Z", INT64_C(753688638000000)},
			{"2023-11-19T05:57:18", INT64_C(753688638000000)},
			{"2023-11-19 06:04:05.009", INT64_C(753689045009000)},
			{"2023-11-19T06:04:05.009000", INT64_C(753689045009000)},
			{"2023-11-19T05:57:18+05:30", INT64_C(753668838000000)},
			{"2023-11-19T05:57:18-08:00", INT64_C(753717438000000)},
		};

		for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++)
		{
			char		json[256];

			snprintf(json, sizeof(json),
					 "{\"session_key\":9189,\"driver_number\":1,\"position\":3,\"date\":\"%s\"}",
					 dates[i].date);
			if (DECODE_OK(&b, json, 1))
				CHECK_TS(&b, b.nrows - 1, "date", dates[i].ts);
		}
	}
	f1_batch_free(&b);
	end_case();
}

/* ---- test: messages of several records, rollback -------------------------- */

static void
test_arrays_and_rollback(void)
{
	F1Batch		b;
	char		err[ERRLEN];
	char		json[4096];
	size_t		poollen;

	begin_case("array of records, empty array, whitespace");
	f1_batch_init(&b, EP(F1E_POSITION));
	snprintf(json, sizeof(json), " [ %s ,\n%s ] \n", J(position_9189_first),
			 J("{'position':6,'driver_number':2,'date':'2023-11-19T05:50:05.914000+00:00',"
			   "'session_key':9189,'meeting_key':1225}"));
	if (DECODE_OK(&b, json, 2))
	{
		CHECK_INT(&b, 0, "position", 2);
		CHECK_INT(&b, 1, "position", 6);
		CHECK_INT(&b, 1, "driver_number", 2);
	}
	DECODE_OK(&b, "[]", 0);
	DECODE_OK(&b, " [ ] ", 0);
	CHECK(b.nrows == 2);
	f1_batch_free(&b);
	end_case();

	begin_case("partition and offset per row; reset keeps buffers");
	f1_batch_init(&b, EP(F1E_POSITION));
	CHECK(f1_decode_message(&b, J(position_9189_first), strlen(J(position_9189_first)),
							3, INT64_C(1) << 40, err, sizeof(err)) == 1);
	CHECK(f1_decode_message(&b, J(position_9189_first), strlen(J(position_9189_first)),
							5, 77, err, sizeof(err)) == 1);
	CHECK(b.nrows == 2 && b.src_partition[0] == 3 && b.src_offset[0] == INT64_C(1) << 40 &&
		  b.src_partition[1] == 5 && b.src_offset[1] == 77);
	{
		void	   *values = b.values;
		int			caprows = b.caprows;

		f1_batch_reset(&b);
		CHECK(b.nrows == 0 && b.poollen == 0 && b.values == values && b.caprows == caprows);
		DECODE_OK(&b, J(position_9189_first), 1);
		CHECK_INT(&b, 0, "position", 2);
	}
	f1_batch_free(&b);
	CHECK(b.values == NULL && b.pool == NULL && b.nrows == 0 && b.ep == EP(F1E_POSITION));
	f1_batch_free(&b);			/* twice is harmless */
	end_case();

	begin_case("rollback: record 1 of 3 bad keeps earlier rows intact");
	f1_batch_init(&b, EP(F1E_DRIVERS));
	DECODE_OK(&b, J(drivers_9189_first), 1);
	DECODE_OK(&b, J(drivers_9189_ric), 1);
	poollen = b.poollen;
	snprintf(json, sizeof(json), "[%s,%s,%s]", J(drivers_9189_first),
			 J("{'session_key':9189,'driver_number':'2','full_name':'Logan SARGEANT'}"),
			 J(drivers_9189_ric));
	CHECK(decode(&b, json, err) == -1);
	CHECKF(strcmp(err, "drivers: record 1: field \"driver_number\": expected an integer, "
				  "got a string") == 0, "reason: %s", err);
	CHECK(b.nrows == 2 && b.poollen == poollen);
	CHECK_STR(&b, 0, "full_name", "Max VERSTAPPEN");
	CHECK_STR(&b, 1, "full_name", "Daniel RICCIARDO");
	CHECK_STR(&b, 1, "headshot_url", NULL);
	end_case();

	begin_case("rollback: last record bad after text was pooled");
	snprintf(json, sizeof(json), "[%s,%s,%s]", J(drivers_9189_first), J(drivers_9189_ric),
			 J("{'session_key':9189,'full_name':'No Number'}"));
	CHECK(decode(&b, json, err) == -1);
	CHECKF(strcmp(err, "drivers: record 2: missing key field \"driver_number\"") == 0,
		   "reason: %s", err);
	CHECK(b.nrows == 2 && b.poollen == poollen);
	/* the batch goes on as if nothing happened */
	snprintf(json, sizeof(json), "[%s,%s]", J(drivers_9189_first), J(drivers_9189_ric));
	if (DECODE_OK(&b, json, 2))
	{
		CHECK_STR(&b, 0, "full_name", "Max VERSTAPPEN");
		CHECK_STR(&b, 2, "full_name", "Max VERSTAPPEN");
		CHECK_STR(&b, 3, "last_name", "Ricciardo");
		CHECK(b.src_offset[3] == 1000);
	}
	f1_batch_free(&b);
	end_case();

	begin_case("growth: many rows and long text");
	f1_batch_init(&b, EP(F1E_DRIVERS));
	{
		size_t		biglen = 300000;
		char	   *big = malloc(biglen + 100);
		bool		ok = true;

		if (CHECK(big != NULL))
		{
			int			n = snprintf(big, 100, "{\"session_key\":1,\"driver_number\":5,\"team_name\":\"");

			memset(big + n, 'x', biglen);
			strcpy(big + n + biglen, "\"}");
			for (int i = 0; i < 3000 && ok; i++)
				ok = DECODE_OK(&b, J(drivers_9189_first), 1);
			ok = ok && DECODE_OK(&b, big, 1);
			for (int i = 0; i < 3000 && ok; i++)
				ok = DECODE_OK(&b, J(drivers_9189_ric), 1);
			if (ok)
			{
				const F1Value *v = val(&b, 3000, "team_name");

				CHECK(b.nrows == 6001);
				CHECK(!v->isnull && v->v.str.len == biglen &&
					  b.pool[v->v.str.off] == 'x' &&
					  b.pool[v->v.str.off + biglen - 1] == 'x');
				CHECK_STR(&b, 0, "full_name", "Max VERSTAPPEN");
				CHECK_STR(&b, 6000, "full_name", "Daniel RICCIARDO");
				CHECK(b.poollen <= b.poolcap && b.nrows <= b.caprows);
			}
			free(big);
		}
	}
	f1_batch_free(&b);
	end_case();

	begin_case("error buffer: NULL, empty and short");
	f1_batch_init(&b, EP(F1E_LAPS));
	CHECK(f1_decode_message(&b, "x", 1, 0, 0, NULL, 0) == -1);
	memset(err, '#', sizeof(err));
	CHECK(f1_decode_message(&b, "x", 1, 0, 0, err, 0) == -1);
	CHECK(err[0] == '#');
	CHECK(f1_decode_message(&b, "x", 1, 0, 0, err, 8) == -1);
	CHECK(strlen(err) == 7 && strncmp(err, "laps: n", 7) == 0);
	CHECK(f1_decode_message(&b, "x", 1, 0, 0, err, 3) == -1);
	CHECK(strcmp(err, "la") == 0);
	f1_batch_free(&b);
	end_case();
}

/* ---- test: rejected messages ----------------------------------------------- */

typedef struct RejectCase
{
	F1EndpointId ep;
	const char *json;			/* ' for ", unless raw */
	const char *reason;			/* exact; a trailing '*' matches a prefix */
	bool		raw;			/* json as is (it holds ' or bytes) */
	size_t		len;			/* raw: its length, 0 for strlen */
} RejectCase;

#define CD(fields) "{'session_key':9189,'driver_number':1,'date':'2023-11-19T05:50:02.821Z'" fields "}"
#define LAP(fields) "{'session_key':9189,'driver_number':1,'lap_number':1" fields "}"
#define DRV(fields) "{'session_key':9189,'driver_number':1" fields "}"
#define POS(date) "{'session_key':9189,'driver_number':1,'position':1,'date':'" date "'}"

static const RejectCase reject_cases[] = {
	/* not JSON */
	{F1E_LAPS, "", "laps: empty message", false, 0},
	{F1E_LAPS, "hello", "laps: not valid JSON: *", false, 0},
	{F1E_LAPS, "{", "laps: not valid JSON: unexpected end of data at byte 1", false, 0},
	{F1E_LAPS, "{'session_key':1,}", "laps: not valid JSON: *", false, 0},
	{F1E_LAPS, "[{'session_key':1}", "laps: not valid JSON: *", false, 0},
	{F1E_LAPS, "{'a':1} // comment", "laps: not valid JSON: *", false, 0},
	{F1E_LAPS, "{'a':'x'}", "laps: not valid JSON: *", true, 0},	/* single quotes */
	{F1E_LAPS, "{'a':01}", "laps: not valid JSON: *", false, 0},
	{F1E_LAPS, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	"laps: not valid JSON: *", false, 0},
	/* trailing garbage */
	{F1E_CAR_DATA, CD("") " x", "car_data: not valid JSON: *", false, 0},
	{F1E_CAR_DATA, CD("") CD(""), "car_data: not valid JSON: *", false, 0},
	{F1E_CAR_DATA, "[] ]", "car_data: not valid JSON: *", false, 0},
	{F1E_CAR_DATA, "{}\0{}", "car_data: not valid JSON: trailing data after the JSON value at byte 2",
	true, 5},
	{F1E_CAR_DATA, "[]\0", "car_data: not valid JSON: trailing data after the JSON value at byte 2",
	true, 3},
	/* scalars, and arrays of something else than objects */
	{F1E_LAPS, "123", "laps: expected a JSON object or an array of objects, got an integer", false, 0},
	{F1E_LAPS, " 1.5 ", "laps: expected a JSON object or an array of objects, got a float", false, 0},
	{F1E_LAPS, "'laps'", "laps: expected a JSON object or an array of objects, got a string", false, 0},
	{F1E_LAPS, "true", "laps: expected a JSON object or an array of objects, got a boolean", false, 0},
	{F1E_LAPS, "null", "laps: expected a JSON object or an array of objects, got null", false, 0},
	{F1E_LAPS, "[1]", "laps: record 0: expected a JSON object, got an integer", false, 0},
	{F1E_CAR_DATA, "[" CD("") ",null]", "car_data: record 1: expected a JSON object, got null", false, 0},
	{F1E_CAR_DATA, "[" CD("") ",[]]", "car_data: record 1: expected a JSON object, got an array", false, 0},
	/* missing and null keys, null in notnull fields */
	{F1E_CAR_DATA, "{'session_key':9189,'driver_number':1}", "car_data: missing key field \"date\"", false, 0},
	{F1E_CAR_DATA, "{'session_key':9189,'driver_number':1,'date':null}",
	"car_data: missing key field \"date\"", false, 0},
	{F1E_CAR_DATA, "[" CD("") "," CD("") ",{'session_key':9189,'date':'2023-11-19T05:50:02Z'}]",
	"car_data: record 2: missing key field \"driver_number\"", false, 0},
	{F1E_LAPS, "{'session_key':null,'driver_number':1,'lap_number':1}",
	"laps: missing key field \"session_key\"", false, 0},
	{F1E_SESSIONS, "{'meeting_key':1}", "sessions: missing key field \"session_key\"", false, 0},
	{F1E_MEETINGS, "{'session_key':1}", "meetings: missing key field \"meeting_key\"", false, 0},
	{F1E_LOCATION, "{}", "location: missing key field \"session_key\"", false, 0},
	{F1E_POSITION, "{'session_key':9189,'driver_number':1,'date':'2023-11-19T05:50:02Z'}",
	"position: missing required field \"position\"", false, 0},
	{F1E_POSITION, "{'session_key':9189,'driver_number':1,'date':'2023-11-19T05:50:02Z','position':null}",
	"position: field \"position\": null not allowed", false, 0},
	{F1E_RACE_CONTROL, "{'session_key':9189,'date':'2023-11-19T05:57:18+00:00','message':'M'}",
	"race_control: missing required field \"category\"", false, 0},
	{F1E_RACE_CONTROL, "{'session_key':9189,'date':'2023-11-19T05:57:18+00:00','category':'Flag',"
		"'message':null}", "race_control: field \"message\": null not allowed", false, 0},
	{F1E_RACE_CONTROL, "{'session_key':null,'date':'2023-11-19T05:57:18+00:00','category':'Flag',"
		"'message':'M'}", "race_control: field \"session_key\": null not allowed", false, 0},
	{F1E_RACE_CONTROL, "{'session_key':9189,'date':null,'category':'Flag','message':'M'}",
	"race_control: field \"date\": null not allowed", false, 0},
	/* wrong JSON type, for every F1Type */
	{F1E_LAPS, LAP(",'i1_speed':'176'"), "laps: field \"i1_speed\": expected an integer, got a string", false, 0},
	{F1E_LAPS, "{'session_key':9189,'driver_number':1,'lap_number':'3'}",
	"laps: field \"lap_number\": expected an integer, got a string", false, 0},
	{F1E_LAPS, "[" LAP("") "," LAP("") "," LAP("") ",{'session_key':9189,'driver_number':1,'lap_number':1.0}]",
	"laps: record 3: field \"lap_number\": expected an integer, got a float", false, 0},
	{F1E_LAPS, LAP(",'st_speed':true"), "laps: field \"st_speed\": expected an integer, got a boolean", false, 0},
	{F1E_LAPS, LAP(",'st_speed':[1]"), "laps: field \"st_speed\": expected an integer, got an array", false, 0},
	{F1E_LAPS, LAP(",'st_speed':{}"), "laps: field \"st_speed\": expected an integer, got an object", false, 0},
	{F1E_LAPS, LAP(",'lap_duration':'95.5'"), "laps: field \"lap_duration\": expected a number, got a string", false, 0},
	{F1E_LAPS, LAP(",'lap_duration':false"), "laps: field \"lap_duration\": expected a number, got a boolean", false, 0},
	{F1E_LAPS, LAP(",'lap_duration':1e400"), "laps: field \"lap_duration\": not a finite number", false, 0},
	{F1E_LAPS, LAP(",'lap_duration':-1e999"), "laps: field \"lap_duration\": not a finite number", false, 0},
	{F1E_LAPS, LAP(",'lap_duration':Infinity"), "laps: field \"lap_duration\": not a finite number", false, 0},
	{F1E_LAPS, LAP(",'lap_duration':NaN"), "laps: *", false, 0},
	{F1E_LAPS, LAP(",'lap_duration':99999999999999999999"), "laps: field \"lap_duration\": integer out of range", false, 0},
	{F1E_LAPS, LAP(",'is_pit_out_lap':0"), "laps: field \"is_pit_out_lap\": expected a boolean, got an integer", false, 0},
	{F1E_LAPS, LAP(",'is_pit_out_lap':'false'"), "laps: field \"is_pit_out_lap\": expected a boolean, got a string", false, 0},
	{F1E_DRIVERS, DRV(",'full_name':44"), "drivers: field \"full_name\": expected a string, got an integer", false, 0},
	{F1E_DRIVERS, DRV(",'full_name':['Max']"), "drivers: field \"full_name\": expected a string, got an array", false, 0},
	{F1E_DRIVERS, DRV(",'full_name':true"), "drivers: field \"full_name\": expected a string, got a boolean", false, 0},
	{F1E_CAR_DATA, "{'session_key':9189,'driver_number':1,'date':1700373002}",
	"car_data: field \"date\": expected a date-time string, got an integer", false, 0},
	{F1E_CAR_DATA, "{'session_key':9189,'driver_number':1,'date':{}}",
	"car_data: field \"date\": expected a date-time string, got an object", false, 0},
	{F1E_LAPS, LAP(",'segments_sector_1':'2048'"),
	"laps: field \"segments_sector_1\": expected an array of integers, got a string", false, 0},
	{F1E_LAPS, LAP(",'segments_sector_1':{}"),
	"laps: field \"segments_sector_1\": expected an array of integers, got an object", false, 0},
	{F1E_LAPS, LAP(",'segments_sector_2':[2048,'2049']"),
	"laps: field \"segments_sector_2\" element 1: expected an integer or null, got a string", false, 0},
	{F1E_LAPS, LAP(",'segments_sector_2':[2048.0]"),
	"laps: field \"segments_sector_2\" element 0: expected an integer or null, got a float", false, 0},
	{F1E_LAPS, LAP(",'segments_sector_3':[[2048]]"),
	"laps: field \"segments_sector_3\" element 0: expected an integer or null, got an array", false, 0},
	/* out of range */
	{F1E_POSITION, "{'session_key':9189,'driver_number':1,'date':'2023-11-19T05:50:02Z','position':0}",
	"position: field \"position\": 0 out of range [1, 100]", false, 0},
	{F1E_POSITION, "{'session_key':9189,'driver_number':1,'date':'2023-11-19T05:50:02Z','position':101}",
	"position: field \"position\": 101 out of range [1, 100]", false, 0},
	{F1E_CAR_DATA, "{'session_key':9189,'driver_number':1000,'date':'2023-11-19T05:50:02Z'}",
	"car_data: field \"driver_number\": 1000 out of range [0, 999]", false, 0},
	{F1E_CAR_DATA, "{'session_key':0,'driver_number':1,'date':'2023-11-19T05:50:02Z'}",
	"car_data: field \"session_key\": 0 out of range [1, 2147483647]", false, 0},
	{F1E_CAR_DATA, CD(",'speed':-1"), "car_data: field \"speed\": -1 out of range [0, 1000]", false, 0},
	{F1E_CAR_DATA, CD(",'n_gear':256"), "car_data: field \"n_gear\": 256 out of range [0, 255]", false, 0},
	{F1E_CAR_DATA, CD(",'rpm':100001"), "car_data: field \"rpm\": 100001 out of range [0, 100000]", false, 0},
	{F1E_LOCATION, CD(",'x':2147483648"), "location: field \"x\": 2147483648 out of range [-2147483648, 2147483647]", false, 0},
	{F1E_LOCATION, CD(",'y':-2147483649"), "location: field \"y\": -2147483649 out of range [-2147483648, 2147483647]", false, 0},
	{F1E_SESSIONS, "{'session_key':9606,'year':1899}", "sessions: field \"year\": 1899 out of range [1900, 9999]", false, 0},
	{F1E_LAPS, LAP(",'segments_sector_1':[2048,null,65536]"),
	"laps: field \"segments_sector_1\" element 2: 65536 out of range [0, 65535]", false, 0},
	{F1E_LAPS, LAP(",'segments_sector_1':[-1]"),
	"laps: field \"segments_sector_1\" element 0: -1 out of range [0, 65535]", false, 0},
	/* integers beyond int64 */
	{F1E_LOCATION, CD(",'x':99999999999999999999"),
	"location: field \"x\": integer out of range [-2147483648, 2147483647]", false, 0},
	{F1E_LOCATION, CD(",'x':-99999999999999999999"),
	"location: field \"x\": integer out of range [-2147483648, 2147483647]", false, 0},
	{F1E_LOCATION, CD(",'x':18446744073709551616"),
	"location: field \"x\": integer out of range [-2147483648, 2147483647]", false, 0},
	{F1E_LOCATION, CD(",'x':9223372036854775808"),
	"location: field \"x\": integer out of range [-2147483648, 2147483647]", false, 0},
	{F1E_LAPS, LAP(",'segments_sector_1':[99999999999999999999999]"),
	"laps: field \"segments_sector_1\" element 0: integer out of range [0, 65535]", false, 0},
	/* text PostgreSQL cannot hold */
	{F1E_DRIVERS, DRV(",'full_name':'Max\\u0000'"),
	"drivers: field \"full_name\": text contains a NUL character (\\u0000)", false, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\\u0000\"}",
	"drivers: field \"full_name\": text contains a NUL character (\\u0000)", true, 0},
	/* invalid UTF-8, wherever it is: malformed, overlong, surrogates, > U+10FFFF */
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"P\xe9rez\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\xff\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\xc3\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\xc0\x80\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\xe0\x80\xaf\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"a\xed\xa0\x80z\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte 49", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\xf4\x90\x80\x80\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\xf5\x80\x80\x80\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\xe2\x82\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\xe2\x82",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"full_name\":\"\x80\"}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	{F1E_DRIVERS, "{\"session_key\":1,\"driver_number\":1,\"x\xff\":1}",
	"drivers: not valid JSON: invalid UTF-8 at byte *", true, 0},
	/* bad timestamps */
	{F1E_POSITION, POS("2023-13-19T05:50:02Z"), "position: field \"date\": invalid date-time \"2023-13-19T05:50:02Z\"", false, 0},
	{F1E_POSITION, POS("2023-00-19T05:50:02Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-02-30T05:50:02Z"), "position: field \"date\": invalid date-time \"2023-02-30T05:50:02Z\"", false, 0},
	{F1E_POSITION, POS("2023-02-29T05:50:02Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-04-31T05:50:02Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-00T05:50:02Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19T24:00:00Z"), "position: field \"date\": invalid date-time \"2023-11-19T24:00:00Z\"", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:60:02Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:50:60Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19"), "position: field \"date\": invalid date-time \"2023-11-19\"", false, 0},
	{F1E_POSITION, POS(""), "position: field \"date\": invalid date-time \"\"", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:50"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:50:02.Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:50:02+16:00"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:50:02+05:60"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:50:02+5"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:50:02+00:00x"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:50:02 UTC"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023/11/19T05:50:02Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("0000-01-01T00:00:00Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("+2023-11-19T05:50:02Z"), "position: field \"date\": invalid date-time *", false, 0},
	{F1E_POSITION, POS("2023-11-19T05:50:02.123456789012345678901234567890123456789012345Z-"),
	"position: field \"date\": invalid date-time \"2023-11-19T05:50:02.123456789012345678901234...\"", false, 0},
	{F1E_POSITION, "{\"session_key\":1,\"driver_number\":1,\"position\":1,\"date\":\"2023-11-19\\n05:50:02\"}",
	"position: field \"date\": invalid date-time \"2023-11-19?05:50:02\"", true, 0},
};

static void
test_rejections(void)
{
	for (size_t i = 0; i < sizeof(reject_cases) / sizeof(reject_cases[0]); i++)
	{
		const RejectCase *rc = &reject_cases[i];
		const char *json = rc->raw ? rc->json : J(rc->json);
		size_t		len = rc->len ? rc->len : strlen(json);
		const char *good = good_record(rc->ep);
		char		name[200];
		char		err[ERRLEN];
		F1Batch		b;
		int			nrows;
		size_t		poollen;
		size_t		rlen = strlen(rc->reason);

		snprintf(name, sizeof(name), "reject %s: %.120s", EP(rc->ep)->name, rc->json);
		begin_case(name);
		f1_batch_init(&b, EP(rc->ep));
		/* a row already in the batch must come through untouched */
		DECODE_OK(&b, good, 1);
		nrows = b.nrows;
		poollen = b.poollen;
		strcpy(err, "(none)");
		CHECK(f1_decode_message(&b, json, len, 1, 2, err, sizeof(err)) == -1);
		CHECK(b.nrows == nrows && b.poollen == poollen);
		if (rlen > 0 && rc->reason[rlen - 1] == '*')
			CHECKF(strncmp(err, rc->reason, rlen - 1) == 0, "reason: %s", err);
		else
			CHECKF(strcmp(err, rc->reason) == 0, "reason: %s\n    want: %s", err, rc->reason);
		CHECKF(strchr(err, '\n') == NULL, "reason is not one line");
		CHECK(b.src_offset[0] == 1000);
		f1_batch_free(&b);
		end_case();
	}

	begin_case("reject: NULL payload");
	{
		F1Batch		b;
		char		err[ERRLEN];

		f1_batch_init(&b, EP(F1E_SESSIONS));
		CHECK(f1_decode_message(&b, NULL, 10, 0, 0, err, sizeof(err)) == -1);
		CHECK(strcmp(err, "sessions: empty message") == 0);
		f1_batch_free(&b);
	}
	end_case();
}

/* ---- test: timestamps ---------------------------------------------------- */

static void
test_timestamps(void)
{
	/* values from PostgreSQL 15 with TimeZone UTC:
	 * extract(epoch from 'x'::timestamptz) * 1000000 - 946684800000000 */
	static const struct
	{
		const char *s;
		int64_t		ts;
	}			good[] = {
		{"2000-01-01T00:00:00Z", 0},
		{"2023-11-19T05:57:18+00:00", INT64_C(753688638000000)},
		{"2023-11-19T06:04:05.009000+00:00", INT64_C(753689045009000)},
		{"2023-11-19 06:04:05.009", INT64_C(753689045009000)},
		{"2023-11-19T06:04:05.009", INT64_C(753689045009000)},
		{"2024-09-22T12:03:57.136000+00:00", INT64_C(780321837136000)},
		{"2023-11-19T05:57:18+05:30", INT64_C(753668838000000)},
		{"2023-11-19T05:57:18-08:00", INT64_C(753717438000000)},
		{"2023-11-19T05:57:18+0530", INT64_C(753668838000000)},
		{"2023-11-19T05:57:18+05", INT64_C(753670638000000)},
		{"2023-11-19T05:57:18-00:30", INT64_C(753690438000000)},
		{"2023-11-19T05:57:18.5Z", INT64_C(753688638500000)},
		{"2023-11-19T05:57:18.5z", INT64_C(753688638500000)},
		{"2000-01-01T00:00:00.0000005Z", 0},
		{"2000-01-01T00:00:00.0000015Z", 2},
		{"2000-01-01T00:00:00.0000025Z", 2},
		{"2000-01-01T00:00:00.0000035Z", 4},
		{"2000-01-01T00:00:00.00000051Z", 1},
		{"2000-01-01T00:00:00.1234564999Z", 123456},
		{"2000-01-01T00:00:00.9999995Z", 1000000},
		{"1999-12-31T23:59:59.9999995Z", 0},
		{"2023-11-19T05:57:18.123456789+01:00", INT64_C(753685038123457)},
		{"0001-01-01T00:00:00Z", INT64_C(-63082281600000000)},
		{"9999-12-31T23:59:59.999999Z", INT64_C(252455615999999999)},
		{"2024-02-29T12:00:00Z", INT64_C(762523200000000)},
		{"2000-02-29T00:00:00Z", INT64_C(5097600000000)},
		{"1900-03-01T00:00:00Z", INT64_C(-3150576000000000)},
		{"1999-12-31T23:59:59.999999Z", -1},
		{"2023-11-19T23:59:59+15:59", INT64_C(753696059000000)},
		{"1970-01-01T00:00:00Z", INT64_C(-946684800000000)},
		{"2038-01-19T03:14:08Z", INT64_C(1200798848000000)},
	};
	static const char *bad[] = {
		"", "2023", "2023-11-19", "2023-11-19T", "2023-11-19T05:57",
		"2023-13-01T00:00:00Z", "2023-00-01T00:00:00Z", "2023-02-30T00:00:00Z",
		"2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2023-11-31T00:00:00Z",
		"2023-11-19T24:00:00Z", "2023-11-19T23:60:00Z", "2023-11-19T23:59:60Z",
		"2023-11-19T05:57:18.", "2023-11-19T05:57:18.Z", "2023-11-19T05:57:18+",
		"2023-11-19T05:57:18+1", "2023-11-19T05:57:18+16", "2023-11-19T05:57:18+05:3",
		"2023-11-19T05:57:18+05:60", "2023-11-19T05:57:18+05:30:00",
		"2023-11-19T05:57:18ZZ", "2023-11-19T05:57:18 ", " 2023-11-19T05:57:18",
		"2023-11-19t05:57:18", "2023-11-19T05:57:18.5.5", "0000-12-31T00:00:00Z",
		"2023-1-19T05:57:18Z", "2023-11-19T5:57:18Z", "20231119T055718Z",
		"2023-11-19T05:57:18-0", "abcd-ef-ghTij:kl:mn",
	};
	int64_t		ts;

	begin_case("timestamps: values PostgreSQL gives");
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
	{
		ts = INT64_MIN;
		CHECKF(f1_parse_timestamp(good[i].s, strlen(good[i].s), &ts) && ts == good[i].ts,
			   "%s: got %lld, want %lld", good[i].s, (long long) ts, (long long) good[i].ts);
	}
	end_case();

	begin_case("timestamps: rejected");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECKF(!f1_parse_timestamp(bad[i], strlen(bad[i]), &ts), "accepted \"%s\"", bad[i]);
	CHECK(!f1_parse_timestamp(NULL, 0, &ts));
	/* the length is honoured: no reading past it, no NUL needed */
	CHECK(!f1_parse_timestamp("2023-11-19T05:57:18Z", 18, &ts));
	CHECK(f1_parse_timestamp("2023-11-19T05:57:18Zxxx", 20, &ts) &&
		  ts == INT64_C(753688638000000));
	CHECK(!f1_parse_timestamp("2023-11-19T05:57:18\0Z", 21, &ts));
	end_case();
}

/* ---- test: every record of the recorded sessions --------------------------- */

static const struct
{
	const char *session;
	const char *file;
	F1EndpointId ep;
	int			records;		/* from the data's README */
	int			null_dates;		/* records rejected as missing "date" */
}			data_files[] = {
	{"9189", "laps.json", F1E_LAPS, 949, 0},
	{"9189", "position.json", F1E_POSITION, 548, 0},
	{"9189", "drivers.json", F1E_DRIVERS, 20, 0},
	{"9189", "race_control.json", F1E_RACE_CONTROL, 73, 0},
	{"9189", "sessions.json", F1E_SESSIONS, 1, 0},
	{"9189", "meetings.json", F1E_MEETINGS, 1, 0},
	{"9189", "car_data.json.gz", F1E_CAR_DATA, 488120, 0},
	{"9189", "location.json.gz", F1E_LOCATION, 74343, 0},
	{"9606", "laps.json", F1E_LAPS, 1179, 0},
	{"9606", "position.json", F1E_POSITION, 396, 0},
	{"9606", "drivers.json", F1E_DRIVERS, 20, 0},
	{"9606", "race_control.json", F1E_RACE_CONTROL, 61, 0},
	{"9606", "sessions.json", F1E_SESSIONS, 1, 0},
	{"9606", "meetings.json", F1E_MEETINGS, 1, 0},
	{"9606", "car_data.json.gz", F1E_CAR_DATA, 109017, 105},
	{"9606", "location.json.gz", F1E_LOCATION, 111273, 0},
};

static double
now_seconds(void)
{
	struct timespec t;

	/* CPU time: the machine may be busy with other work */
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void
test_recorded_data(void)
{
	const char *dir = getenv("F1TEL_DATA");
	char		defdir[4200];
	char		path[4400];

	if (dir == NULL || dir[0] == '\0')
	{
		snprintf(defdir, sizeof(defdir), "%s/test/data/openf1", repo_root);
		dir = defdir;
	}
	snprintf(path, sizeof(path), "%s/9189/laps.json", dir);
	if (access(path, R_OK) != 0)
	{
		/* the sessions ship with the repository: missing data is a failure */
		CHECKF(false, "no OpenF1 data in %s (F1TEL_DATA)", dir);
		return;
	}

	for (size_t f = 0; f < sizeof(data_files) / sizeof(data_files[0]); f++)
	{
		const F1Endpoint *ep = EP(data_files[f].ep);
		char		name[200];
		char	   *text;
		size_t		len,
					pos = 0,
					start,
					end;
		size_t	   *bounds = NULL;
		int			nbounds = 0;
		int			records = 0,
					accepted = 0,
					null_dates = 0,
					other = 0;
		F1Batch		b;
		char		err[ERRLEN];
		double		t0,
					t1;

		snprintf(name, sizeof(name), "data %s/%s: every record decodes",
				 data_files[f].session, data_files[f].file);
		begin_case(name);
		snprintf(path, sizeof(path), "%s/%s/%s", dir, data_files[f].session,
				 data_files[f].file);
		text = read_file(path, &len);
		if (!CHECKF(text != NULL, "cannot read %s", path))
		{
			end_case();
			continue;
		}
		f1_batch_init(&b, ep);

		/* where the records are, first, so that only decoding is timed */
		while (next_record(text, len, &pos, &start, &end))
		{
			if (records == nbounds)
			{
				size_t	   *nb;

				nbounds = nbounds ? 2 * nbounds : 1024;
				nb = realloc(bounds, sizeof(size_t) * 2 * nbounds);
				if (nb == NULL)
				{
					fprintf(stderr, "out of memory\n");
					exit(2);
				}
				bounds = nb;
			}
			bounds[2 * records] = start;
			bounds[2 * records + 1] = end;
			records++;
		}

		/* one message per record, as the feed sends them */
		t0 = now_seconds();
		for (int i = 0; i < records; i++)
		{
			int			rc;

			if (b.nrows >= 8192)
				f1_batch_reset(&b);
			rc = f1_decode_message(&b, text + bounds[2 * i],
								   bounds[2 * i + 1] - bounds[2 * i], 0, i,
								   err, sizeof(err));
			if (rc == 1)
				accepted++;
			else if (strcmp(err, "car_data: missing key field \"date\"") == 0)
				null_dates++;
			else if (other++ < 3)
				CHECKF(false, "record %d: rc %d: %s", i, rc, err);
		}
		t1 = now_seconds();
		free(bounds);
		CHECKF(records == data_files[f].records, "%d records, want %d",
			   records, data_files[f].records);
		CHECKF(accepted == records - data_files[f].null_dates, "%d of %d accepted",
			   accepted, records);
		CHECKF(null_dates == data_files[f].null_dates, "%d null dates, want %d",
			   null_dates, data_files[f].null_dates);
		CHECK(other == 0);
		if (strcmp(data_files[f].session, "9189") == 0 && data_files[f].ep == F1E_CAR_DATA)
			printf("speed: 9189 car_data: %d records in %.3f s CPU, %.0f records/s "
				   "(one message per record%s)\n", records, t1 - t0,
				   records / (t1 - t0),
#if defined(__SANITIZE_ADDRESS__)
				   ", ASan/UBSan build"
#else
				   ""
#endif
				);

		/* the whole file as one message, as the API returns it */
		if (len < 4 * 1024 * 1024)
		{
			int			rc;

			f1_batch_reset(&b);
			rc = f1_decode_message(&b, text, len, 0, 0, err, sizeof(err));
			if (data_files[f].null_dates == 0)
				CHECKF(rc == records && b.nrows == records,
					   "whole file: rc %d: %s", rc, rc < 0 ? err : "");
			else
				CHECK(rc == -1 && b.nrows == 0);
		}
		f1_batch_free(&b);
		free(text);
		end_case();
	}
}

/* ---- main ---------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	(void) argc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	find_repo_root(argv[0], "src/ingest/decode.h");

	test_endpoint_table();
	test_real_records();
	test_arrays_and_rollback();
	test_rejections();
	test_timestamps();
	test_recorded_data();

	return harness_report();
}
