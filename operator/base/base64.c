#include "base/base64.h"

#include <stdlib.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int sextet(char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(alphabet, c);
	return p ? (int)(p - alphabet) : -1;
}

enum fs_rc b64_decode(char **out, size_t *out_len, const char *in, struct fs_err *err)
{
	size_t n = strlen(in), len = 0;
	unsigned int acc = 0;
	int bits = 0;
	char *data = malloc(n / 4 * 3 + 4);
	size_t pad = 0;

	if (!data)
		return fs_fail(err, FS_ENOMEM, "out of memory decoding base64");
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		v = sextet(c);
		if (v < 0 || pad) {
			free(data);
			return fs_fail(err, FS_EPARSE, "invalid base64 at offset %zu", i);
		}
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			data[len++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (pad > 2 || bits >= 6) {
		free(data);
		return fs_fail(err, FS_EPARSE, "invalid base64: truncated input");
	}
	data[len] = '\0';
	*out = data;
	*out_len = len;
	return FS_OK;
}

char *b64_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = malloc((len + 2) / 3 * 4 + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned int v = (unsigned int)p[i] << 16;

		if (i + 1 < len)
			v |= (unsigned int)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}
