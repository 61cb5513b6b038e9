/* log: one macro per level that checks the level before formatting. Every line carries the
 * rank when there is more than one; info and debug lines are written by rank 0 only, warnings
 * and errors by every rank, so a log stays readable at a thousand ranks. */
#ifndef CURATE_LOG_H
#define CURATE_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern int log_max_level; /* lines above it are skipped before formatting */

void log_init(int rank, int nranks); /* after MPI is up */
int log_parse_level(const char *s);  /* -1 if unknown */
void log_write(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG(lvl, ...)                                                                      \
	do {                                                                               \
		if ((int)(lvl) <= log_max_level)                                           \
			log_write((lvl), __VA_ARGS__);                                     \
	} while (0)
#define log_error(...) LOG(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) LOG(LOG_WARN, __VA_ARGS__)
#define log_info(...) LOG(LOG_INFO, __VA_ARGS__)
#define log_debug(...) LOG(LOG_DEBUG, __VA_ARGS__)

#endif
