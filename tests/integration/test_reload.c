/* SIGHUP (systemctl reload) while serving: a new access-token key is taken by every daemon and
 * signs from then on while tokens of the old key stay valid; the gateway's config file is read
 * again (its login rate, here); nothing is dropped meanwhile. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/helpers/api.h"
#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"

static qstack_t S;
static char s_config[64];
static const char *s_gateway_args[] = {"--config", s_config, NULL};

static void s_write_config(const char *text)
{
    FILE *f = fopen(s_config, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

/* A new, empty config file at s_config. */
static void s_make_config(void)
{
    cr_assert_geq(sodium_init(), 0);
    snprintf(s_config, sizeof s_config, "/tmp/quiz-gateway-config.XXXXXX");
    int fd = mkstemp(s_config);
    cr_assert_geq(fd, 0);
    close(fd);
}

static void setup(void)
{
    s_make_config();
    s_write_config("# the test's gateway options\nlogin-rate 100\n");
    cr_assert_eq(stack_start_with(&S, 2, s_gateway_args), 0, "stack did not start");
}
static void teardown(void)
{
    stack_suite_fini(&S);
    unlink(s_config);
}

TestSuite(reload, .init = setup, .fini = teardown, .timeout = 60);

/* How many lines of DIR/NAME.log hold needle. */
static int s_count(const char *name, const char *needle)
{
    char path[256], line[2048];
    snprintf(path, sizeof path, "%s/%s.log", S.dir, name);
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return n;
}

/* Sends SIGHUP to pid; whether its log (DIR/NAME.log) then gains a line holding needle
 * within 5 s. */
static bool s_hup(pid_t pid, const char *name, const char *needle)
{
    int before = s_count(name, needle);
    cr_assert_eq(kill(pid, SIGHUP), 0);
    for (int i = 0; i < 250 && s_count(name, needle) == before; i++)
        nanosleep(&(struct timespec){0, 20000000}, NULL);
    return s_count(name, needle) > before;
}

/* SIGHUP, and the daemon says "reloaded". */
static void s_reload(pid_t pid, const char *name)
{
    cr_assert(s_hup(pid, name, "reloaded"), "%s did not reload", name);
}

/* The "kid" of an access token's header. */
static void s_kid(const char *token, char *out, size_t len)
{
    const char *dot = strchr(token, '.');
    cr_assert(dot);
    unsigned char head[256];
    size_t n = 0;
    cr_assert_eq(sodium_base642bin(head, sizeof head - 1, token, (size_t)(dot - token), NULL, &n,
                                   NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                 0);
    head[n] = '\0';
    const char *kid = strstr((char *)head, "\"kid\":\"");
    cr_assert(kid, "%s", head);
    kid += 7;
    snprintf(out, len, "%.*s", (int)strcspn(kid, "\""), kid);
}

Test(reload, a_new_key_signs_after_sighup_and_tokens_of_the_old_one_stay_valid)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char kid[40];
    s_kid(t.token, kid, sizeof kid);
    cr_assert_str_eq(kid, "test");
    /* Rolled out as the README says: the key everywhere, gateways reloaded before workers. */
    char path[256];
    snprintf(path, sizeof path, "%s/keys/zz-new.key", S.dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", f);
    fclose(f);
    s_reload(S.gateway, "gateway");
    for (int k = 0; k < 2; k++) {
        char name[16];
        snprintf(name, sizeof name, "worker%d", k);
        s_reload(S.workers[k], name);
    }
    char token[1024];
    cr_assert_eq(api_login(&S, t.id, t.email, t.password, token, NULL, NULL), 200);
    s_kid(token, kid, sizeof kid);
    cr_expect_str_eq(kid, "zz-new", "the greatest kid signs after the reload");
    cr_expect_eq(api_status(&S, "GET", "/api/users/me", t.id, token, NULL), 200);
    cr_expect_eq(api_status(&S, "GET", "/api/users/me", t.id, t.token, NULL), 200,
                 "a token of the old key is still valid");
    /* A bad key directory is refused and the keys stay as they were. */
    snprintf(path, sizeof path, "%s/keys/zzz-broken.key", S.dir);
    f = fopen(path, "w");
    cr_assert(f);
    fputs("not hex\n", f);
    fclose(f);
    cr_expect(s_hup(S.gateway, "gateway", "keys stay as they were"));
    cr_expect_eq(api_status(&S, "GET", "/api/users/me", t.id, token, NULL), 200);
    unlink(path);
}

Test(reload, the_gateways_config_file_is_read_again)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    s_write_config("login-rate 1\n");
    s_reload(S.gateway, "gateway");
    /* One login per address and minute now (api_tenant's two were within 100): of the next
       two, at least one is told to wait, however the minute falls. */
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", t.email, t.password);
    int refused = 0;
    for (int i = 0; i < 2; i++) {
        http_resp_t r;
        long st = api_call(&S, &r, "POST", "/api/auth/login", t.id, NULL, body, NULL);
        cr_expect(st == 200 || st == 429, "%ld", st);
        char wait[16] = "";
        if (st == 429) {
            refused++;
            cr_expect_eq(http_header(&r, "Retry-After", wait, sizeof wait), 0);
        }
        http_resp_clear(&r);
    }
    cr_expect_geq(refused, 1, "the new login rate is in force");
    /* A file that does not parse changes nothing. */
    s_write_config("login-rate lots\n");
    cr_expect(s_hup(S.gateway, "gateway", "does not parse"));
    cr_expect_eq(api_status(&S, "GET", "/api/users/me", t.id, t.token, NULL), 200, "still serving");
}

/* The gateway's shard lines in its config file (the stack writes them there). */
static void setup_endpoints(void)
{
    s_make_config();
    S.gateway_config = s_config;
    cr_assert_eq(stack_start(&S, 2), 0, "stack did not start");
}

TestSuite(reload_endpoints, .init = setup_endpoints, .fini = teardown, .timeout = 60);

Test(reload_endpoints, a_shards_endpoint_list_changes_without_a_restart)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    /* Shard t.shard moves to a worker at a new endpoint: started, then the old one stopped. */
    cr_assert_eq(stack_start_replica_worker(&S, t.shard), 0);
    stack_kill_worker(&S, t.shard);
    /* 503 (no worker connected) or, when the dead peer is not noticed before the deadline on a
       loaded machine, 504: either way not served. */
    long gone = api_status(&S, "GET", "/api/users/me", t.id, t.token, NULL);
    cr_expect(gone == 503 || gone == 504, "the gateway does not know the new endpoint yet: %ld",
              gone);
    char other[200], moved[200], text[512];
    stack_endpoint(&S, 1 - t.shard, other, sizeof other);
    stack_replica_endpoint(&S, t.shard, moved, sizeof moved);
    snprintf(text, sizeof text, "shard %s\nshard %s\n", t.shard == 0 ? moved : other,
             t.shard == 0 ? other : moved);
    s_write_config(text);
    int before = s_count("gateway", "connected to");
    s_reload(S.gateway, "gateway");
    cr_expect_gt(s_count("gateway", "connected to"), before);
    long st = 0;
    for (int i = 0; i < 50 && st != 200; i++) { /* the new connection's handshake */
        st = api_status(&S, "GET", "/api/users/me", t.id, t.token, NULL);
        if (st != 200)
            nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    cr_expect_eq(st, 200, "served by the worker at the new endpoint");
}
