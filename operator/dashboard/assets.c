#include "dashboard/assets.h"

/* Defined in $(BUILD)/gen/embed/operator/dashboard/assets/NAME.c by the Makefile. */
extern const char embed_operator_dashboard_assets_index_html[];
extern const size_t embed_operator_dashboard_assets_index_html_len;
extern const char embed_operator_dashboard_assets_dashboard_js[];
extern const size_t embed_operator_dashboard_assets_dashboard_js_len;
extern const char embed_operator_dashboard_assets_dashboard_css[];
extern const size_t embed_operator_dashboard_assets_dashboard_css_len;

const struct dash_asset dash_assets[] = {
    {"/", "text/html; charset=utf-8", embed_operator_dashboard_assets_index_html,
     &embed_operator_dashboard_assets_index_html_len},
    {"/dashboard.js", "text/javascript; charset=utf-8",
     embed_operator_dashboard_assets_dashboard_js,
     &embed_operator_dashboard_assets_dashboard_js_len},
    {"/dashboard.css", "text/css; charset=utf-8", embed_operator_dashboard_assets_dashboard_css,
     &embed_operator_dashboard_assets_dashboard_css_len},
};

const size_t dash_n_assets = sizeof(dash_assets) / sizeof(dash_assets[0]);
