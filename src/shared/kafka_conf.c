/*
 * src/shared/kafka_conf.c — parse f1tel.kafka_config and hand it to librdkafka.
 *
 * See kafka_conf.h for the syntax.  Every rd_kafka_conf_set() result is
 * checked: a misspelt property is an error, never a silent default.  Values
 * are never copied into error messages (they may be passwords).
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
	NULL
};

bool
f1_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
				  char *errbuf, size_t errlen)
{
	char		rderr[512];

	if (conf == NULL)
		return true;
	if (rd_kafka_conf_set(conf, name, value, rderr, sizeof(rderr)) != RD_KAFKA_CONF_OK)
	{
		/* librdkafka's message may quote the value: keep only its first part. */
		char	   *quote = strchr(rderr, '"');

		if (quote != NULL && strstr(rderr, "Invalid value") == rderr)
			snprintf(errbuf, errlen, "librdkafka refused the value of property \"%s\"", name);
		else
			snprintf(errbuf, errlen, "librdkafka refused property \"%s\": %s", name, rderr);
		return false;
	}
	return true;
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
	return ok;
}

bool
f1_kafka_conf_apply(rd_kafka_conf_t *conf, const char *spec,
					char *errbuf, size_t errlen)
{
	const char *p = spec ? spec : "";
	int			pairno = 0;

	while (*p != '\0')
	{
		char		name[256];
		char		value[4096];
		bool		overflow = false;

		p = read_token(p, "=,\n", name, sizeof(name), &overflow);
		pairno++;
		if (overflow)
		{
			snprintf(errbuf, errlen, "entry %d: property name too long", pairno);
			return false;
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
			snprintf(errbuf, errlen, "entry %d (\"%s\"): expected name=value", pairno, name);
			return false;
		}
		p++;					/* skip '=' */
		if (name[0] == '\0')
		{
			snprintf(errbuf, errlen, "entry %d: empty property name", pairno);
			return false;
		}
		p = read_token(p, ",\n", value, sizeof(value), &overflow);
		if (overflow)
		{
			snprintf(errbuf, errlen, "property \"%s\": value too long", name);
			return false;
		}
		if (*p != '\0')
			p++;				/* skip separator */

		if (is_reserved(name, errbuf, errlen))
			return false;
		if (!f1_kafka_conf_set(conf, name, value, errbuf, errlen))
			return false;
	}
	return true;
}
