/* Unit tests of the REST client's pure parts (operator/kube/client): retry rules, errors. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <string.h>

#include "kube/client.h"

static void retries_only_what_can_pass_and_not_twice(void **state)
{
	(void)state;
	/* Refused connections: nothing was sent, any method. */
	assert_true(kube_should_retry("POST", NULL, CURLE_COULDNT_CONNECT, 0));
	/* 429: the server did not do it. */
	assert_true(kube_should_retry("POST", NULL, CURLE_OK, 429));
	assert_true(kube_should_retry("PATCH", "application/json-patch+json", CURLE_OK, 429));
	/* 5xx: only when repeating cannot do the work twice. */
	assert_true(kube_should_retry("GET", NULL, CURLE_OK, 503));
	assert_true(kube_should_retry("PUT", NULL, CURLE_OK, 500));
	assert_true(kube_should_retry("PATCH", "application/merge-patch+json", CURLE_OK, 504));
	assert_false(kube_should_retry("POST", NULL, CURLE_OK, 503));
	assert_false(kube_should_retry("PATCH", "application/json-patch+json", CURLE_OK, 500));
	/* Lost or slow answers, the same way. */
	assert_true(kube_should_retry("GET", NULL, CURLE_OPERATION_TIMEDOUT, 0));
	assert_true(kube_should_retry("DELETE", NULL, CURLE_RECV_ERROR, 0));
	assert_false(kube_should_retry("POST", NULL, CURLE_GOT_NOTHING, 0));
	/* Client errors and TLS never pass by themselves. */
	assert_false(kube_should_retry("GET", NULL, CURLE_OK, 404));
	assert_false(kube_should_retry("GET", NULL, CURLE_OK, 409));
	assert_false(kube_should_retry("GET", NULL, CURLE_PEER_FAILED_VERIFICATION, 0));
	assert_false(kube_should_retry("GET", NULL, CURLE_COULDNT_RESOLVE_HOST, 0));
}

static void status_bodies_become_errors(void **state)
{
	struct fs_err err;
	const char *body =
	    "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"configmaps \\\"x\\\" "
	    "not found\",\"reason\":\"NotFound\",\"code\":404}";

	(void)state;
	assert_int_equal(kube_status_error(&err, 404, body, "GET /api/v1/x"), FS_ENOTFOUND);
	assert_string_equal(err.msg, "GET /api/v1/x: 404 NotFound: configmaps \"x\" not found");
	assert_int_equal(err.http_status, 404);
	assert_int_equal(kube_status_error(&err, 409, "{}", "PUT p"), FS_ECONFLICT);
	assert_int_equal(kube_status_error(&err, 410, NULL, "WATCH p"), FS_EGONE);
	assert_int_equal(kube_status_error(&err, 403, "{}", "GET p"), FS_EAUTH);
	assert_int_equal(kube_status_error(&err, 401, "{}", "GET p"), FS_EAUTH);
	assert_int_equal(kube_status_error(&err, 500, "<html>oops</html>", "GET p"), FS_EHTTP);
	assert_string_equal(err.msg, "GET p: HTTP 500: <html>oops</html>");
}

static void verbs_are_counted_as_kubernetes_does(void **state)
{
	(void)state;
	assert_string_equal(kube_request_verb("GET", "/api/v1/pods"), "LIST");
	assert_string_equal(kube_request_verb("GET", "/api/v1/namespaces"), "LIST");
	assert_string_equal(kube_request_verb("GET", "/api/v1/namespaces/ns"), "GET");
	assert_string_equal(kube_request_verb("GET", "/api/v1/namespaces/ns/configmaps?limit=500"),
	                    "LIST");
	assert_string_equal(kube_request_verb("GET", "/api/v1/namespaces/ns/configmaps/x"), "GET");
	assert_string_equal(kube_request_verb("GET", "/api/v1/nodes/n1"), "GET");
	assert_string_equal(
	    kube_request_verb("GET", "/apis/apps/v1/namespaces/ns/deployments/web/scale"), "GET");
	assert_string_equal(kube_request_verb("GET", "/apis/autoscaling.foresight.dev/v1alpha1/"
	                                             "forecastscalers"),
	                    "LIST");
	assert_string_equal(kube_request_verb("GET", "/apis/apps/v1"), "GET");
	assert_string_equal(kube_request_verb("GET", "/version"), "GET");
	assert_string_equal(kube_request_verb("PATCH", "/api/v1/namespaces/ns/pods/p/status"),
	                    "PATCH");
	assert_string_equal(kube_request_verb("OPTIONS", "/"), "other");
}

static void watch_lines_decode_or_fail_cleanly(void **state)
{
	static const char *const bad[] = {
	    "not json",
	    "{\"type\": null, \"object\": {}}",
	    "{\"type\": 7, \"object\": {}}",
	    "{\"type\": \"ADDED\", \"object\": [1]}",
	    "{\"type\": \"ADDED\"}",
	    "{\"type\": \"ADDED\", \"object\": {}} trailing",
	    "[1, 2]",
	};
	const char *good = "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\r ";
	json_object *event, *object;
	const char *type;
	struct fs_err err;

	(void)state;
	assert_int_equal(
	    kube_watch_event_decode(&event, &type, &object, good, strlen(good), "w", &err), FS_OK);
	assert_string_equal(type, "MODIFIED");
	assert_true(json_object_is_type(object, json_type_object));
	json_object_put(event);
	assert_int_equal(kube_watch_event_decode(&event, &type, &object, "\r", 1, "w", &err),
	                 FS_OK);
	assert_null(event);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(kube_watch_event_decode(&event, &type, &object, bad[i],
		                                         strlen(bad[i]), "watch of x", &err),
		                 FS_EPARSE);
		assert_null(event);
		assert_string_equal(err.msg, "watch of x: malformed watch event");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(retries_only_what_can_pass_and_not_twice),
	    cmocka_unit_test(status_bodies_become_errors),
	    cmocka_unit_test(verbs_are_counted_as_kubernetes_does),
	    cmocka_unit_test(watch_lines_decode_or_fail_cleanly),
	};

	return cmocka_run_group_tests_name("kube_client", tests, NULL, NULL);
}
