/* The client's address behind load balancers. The gateways run behind one, so the TCP peer is
 * the balancer: the per-address login limit and the audit's client address need the address
 * the balancer saw. X-Forwarded-For is believed only from configured proxies (--trusted-proxy
 * CIDR): walking it from the right, the first address that is not a trusted proxy is the
 * client. Without trusted proxies the header is ignored, so a client cannot forge it. */
#ifndef GATEWAY_GW_PROXY_H
#define GATEWAY_GW_PROXY_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gw_proxy gw_proxy_t;

/* An empty set of trusted proxies. Caller owns. */
gw_proxy_t *gw_proxy_new(void);
void gw_proxy_destroy(gw_proxy_t **proxy_p);
/* Adds "addr" or "addr/prefix" (IPv4 or IPv6). 0, or -1 if malformed or the set is full. */
int gw_proxy_add(gw_proxy_t *proxy, const char *cidr) __attribute__((warn_unused_result));
/* Whether the address (text) is one of the trusted proxies'. */
bool gw_proxy_trusted(const gw_proxy_t *proxy, const char *addr);
/* Writes the client's address for a connection from `peer` carrying `forwarded` (the
 * X-Forwarded-For value, or NULL) into out. */
void gw_proxy_client(const gw_proxy_t *proxy, const char *peer, const char *forwarded, char *out,
                     size_t len);

#endif
