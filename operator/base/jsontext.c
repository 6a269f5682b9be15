#include "base/jsontext.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

static pthread_key_t kept_key;
static pthread_once_t kept_once = PTHREAD_ONCE_INIT;
static bool kept_ok;

static void tokener_free(void *tok)
{
	json_tokener_free(tok);
}

static void kept_key_make(void)
{
	kept_ok = pthread_key_create(&kept_key, tokener_free) == 0;
}

/* The calling thread's tokener, made on first use; NULL when out of memory. */
static json_tokener *thread_tokener(void)
{
	json_tokener *tok;

	pthread_once(&kept_once, kept_key_make);
	if (!kept_ok)
		return NULL;
	tok = pthread_getspecific(kept_key);
	if (tok)
		return tok;
	tok = json_tokener_new();
	if (tok && pthread_setspecific(kept_key, tok) != 0) {
		json_tokener_free(tok);
		tok = NULL;
	}
	return tok;
}

enum fs_rc jsontext_parse(json_object **out, size_t *end, enum json_tokener_error *error,
                          const char *text, size_t len)
{
	json_tokener *tok;

	*out = NULL;
	*error = json_tokener_success;
	if (end)
		*end = 0;
	if (len > INT_MAX) {
		*error = json_tokener_error_size;
		return FS_EPARSE;
	}
	if (!(tok = thread_tokener()))
		return FS_ENOMEM;
	json_tokener_reset(tok);
	*out = json_tokener_parse_ex(tok, text, (int)len);
	*error = json_tokener_get_error(tok);
	if (end)
		*end = json_tokener_get_parse_end(tok);
	/* Its string buffer grew to the longest string in the text: not kept past the cap. */
	if (len > JSONTEXT_KEEP_MAX) {
		pthread_setspecific(kept_key, NULL);
		json_tokener_free(tok);
	}
	if (*error != json_tokener_success) {
		json_object_put(*out);
		*out = NULL;
		return FS_EPARSE;
	}
	return FS_OK;
}

json_object *jsontext_parse_str(const char *text)
{
	enum json_tokener_error jerr;
	json_object *v = NULL;

	/* The terminator too, as json_tokener_parse: it ends a bare number at the top. */
	if (text)
		jsontext_parse(&v, NULL, &jerr, text, strlen(text) + 1);
	return v;
}
