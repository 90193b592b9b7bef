/* libFuzzer target: pagination's ?cursor= and ?limit= (worker/wk_page.c), which a client
 * controls. The input up to the first newline is the limit, the rest the cursor. Accepted
 * values must be ones a list query can take: a limit in 1..100, a cursor of decimal
 * microseconds and an id. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/wk_page.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char *nl = strchr(text, '\n');
    proto_request_t req;
    memset(&req, 0, sizeof req);
    if (nl) {
        *nl = '\0';
        req.query[req.nquery].key = (char *)"limit";
        req.query[req.nquery++].value = text;
    }
    req.query[req.nquery].key = (char *)"cursor";
    req.query[req.nquery++].value = nl ? nl + 1 : text;
    wk_page_t page;
    proto_reply_t rep;
    memset(&rep, 0, sizeof rep);
    if (wk_page_parse(&req, &page, &rep) == 0) {
        if (page.limit < 1 || page.limit > WK_PAGE_MAX ||
            (page.has_cursor && (strspn(page.micros, "-0123456789") != strlen(page.micros) ||
                                 !page.micros[0] || !page.id[0])))
            abort();
    } else if (rep.status != PROTO_STATUS_BAD_REQUEST) {
        abort();
    }
    proto_reply_clear(&rep);
    free(text);
    return 0;
}
