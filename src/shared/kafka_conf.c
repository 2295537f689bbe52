/*
 * src/shared/kafka_conf.c — parse f1tel.kafka_config and hand it to librdkafka.
 *
 * See kafka_conf.h for the syntax.  Every rd_kafka_conf_set() result is
 * checked: a misspelt property is an error, never a silent default.
 *
 * Rules a reader must know:
 *  - Values never go into error messages (they may be passwords): our own
 *    messages name the property only, and librdkafka's reason is copied with
 *    every quoted part other than the property's name, and every occurrence
 *    of the value, blanked out.
 *  - In f1tel.kafka_config a comma ends a value unless escaped, so the
 *    "name" of a later entry may be the tail of a value: such a name is
 *    shown only when librdkafka knows it as a property (a real name is no
 *    secret); the first entry's name is always shown.
 *  - Secret properties (secret[]) are refused in f1tel.kafka_config, whose
 *    value members of pg_read_all_settings can read and PostgreSQL logs at
 *    reload; they belong in f1tel.kafka_config_file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/kafka_conf.h"

/* Properties f1tel owns: changing them would break exactly-once delivery. */
static const char *const reserved[] = {
	"bootstrap.servers",		/* f1tel.brokers */
	"metadata.broker.list",		/* alias of bootstrap.servers */
	"group.id",					/* f1tel.group_id */
	"enable.auto.commit",		/* the offsets table is the truth */
	"enable.auto.offset.store",
	"auto.offset.reset",		/* "error": data lost to retention is reported */
	"log.queue",				/* logs are served on the worker's main thread */
	"enable.partition.eof",
	"group.instance.id",		/* one per ingest worker: src/ingest/consumer.c */
	NULL
};

/*
 * Properties whose value is a secret (librdkafka 2.0.2 marks all but the
 * OAUTHBEARER client secret as sensitive; ssl.key.location, ssl.ca.pem and
 * sasl.username it marks too, but they name files or hold no secret).
 */
static const char *const secret[] = {
	"sasl.password",
	"sasl.oauthbearer.client.secret",
	"sasl.oauthbearer.config",	/* the unsecured JWT's claims, or a token */
	"ssl.key.password",
	"ssl.key.pem",				/* the private key itself */
	"ssl.keystore.password",
	NULL
};

bool
f1_kafka_conf_is_secret(const char *name)
{
	for (int i = 0; secret[i] != NULL; i++)
		if (strcmp(name, secret[i]) == 0)
			return true;
	return false;
}

/*
 * librdkafka's reason with the value taken out: each "quoted" part other
 * than "name" becomes "...", and so does each remaining occurrence of the
 * value (of 2 bytes or more: a shorter one is no secret and would blank out
 * digits of a range).
 */
static void
clean_reason(const char *rderr, const char *name, const char *value,
			 char *out, size_t outlen)
{
	size_t		n = 0;
	size_t		namelen = strlen(name);
	size_t		vlen = value ? strlen(value) : 0;
	const char *p = rderr;

	if (outlen == 0)
		return;
	while (*p != '\0' && n + 1 < outlen)
	{
		const char *put = NULL;
		size_t		putlen = 0;
		size_t		skip = 1;

		if (*p == '"')
		{
			const char *close = strchr(p + 1, '"');
			size_t		inner = close ? (size_t) (close - p - 1) : strlen(p + 1);

			if (close != NULL && inner == namelen && strncmp(p + 1, name, namelen) == 0)
				put = p, putlen = skip = inner + 2;
			else
				put = "\"...\"", putlen = 5, skip = inner + 1 + (close != NULL);
		}
		else if (vlen >= 2 && strncmp(p, value, vlen) == 0)
			put = "...", putlen = 3, skip = vlen;
		else
			put = p, putlen = 1;
		if (n + putlen >= outlen)
			break;
		memcpy(out + n, put, putlen);
		n += putlen;
		p += skip;
	}
	out[n] = '\0';
	/* librdkafka ends some reasons with a newline */
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
}

/*
 * Set one property.  show_name: whether name may appear in a message even
 * when librdkafka does not know it (false for what may be a value's tail).
 */
static bool
conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, bool show_name,
		 char *errbuf, size_t errlen)
{
	char		rderr[512];
	char		reason[512];
	rd_kafka_conf_res_t res;

	if (conf == NULL)
		return true;
	rderr[0] = '\0';
	res = rd_kafka_conf_set(conf, name, value, rderr, sizeof(rderr));
	if (res == RD_KAFKA_CONF_OK)
		return true;
	if (res == RD_KAFKA_CONF_UNKNOWN && !show_name)
	{
		snprintf(errbuf, errlen,
				 "librdkafka has no such property (its name is not shown: it may be the end of the previous value, cut at an unescaped comma)");
		return false;
	}
	clean_reason(rderr, name, value, reason, sizeof(reason));
	if (res == RD_KAFKA_CONF_INVALID && strncmp(rderr, "Invalid value \"", 15) == 0)
		snprintf(errbuf, errlen, "librdkafka refused the value of property \"%s\"", name);
	else
		snprintf(errbuf, errlen, "librdkafka refused property \"%s\": %s", name, reason);
	explicit_bzero(rderr, sizeof(rderr));	/* it may quote the value */
	return false;
}

bool
f1_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
				  char *errbuf, size_t errlen)
{
	return conf_set(conf, name, value, true, errbuf, errlen);
}

/* Copy one token up to an unescaped stop character, unescaping; trims blanks. */
static const char *
read_token(const char *p, const char *stops, char *out, size_t outlen, bool *overflow)
{
	size_t		n = 0;
	size_t		last_nonblank = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	while (*p != '\0' && strchr(stops, *p) == NULL)
	{
		char		c = *p++;
		bool		escaped = false;

		if (c == '\\' && *p != '\0')
		{
			c = *p++;
			escaped = true;
		}
		if (n + 1 >= outlen)
		{
			*overflow = true;
			return p;
		}
		out[n++] = c;
		if (escaped || (c != ' ' && c != '\t' && c != '\r'))
			last_nonblank = n;
	}
	out[last_nonblank] = '\0';
	return p;
}

static bool
is_reserved(const char *name, char *errbuf, size_t errlen)
{
	for (int i = 0; reserved[i] != NULL; i++)
		if (strcmp(name, reserved[i]) == 0)
		{
			snprintf(errbuf, errlen,
					 "property \"%s\" is set by f1tel itself and cannot be changed here", name);
			return true;
		}
	return false;
}

bool
f1_kafka_conf_apply_file(rd_kafka_conf_t *conf, const char *path,
						 char *errbuf, size_t errlen)
{
	FILE	   *f;
	char		line[4096];
	char		iobuf[8192];	/* stdio's buffer: ours, to wipe */
	int			lineno = 0;
	bool		ok = true;

	if (path == NULL || path[0] == '\0')
		return true;
	f = fopen(path, "r");
	if (f == NULL)
	{
		snprintf(errbuf, errlen, "could not open \"%s\": %s", path, strerror(errno));
		return false;
	}
	if (setvbuf(f, iobuf, _IOFBF, sizeof(iobuf)) != 0)
	{
		snprintf(errbuf, errlen, "could not read \"%s\"", path);
		fclose(f);
		return false;
	}
	while (ok && fgets(line, sizeof(line), f) != NULL)
	{
		char	   *name = line;
		char	   *eq;
		char	   *end;
		size_t		len = strlen(line);

		lineno++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n')
		{
			snprintf(errbuf, errlen, "%s line %d: line too long", path, lineno);
			ok = false;
			break;
		}
		while (*name == ' ' || *name == '\t')
			name++;
		end = name + strlen(name);
		while (end > name && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*name == '\0' || *name == '#')
			continue;
		eq = strchr(name, '=');
		if (eq == NULL || eq == name)
		{
			snprintf(errbuf, errlen, "%s line %d: expected name=value", path, lineno);
			ok = false;
			break;
		}
		end = eq;
		while (end > name && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*end = '\0';
		eq++;
		while (*eq == ' ' || *eq == '\t')
			eq++;
		if (is_reserved(name, errbuf, errlen) ||
			!f1_kafka_conf_set(conf, name, eq, errbuf, errlen))
		{
			/* say where, keep librdkafka's reason */
			char		reason[512];

			snprintf(reason, sizeof(reason), "%s", errbuf);
			snprintf(errbuf, errlen, "%s line %d: %s", path, lineno, reason);
			ok = false;
		}
	}
	fclose(f);
	/* the values may be passwords */
	explicit_bzero(line, sizeof(line));
	explicit_bzero(iobuf, sizeof(iobuf));
	return ok;
}

bool
f1_kafka_conf_apply(rd_kafka_conf_t *conf, const char *spec,
					char *errbuf, size_t errlen)
{
	const char *p = spec ? spec : "";
	int			pairno = 0;

	char		prev[256];		/* the last property set, for messages */
	bool		ok = true;

	prev[0] = '\0';
	while (ok && *p != '\0')
	{
		char		name[256];
		char		value[4096];
		char		where[320];
		bool		overflow = false;

		p = read_token(p, "=,\n", name, sizeof(name), &overflow);
		pairno++;
		/* where an entry is, without its name (which may be a value's tail) */
		if (prev[0] != '\0')
			snprintf(where, sizeof(where), "entry %d (after property \"%s\")", pairno, prev);
		else
			snprintf(where, sizeof(where), "entry %d", pairno);
		if (overflow)
		{
			snprintf(errbuf, errlen, "%s: property name too long", where);
			ok = false;
			break;
		}
		if (*p != '=')
		{
			if (name[0] == '\0')
			{
				/* empty entry, e.g. a trailing comma or blank line */
				if (*p != '\0')
					p++;
				continue;
			}
			snprintf(errbuf, errlen, "%s: expected name=value%s", where,
					 pairno > 1 ? " (a comma inside a value must be escaped with a backslash)" : "");
			ok = false;
			break;
		}
		p++;					/* skip '=' */
		if (name[0] == '\0')
		{
			snprintf(errbuf, errlen, "%s: empty property name", where);
			ok = false;
			break;
		}
		p = read_token(p, ",\n", value, sizeof(value), &overflow);
		if (overflow)
		{
			snprintf(errbuf, errlen, "%s: value too long (at most %zu bytes)", where,
					 sizeof(value) - 1);
			ok = false;
		}
		else if (*p != '\0')
			p++;				/* skip separator */

		if (!ok || is_reserved(name, errbuf, errlen))
			ok = false;
		else if (f1_kafka_conf_is_secret(name))
		{
			snprintf(errbuf, errlen,
					 "property \"%s\" holds a secret: set it in the file named by f1tel.kafka_config_file, not in f1tel.kafka_config (whose value PostgreSQL logs at reload and shows to pg_read_all_settings)",
					 name);
			ok = false;
		}
		else if (!conf_set(conf, name, value, pairno == 1, errbuf, errlen))
		{
			if (pairno > 1)
			{
				char		reason[512];

				snprintf(reason, sizeof(reason), "%s", errbuf);
				snprintf(errbuf, errlen, "%s: %s", where, reason);
			}
			ok = false;
		}
		else
			snprintf(prev, sizeof(prev), "%s", name);
		explicit_bzero(value, sizeof(value));
		explicit_bzero(name, sizeof(name));
	}
	return ok;
}
