/*
 * log.h - one line per event on stderr: time, level, pid, function.
 * The level is set once at start-up, before any fork or thread.
 */
#ifndef LOG_H
#define LOG_H

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

void	log_set_level(int);
void	log_msg(int level, const char *func, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Adapter for struct store_opts.log. */
void	log_store(int level, const char *func, const char *msg);

#define log_error(...)	log_msg(LOG_ERROR, __func__, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __func__, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __func__, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __func__, __VA_ARGS__)

#endif
