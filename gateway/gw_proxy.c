/* Trusted-proxy matching and X-Forwarded-For walking (see gw_proxy.h). */
#include "gateway/gw_proxy.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

#define MAX_NETS 32

typedef struct {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network address */
    int prefix;             /* prefix length in bits */
} net_t;

struct gw_proxy {
    net_t nets[MAX_NETS]; /* trusted networks */
    int count;
};

gw_proxy_t *gw_proxy_new(void)
{
    return mem_zalloc(sizeof(gw_proxy_t));
}

void gw_proxy_destroy(gw_proxy_t **proxy_p)
{
    if (!proxy_p || !*proxy_p)
        return;
    free(*proxy_p);
    *proxy_p = NULL;
}

/* Parses an address; returns its family, or 0. */
static int s_parse(const char *text, unsigned char out[16])
{
    if (inet_pton(AF_INET, text, out) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, text, out) == 1)
        return AF_INET6;
    return 0;
}

int gw_proxy_add(gw_proxy_t *proxy, const char *cidr)
{
    if (proxy->count == MAX_NETS || strlen(cidr) > 63)
        return -1;
    char text[64];
    snprintf(text, sizeof text, "%s", cidr);
    char *slash = strchr(text, '/');
    if (slash)
        *slash = '\0';
    net_t *n = &proxy->nets[proxy->count];
    n->family = s_parse(text, n->addr);
    if (!n->family)
        return -1;
    int max = n->family == AF_INET ? 32 : 128;
    n->prefix = max;
    if (slash) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || p < 0 || p > max)
            return -1;
        n->prefix = (int)p;
    }
    proxy->count++;
    return 0;
}

bool gw_proxy_trusted(const gw_proxy_t *proxy, const char *text)
{
    unsigned char a[16];
    int family = s_parse(text, a);
    for (int i = 0; family && i < proxy->count; i++) {
        const net_t *n = &proxy->nets[i];
        if (n->family != family)
            continue;
        int full = n->prefix / 8, rest = n->prefix % 8;
        if (memcmp(a, n->addr, (size_t)full) != 0)
            continue;
        unsigned char mask = (unsigned char)(0xff << (8 - rest));
        if (rest == 0 || (a[full] & mask) == (n->addr[full] & mask))
            return true;
    }
    return false;
}

void gw_proxy_client(const gw_proxy_t *proxy, const char *peer, const char *forwarded, char *out,
                     size_t len)
{
    snprintf(out, len, "%s", peer);
    if (!forwarded || !gw_proxy_trusted(proxy, peer) || strlen(forwarded) > 1024)
        return;
    /* From the right: each hop appended the address it received the request from. */
    char copy[1025];
    snprintf(copy, sizeof copy, "%s", forwarded);
    for (char *end = copy + strlen(copy); end > copy;) {
        char *comma = end;
        while (comma > copy && comma[-1] != ',')
            comma--;
        char *item = comma;
        *end = '\0';
        while (*item == ' ' || *item == '\t')
            item++;
        size_t n = strlen(item);
        while (n && (item[n - 1] == ' ' || item[n - 1] == '\t'))
            item[--n] = '\0';
        unsigned char a[16];
        if (!s_parse(item, a))
            return; /* garbage: keep the last address we could vouch for */
        snprintf(out, len, "%s", item);
        if (!gw_proxy_trusted(proxy, item))
            return;
        end = comma > copy ? comma - 1 : copy;
    }
}
