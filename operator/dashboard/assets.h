#ifndef FORESIGHT_DASHBOARD_ASSETS_H
#define FORESIGHT_DASHBOARD_ASSETS_H

/*
 * The dashboard's page, script and styles (operator/dashboard/assets/),
 * compiled into the binary by the Makefile's embed rule: the operator
 * serves them with no file on disk and no external asset.
 *
 *	for (size_t i = 0; i < dash_n_assets; i++)
 *		route(dash_assets[i].path, dash_assets[i].type, dash_assets[i].data,
 *		      *dash_assets[i].len);
 */

#include <stddef.h>

struct dash_asset {
	const char *path; /* as served: "/", "/dashboard.js" */
	const char *type; /* Content-Type */
	const char *data; /* NUL-terminated */
	const size_t *len;
};

extern const struct dash_asset dash_assets[];
extern const size_t dash_n_assets;

#endif
