/* Quiz handlers. A quiz's JSON with its questions is stored in its row, rendered by a trigger
 * whenever the quiz changes (sql/shared/008_quiz_documents.sql): the author's view, and the
 * member's view without answers for callers who are neither author nor admin. A read is one
 * lookup of the stored text. The views have ETags of their own ("N" and "N-m", N the version),
 * and a GET naming the current one in If-None-Match is answered 304 without a body. */
#include "worker/wk_quiz.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ident.h"
#include "common/mem.h"
#include "worker/wk_coherence.h"
#include "worker/wk_idem.h"
#include "worker/wk_json.h"
#include "worker/wk_page.h"
#include "worker/wk_read.h"
#include "worker/wk_reply.h"

/* The quiz as the caller may see it ($1 quiz, $2 admin, $3 user), with the columns above. */
/* clang-format off */
#define QUIZ_VIEW_SQL(logs)                                                                     \
    "SELECT CASE WHEN f.author_view THEN doc_full ELSE doc_member END, version, f.author_view," \
    " author_id," WK_CACHE_COLUMNS(logs) " FROM quizzes,"                                    \
    " LATERAL (SELECT $2::boolean OR coalesce(author_id = $3::uuid, false) AS author_view) f"   \
    " WHERE id = $1"
/* clang-format on */

/* A page of the quiz list ($1-$3 the page, $4 author, $5 title words), with the columns above
 * as 3 and 4. Keyset on (created_at, id) DESC: quizzes_listing_idx, or quizzes_author_idx with
 * an author; title words use quizzes_title_search_idx. */
/* clang-format off */
#define QUIZ_LIST_SQL(logs)                                                       \
    "SELECT q.doc_summary," WK_PAGE_KEYS("q.created_at", "q.id") ","              \
    WK_CACHE_COLUMNS(logs)                                                     \
    " FROM quizzes q WHERE ($4::uuid IS NULL OR q.author_id = $4::uuid)"          \
    " AND ($5::text IS NULL OR"                                                   \
    "  to_tsvector('simple', q.title) @@ plainto_tsquery('simple', $5))"          \
    " AND" WK_PAGE_AFTER("q.created_at", "q.id", "uuid")                          \
    WK_PAGE_ORDER("q.created_at", "q.id")
/* clang-format on */

/* Text forms of the caller for query parameters: user id and "true"/"false" for admin. */
typedef struct {
    char user[IDENT_UUID_STR_LEN + 1];
    char quiz[IDENT_UUID_STR_LEN + 1];
    const char *admin;
} caller_t;

static void s_caller(const proto_request_t *req, caller_t *c)
{
    ident_uuid_format(req->user_id, c->user);
    if (req->nparams > 0)
        ident_uuid_format(req->params[0], c->quiz);
    else
        c->quiz[0] = '\0';
    c->admin = req->role == PROTO_ROLE_ADMIN ? "true" : "false";
}

/* The ETag of version N of a quiz: "N" for the author's view, "N-m" for the member's. */
static void s_tag(const char *version, bool full, char tag[32])
{
    snprintf(tag, 32, "\"%.20s%s\"", version, full ? "" : "-m");
}

static void s_etag(proto_reply_t *rep, const char *version, bool full)
{
    char tag[32];
    s_tag(version, full, tag);
    proto_reply_header(rep, "ETag", tag);
}

/* True if an If-Match or If-None-Match value names tag: "*", or tag in a list of tags
 * (compared weakly: W/ ignored). */
static bool s_names_tag(const char *header, const char *tag)
{
    char *copy = mem_strdup(header), *save = NULL;
    bool hit = false;
    for (char *t = strtok_r(copy, ", ", &save); t && !hit; t = strtok_r(NULL, ", ", &save)) {
        if (strncmp(t, "W/", 2) == 0)
            t += 2;
        hit = strcmp(t, "*") == 0 || strcmp(t, tag) == 0;
    }
    free(copy);
    return hit;
}

/* True if an If-Match value names this version: the author's view's tag, which writers hold. */
static bool s_if_match(const char *header, const char *version)
{
    char tag[32];
    s_tag(version, true, tag);
    return s_names_tag(header, tag);
}

int wk_quiz_lock(wk_tx_t *tx, const proto_request_t *req, proto_reply_t *rep)
{
    caller_t c;
    s_caller(req, &c);
    const char *v2[2] = {c.quiz, c.user};
    PGresult *res = wk_tx_exec(tx,
                               "SELECT version, coalesce(author_id = $2::uuid, false) FROM quizzes"
                               " WHERE id = $1 FOR UPDATE",
                               2, v2);
    if (!res)
        return -1;
    int rc = -1;
    const char *match = proto_request_get_header(req, "If-Match");
    if (PQntuples(res) == 0)
        wk_reply_error(rep, PROTO_STATUS_NOT_FOUND, "quiz not found");
    else if (req->role != PROTO_ROLE_ADMIN && PQgetvalue(res, 0, 1)[0] != 't')
        wk_reply_error(rep, PROTO_STATUS_FORBIDDEN,
                       "only the quiz's author or an admin may change it");
    else if (match && !s_if_match(match, PQgetvalue(res, 0, 0)))
        wk_reply_error(rep, PROTO_STATUS_PRECONDITION_FAILED,
                       "the quiz changed since it was read (If-Match is stale)");
    else
        rc = 0;
    PQclear(res);
    return rc;
}

int wk_quiz_touch(wk_tx_t *tx, const proto_request_t *req, proto_reply_t *rep)
{
    caller_t c;
    s_caller(req, &c);
    const char *v[1] = {c.quiz};
    PGresult *res = wk_tx_exec(tx,
                               "UPDATE quizzes SET version = version + 1, updated_at = now()"
                               " WHERE id = $1 RETURNING version",
                               1, v);
    if (!res)
        return -1;
    if (PQntuples(res) == 1)
        s_etag(rep, PQgetvalue(res, 0, 0), true);
    PQclear(res);
    return 0;
}

/* Keeps the view just read in the cache, if the tenant's schema logs its changes (the trigger
 * of sql/tenant/006_quiz_changes.sql: a tenant not yet migrated to it is never cached). */
static void s_fill(const wk_ctx_t *ctx, uint64_t epoch, const proto_request_t *req,
                   const PGresult *res)
{
    uint32_t oid = wk_read_keepable(ctx, req, res, 4, WK_LOGS_QUIZZES);
    if (!oid)
        return;
    uint8_t author[16];
    bool has_author =
        !PQgetisnull(res, 0, 3) &&
        ident_uuid_parse(PQgetvalue(res, 0, 3), strlen(PQgetvalue(res, 0, 3)), author) == 0;
    wk_cache_put(ctx->cache, epoch,
                 &(wk_cache_fill_t){.tenant = req->tenant,
                                    .quiz = req->params[0],
                                    .author = has_author ? author : NULL,
                                    .role_oid = oid,
                                    .version = strtoll(PQgetvalue(res, 0, 1), NULL, 10),
                                    .full = PQgetvalue(res, 0, 2)[0] == 't',
                                    .doc = PQgetvalue(res, 0, 0),
                                    .len = (size_t)PQgetlength(res, 0, 0)});
}

/* The quiz as the caller may see it; kept in cache (if not NULL) as of epoch. */
static int s_reply_view(wk_tx_t *tx, const proto_request_t *req, proto_reply_t *rep,
                        proto_status_t status, bool last, const wk_ctx_t *keep, uint64_t epoch)
{
    caller_t c;
    s_caller(req, &c);
    const char *v[3] = {c.quiz, c.admin, c.user};
    bool look = keep && wk_read_must_look(keep, req, WK_LOGS_QUIZZES);
    PGresult *res = (last ? wk_tx_exec_last : wk_tx_exec)(
        tx, look ? QUIZ_VIEW_SQL(WK_CACHE_LOOK("quizzes")) : QUIZ_VIEW_SQL("true"), 3, v);
    if (!res)
        return -1;
    wk_reply_row(rep, status, res, "quiz not found");
    if (PQntuples(res) == 1) {
        s_etag(rep, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2)[0] == 't');
        if (keep && req->nparams > 0)
            s_fill(keep, epoch, req, res);
    }
    PQclear(res);
    return 0;
}

int wk_quiz_reply_full(wk_tx_t *tx, const proto_request_t *req, proto_reply_t *rep,
                       proto_status_t status, bool last)
{
    return s_reply_view(tx, req, rep, status, last, NULL, 0);
}

/* The quiz from the cache. False: not held, ask the database. */
static bool s_cached(const wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    uint32_t oid = wk_coherence_oid(ctx->checked);
    wk_cache_hit_t hit;
    if (!oid || req->nparams < 1 ||
        !wk_cache_get(ctx->cache, req->tenant, req->params[0], req->user_id,
                      req->role == PROTO_ROLE_ADMIN, oid, &hit))
        return false;
    wk_reply_body(rep, PROTO_STATUS_OK, hit.doc);
    char version[24];
    snprintf(version, sizeof version, "%lld", hit.version);
    s_etag(rep, version, hit.full);
    return true;
}

/* A GET whose If-None-Match names the current ETag: 304, and no body to send. */
static void s_not_modified(const proto_request_t *req, proto_reply_t *rep)
{
    const char *match = proto_request_get_header(req, "If-None-Match");
    const char *tag = NULL;
    for (int i = 0; i < rep->nheaders && !tag; i++)
        if (strcmp(rep->headers[i].key, "ETag") == 0)
            tag = rep->headers[i].value;
    if (rep->status != PROTO_STATUS_OK || !match || !tag || !s_names_tag(match, tag))
        return;
    free(rep->body);
    rep->body = NULL;
    rep->body_len = 0;
    rep->status = PROTO_STATUS_NOT_MODIFIED;
}

void wk_quiz_get(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    if (ctx->cache_only) {
        if (s_cached(ctx, req, rep))
            s_not_modified(req, rep);
        else
            ctx->missed = true;
        return;
    }
    /* The epoch before the query: a drop after it may concern what the query reads. */
    uint64_t epoch = ctx->cache ? wk_cache_epoch(ctx->cache) : 0;
    wk_tx_t tx;
    if (wk_tx_begin(&tx, ctx->db, req->tenant, req->deadline_ms) < 0 ||
        s_reply_view(&tx, req, rep, PROTO_STATUS_OK, true, ctx->cache ? ctx : NULL, epoch) < 0)
        wk_reply_tx_error(rep, &tx);
    wk_tx_end(&tx);
    s_not_modified(req, rep);
}

/* Validates {title, description?} (title optional for PATCH). */
static int s_fields(json_t *body, bool create, const char **title, const char **description,
                    proto_reply_t *rep)
{
    if (wk_json_string(body, "title", create, 1, 200, title, rep) < 0 ||
        wk_json_string(body, "description", false, 0, 4000, description, rep) < 0)
        return -1;
    return 0;
}

void wk_quiz_create(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    static const char *const allowed[] = {"title", "description", NULL};
    const char *title, *description;
    json_t *body = wk_json_object(req, allowed, rep);
    if (!body)
        return;
    if (s_fields(body, true, &title, &description, rep) < 0) {
        json_decref(body);
        return;
    }
    caller_t c;
    s_caller(req, &c);
    wk_tx_t tx;
    bool replayed = false;
    if (wk_tx_begin(&tx, ctx->db, req->tenant, req->deadline_ms) < 0 ||
        wk_idem_claim(&tx, req, rep, &replayed) < 0) {
        wk_reply_tx_error(rep, &tx);
        goto out;
    }
    if (replayed)
        goto out;
    const char *v[3] = {c.user, title, description ? description : ""};
    PGresult *res =
        wk_tx_exec(&tx,
                   "INSERT INTO quizzes AS q (author_id, title, description) VALUES ($1, $2, $3)"
                   " RETURNING doc_full, version",
                   3, v);
    if (res) {
        wk_reply_row(rep, PROTO_STATUS_CREATED, res, "quiz not created");
        s_etag(rep, PQgetvalue(res, 0, 1), true);
    }
    if (!res || wk_idem_store(&tx, req, rep) < 0 || wk_tx_commit(&tx) < 0)
        wk_reply_tx_error(rep, &tx);
    PQclear(res);
out:
    wk_tx_end(&tx);
    json_decref(body);
}

void wk_quiz_list(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    wk_page_t page;
    if (wk_page_parse(req, &page, rep) < 0)
        return;
    const char *author = proto_request_query(req, "author");
    const char *q = proto_request_query(req, "q");
    uint8_t author_id[16];
    char author_text[IDENT_UUID_STR_LEN + 1];
    if (author && ident_uuid_parse(author, strlen(author), author_id) < 0) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "author must be a user id (UUID)");
        return;
    }
    if (author)
        ident_uuid_format(author_id, author_text);
    if (q && strlen(q) > 200) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "q must be at most 200 characters");
        return;
    }
    const char *v[5];
    wk_page_params(&page, v);
    v[3] = author ? author_text : NULL;
    v[4] = q && *q ? q : NULL;
    /* The page's key in the cache: what selects it (q last, the only free text). */
    uint8_t key[16];
    char *what = mem_printf("%d|%s|%s|%s|%s", page.limit, v[0] ? v[0] : "", v[1] ? v[1] : "",
                            v[3] ? v[3] : "", v[4] ? v[4] : "");
    crypto_generichash(key, sizeof key, (const unsigned char *)what, strlen(what), NULL, 0);
    free(what);
    if (ctx->cache_only) {
        wk_read_cached(ctx, rep, WK_CACHE_LIST, req->tenant, key);
        return;
    }
    uint64_t epoch = ctx->cache ? wk_cache_epoch(ctx->cache) : 0;
    bool look = wk_read_must_look(ctx, req, WK_LOGS_QUIZZES);
    wk_tx_t tx;
    PGresult *res = wk_read_run(
        ctx, req, rep, req->tenant,
        look ? QUIZ_LIST_SQL(WK_CACHE_LOOK("quizzes")) : QUIZ_LIST_SQL("true"), 5, v, &tx);
    if (res) {
        wk_reply_body(rep, PROTO_STATUS_OK, wk_page_json(res, &page));
        wk_read_keep(ctx, req, res, 3, WK_LOGS_QUIZZES, epoch, WK_CACHE_LIST, key, rep);
    }
    PQclear(res);
    wk_tx_end(&tx);
}

void wk_quiz_update(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    static const char *const allowed[] = {"title", "description", NULL};
    const char *title, *description;
    json_t *body = wk_json_object(req, allowed, rep);
    if (!body)
        return;
    if (s_fields(body, false, &title, &description, rep) < 0)
        goto out;
    if (!title && !description) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "nothing to update");
        goto out;
    }
    caller_t c;
    s_caller(req, &c);
    wk_tx_t tx;
    if (wk_tx_begin(&tx, ctx->db, req->tenant, req->deadline_ms) < 0) {
        wk_reply_tx_error(rep, &tx);
        goto out;
    }
    if (wk_quiz_lock(&tx, req, rep) < 0) {
        if (tx.status != PROTO_STATUS_OK)
            wk_reply_tx_error(rep, &tx);
        wk_tx_end(&tx);
        goto out;
    }
    const char *v[3] = {c.quiz, title, description};
    PGresult *res = wk_tx_exec(&tx,
                               "UPDATE quizzes SET title = coalesce($2, title),"
                               " description = coalesce($3, description) WHERE id = $1",
                               3, v);
    PQclear(res);
    if (!res || wk_quiz_touch(&tx, req, rep) < 0 ||
        wk_quiz_reply_full(&tx, req, rep, PROTO_STATUS_OK, false) < 0 || wk_tx_commit(&tx) < 0)
        wk_reply_tx_error(rep, &tx);
    wk_tx_end(&tx);
out:
    json_decref(body);
}

void wk_quiz_delete(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    caller_t c;
    s_caller(req, &c);
    wk_tx_t tx;
    if (wk_tx_begin(&tx, ctx->db, req->tenant, req->deadline_ms) < 0) {
        wk_reply_tx_error(rep, &tx);
        return;
    }
    if (wk_quiz_lock(&tx, req, rep) < 0) {
        if (tx.status != PROTO_STATUS_OK)
            wk_reply_tx_error(rep, &tx);
        wk_tx_end(&tx);
        return;
    }
    /* Questions go with the quiz (ON DELETE CASCADE); attempts keep their scores. */
    const char *v[1] = {c.quiz};
    PGresult *res = wk_tx_exec_last(&tx, "DELETE FROM quizzes WHERE id = $1", 1, v);
    if (res)
        wk_reply_body(rep, PROTO_STATUS_NO_CONTENT, NULL);
    else
        wk_reply_tx_error(rep, &tx);
    PQclear(res);
    wk_tx_end(&tx);
}

void wk_quiz_stats(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    caller_t c;
    s_caller(req, &c);
    const char *v[1] = {c.quiz};
    wk_read_row(
        ctx, req, rep, req->tenant,
        "SELECT json_build_object('quiz_id', q.id, 'attempts_count', count(a.id),"
        " 'mean_score', round(avg(a.score), 2), 'best_score', max(a.score),"
        " 'max_score', (SELECT coalesce(sum(points), 0) FROM questions WHERE quiz_id = q.id))"
        " FROM quizzes q LEFT JOIN attempts a ON a.quiz_id = q.id WHERE q.id = $1 GROUP BY q.id",
        1, v, "quiz not found");
}
