/* Body validation with jansson. Messages name the field so clients can point at it. */
#include "worker/wk_json.h"

#include <stdint.h>
#include <string.h>

#include "worker/wk_reply.h"

json_t *wk_json_object(const proto_request_t *req, const char *const *allowed, proto_reply_t *rep)
{
    json_error_t err;
    json_t *obj =
        req->body_len ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &err) : NULL;
    if (!obj) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "body is not valid JSON%s%s",
                       req->body_len ? ": " : "", req->body_len ? err.text : "");
        return NULL;
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "body must be a JSON object");
        return NULL;
    }
    const char *key;
    json_t *value;
    json_object_foreach (obj, key, value) {
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++)
            known = strcmp(*a, key) == 0;
        if (!known) {
            wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "unknown field \"%.64s\"", key);
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

/* Counts code points of a string, or returns SIZE_MAX if it holds a control character. */
static size_t s_chars(const char *s, size_t len)
{
    size_t chars = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return SIZE_MAX;
        chars += (c & 0xc0) != 0x80; /* count UTF-8 lead bytes only */
    }
    return chars;
}

int wk_json_check_text(const json_t *v, size_t min, size_t max)
{
    if (!json_is_string(v))
        return -1;
    size_t chars = s_chars(json_string_value(v), json_string_length(v));
    return chars != SIZE_MAX && chars >= min && chars <= max ? 0 : -1;
}

int wk_json_string(json_t *obj, const char *key, bool required, size_t min, size_t max,
                   const char **out, proto_reply_t *rep)
{
    *out = NULL;
    json_t *v = json_object_get(obj, key);
    if (!v && !required)
        return 0;
    if (!v || !json_is_string(v)) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "\"%s\" must be a string", key);
        return -1;
    }
    const char *s = json_string_value(v);
    size_t chars = s_chars(s, json_string_length(v));
    if (chars == SIZE_MAX) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "\"%s\" contains a control character", key);
        return -1;
    }
    if (chars < min || chars > max) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "\"%s\" must be %zu to %zu characters", key,
                       min, max);
        return -1;
    }
    *out = s;
    return 0;
}

int wk_json_email(json_t *obj, const char *key, const char **out, proto_reply_t *rep)
{
    if (wk_json_string(obj, key, true, 3, 254, out, rep) < 0)
        return -1;
    const char *s = *out, *at = strchr(s, '@');
    bool ok = at && at != s && !strchr(at + 1, '@') && strchr(at + 1, '.') && at[1] != '.' &&
              s[strlen(s) - 1] != '.' && !strpbrk(s, " \t\"<>(),;:\\[]");
    if (!ok) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "\"%s\" is not an email address", key);
        return -1;
    }
    return 0;
}
