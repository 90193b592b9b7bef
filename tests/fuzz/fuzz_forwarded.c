/* libFuzzer target: X-Forwarded-For parsing (gateway/gw_proxy.c) behind trusted proxies of
 * both families. The first byte picks the peer; the rest is the header. The client address
 * written must be a NUL-terminated string that fits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gw_proxy_t *proxy;
    if (!proxy) {
        proxy = gw_proxy_new();
        if (gw_proxy_add(proxy, "10.0.0.0/8") < 0 || gw_proxy_add(proxy, "fd00::/8") < 0 ||
            gw_proxy_add(proxy, "192.168.1.7") < 0)
            abort();
    }
    static const char *const peers[] = {"10.1.2.3", "fd00::1", "203.0.113.9", "192.168.1.7"};
    if (size < 1)
        return 0;
    char *header = malloc(size);
    memcpy(header, data + 1, size - 1);
    header[size - 1] = '\0';
    char out[64];
    memset(out, 'x', sizeof out);
    gw_proxy_client(proxy, peers[data[0] % 4], header, out, sizeof out);
    if (!memchr(out, '\0', sizeof out))
        abort();
    free(header);
    return 0;
}
