/* log: see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int log_max_level = LOG_INFO;
static int log_rank, log_nranks = 1;

void log_init(int rank, int nranks)
{
	log_rank = rank;
	log_nranks = nranks;
}

int log_parse_level(const char *s)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

void log_write(enum log_level lvl, const char *fmt, ...)
{
	static const char *tag[] = {"error", "warn", "info", "debug"};
	if (lvl >= LOG_INFO && log_rank != 0)
		return;
	char when[32];
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(when, sizeof when, "%H:%M:%S", &tm);
	char line[4096];
	int n = snprintf(line, sizeof line, "%s %s ", when, tag[lvl]);
	if (log_nranks > 1 && lvl <= LOG_WARN)
		n += snprintf(line + n, sizeof line - (size_t)n, "[rank %d] ", log_rank);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	/* one write per line so ranks sharing a file do not interleave mid-line */
	fprintf(stderr, "%s\n", line);
}
