/* libFuzzer target: the gateway's route matching and path parameters (gateway/gw_route.c). The
 * first byte picks the method, the rest is the decoded path. A match must name a route of that
 * method with as many UUID parameters as its pattern has "{}". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "x"};
    if (size < 1)
        return 0;
    const char *method = methods[data[0] % 7];
    char *path = malloc(size);
    memcpy(path, data + 1, size - 1);
    path[size - 1] = '\0';
    gw_match_t m;
    memset(&m, 0, sizeof m);
    if (gw_route_match(method, path, &m) == GW_ROUTE_OK) {
        int braces = 0;
        for (const char *p = m.route->pattern; (p = strstr(p, "{}")); p += 2)
            braces++;
        if (strcmp(m.route->method, method) != 0 || m.nparams != braces ||
            m.nparams > PROTO_MAX_PARAMS)
            abort();
    }
    free(path);
    return 0;
}
