/* libFuzzer target: the wire protocol's decoders (proto/proto.c) on any bytes a peer of the
 * worker link could send. What decodes must encode again and decode to the same frame. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why;
    proto_request_t req;
    memset(&req, 0, sizeof req);
    if (proto_request_decode(data, size, &req, &why) == 0) {
        size_t len;
        void *again = proto_request_encode(&req, &len);
        proto_request_t back;
        memset(&back, 0, sizeof back);
        if (!again || proto_request_decode(again, len, &back, &why) != 0 || back.op != req.op ||
            back.nquery != req.nquery || back.body_len != req.body_len)
            abort(); /* the codec disagrees with itself */
        proto_request_clear(&back);
        free(again);
    }
    proto_request_clear(&req);
    proto_reply_t rep;
    memset(&rep, 0, sizeof rep);
    if (proto_reply_decode(data, size, &rep, &why) == 0) {
        size_t len;
        void *again = proto_reply_encode(&rep, &len);
        proto_reply_t back;
        memset(&back, 0, sizeof back);
        if (!again || proto_reply_decode(again, len, &back, &why) != 0 ||
            back.status != rep.status || back.body_len != rep.body_len)
            abort();
        proto_reply_clear(&back);
        free(again);
    }
    proto_reply_clear(&rep);
    return 0;
}
