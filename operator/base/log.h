#ifndef FORESIGHT_BASE_LOG_H
#define FORESIGHT_BASE_LOG_H

/*
 * Leveled logging to stderr, as text (`2026-11-22T11:04:00.123Z info msg`)
 * or as one JSON object per line (`{"ts":...,"level":"info","msg":...}`),
 * chosen once at start-up. Safe to call from any thread: each line is
 * written whole.
 *
 * Never log a token, key or credential: messages are for people and land in
 * shared log systems.
 */

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_TEXT, LOG_JSON };

/* Sets the lowest level printed and the line format. Defaults: info, text. */
void log_setup(enum log_level level, enum log_format format);

/* Parses "debug", "info", "warn" or "error". Returns false for anything else. */
bool log_level_parse(enum log_level *out, const char *name);

/* Parses "text" or "json". Returns false for anything else. */
bool log_format_parse(enum log_format *out, const char *name);

/* True when a message at `level` would be printed (to skip costly formatting). */
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
