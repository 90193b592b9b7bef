/* Under systemd, log lines go to the journal with fields, so `journalctl REQUEST_ID=<id>` finds
 * a request in the gateway and its worker. No journald runs here: the test stands in for it on
 * its socket (/run/systemd/journal/socket, which needs root and must be free) and tells the
 * daemons their stderr is the journal's stream, as systemd does ($JOURNAL_STREAM). */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/helpers/api.h"
#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"

#define JOURNAL_DIR    "/run/systemd/journal"
#define JOURNAL_SOCKET JOURNAL_DIR "/socket"

static qstack_t S;
static int s_sock = -1;
static bool s_made_dir;

/* What the stand-in journal received: read all along, as journald does (a full socket buffer
   would block the daemons' logging), the access entries kept. */
#define ENTRIES_MAX 256
static pthread_t s_reader;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static char *s_entries[ENTRIES_MAX];
static int s_nentries;
static volatile bool s_stop;

static void *s_read_journal(void *arg)
{
    (void)arg;
    static char buf[65536];
    while (!s_stop) {
        struct pollfd p = {s_sock, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = recv(s_sock, buf, sizeof buf - 1, 0);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        pthread_mutex_lock(&s_lock);
        if (strstr(buf, "\nROUTE=") && s_nentries < ENTRIES_MAX)
            s_entries[s_nentries++] = strdup(buf);
        pthread_mutex_unlock(&s_lock);
    }
    return NULL;
}

static void setup(void)
{
    cr_assert_geq(sodium_init(), 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", JOURNAL_SOCKET);
    struct stat st;
    if (geteuid() != 0)
        return;                           /* not root: the test skips */
    if (stat(JOURNAL_SOCKET, &st) == 0) { /* a real journald skips the test; a dead socket goes */
        int probe = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        bool alive = connect(probe, (struct sockaddr *)&addr, sizeof addr) == 0;
        close(probe);
        if (alive)
            return;
        unlink(JOURNAL_SOCKET);
    }
    s_made_dir = mkdir(JOURNAL_DIR, 0755) == 0;
    if (!s_made_dir && errno != EEXIST)
        return;
    s_sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(bind(s_sock, (struct sockaddr *)&addr, sizeof addr), 0);
    pthread_create(&s_reader, NULL, s_read_journal, NULL);
    S.journal = true;
    cr_assert_eq(stack_start(&S, 2), 0, "stack did not start");
}

static void teardown(void)
{
    if (s_sock < 0)
        return;
    stack_suite_fini(&S);
    s_stop = true;
    pthread_join(s_reader, NULL);
    for (int i = 0; i < s_nentries; i++)
        free(s_entries[i]);
    close(s_sock);
    unlink(JOURNAL_SOCKET);
    if (s_made_dir)
        rmdir(JOURNAL_DIR);
}

TestSuite(journal, .init = setup, .fini = teardown, .timeout = 60);

/* Whether the datagram (NAME=value lines) has the field exactly. */
static bool s_has(const char *entry, const char *field)
{
    size_t n = strlen(field);
    for (const char *p = entry; (p = strstr(p, field)); p += n)
        if ((p == entry || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

Test(journal, one_request_is_found_by_its_id_in_both_daemons_with_its_fields)
{
    if (s_sock < 0)
        cr_skip_test("needs root and no journald on " JOURNAL_SOCKET);
    api_tenant_t t;
    api_tenant(&S, &t);
    http_resp_t r;
    cr_assert_eq(api_call(&S, &r, "GET", "/api/users/me", t.id, t.token, NULL, NULL), 200);
    char rid[33] = "", user[37] = "";
    http_header(&r, "X-Request-ID", rid, sizeof rid);
    api_field(&r, "id", user, sizeof user);
    http_resp_clear(&r);
    char want_rid[64], want_tenant[64], want_user[64];
    snprintf(want_rid, sizeof want_rid, "REQUEST_ID=%s", rid);
    snprintf(want_tenant, sizeof want_tenant, "TENANT_ID=%s", t.id);
    snprintf(want_user, sizeof want_user, "USER_ID=%s", user);
    bool gateway = false, worker = false;
    for (int tries = 0; tries < 100 && !(gateway && worker); tries++) {
        usleep(20000); /* the access lines are written after the answer */
        gateway = worker = false;
        pthread_mutex_lock(&s_lock);
        for (int i = 0; i < s_nentries; i++) {
            const char *entry = s_entries[i];
            if (!s_has(entry, want_rid) || !s_has(entry, "ROUTE=user_me"))
                continue;
            cr_expect(s_has(entry, want_tenant), "%s", entry);
            cr_expect(s_has(entry, want_user), "%s", entry);
            cr_expect(s_has(entry, "PRIORITY=6"), "%s", entry);
            cr_expect(strstr(entry, "\nDURATION_US="), "%s", entry);
            cr_expect(strstr(entry, t.token) == NULL, "no token in the journal");
            if (s_has(entry, "SYSLOG_IDENTIFIER=quiz-gateway")) {
                cr_expect(s_has(entry, "STATUS=200") && s_has(entry, "METHOD=GET"), "%s", entry);
                gateway = true;
            } else if (s_has(entry, "SYSLOG_IDENTIFIER=quiz-worker")) {
                cr_expect(s_has(entry, "STATUS=ok") && strstr(entry, "\nDB_US="), "%s", entry);
                worker = true;
            }
        }
        pthread_mutex_unlock(&s_lock);
    }
    cr_expect(gateway, "no journal entry of the gateway for request %s", rid);
    cr_expect(worker, "no journal entry of the worker for request %s", rid);
}
