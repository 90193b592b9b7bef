/* ZeroMQ socket monitor events (see monitor.h). */
#include "common/monitor.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

int monitor_recv(void *pair, int flags, uint16_t *event, uint32_t *value)
{
    /* Two frames: 2 bytes of event and 4 of value, then the endpoint (unused here). */
    zmq_msg_t ev, ep;
    zmq_msg_init(&ev);
    zmq_msg_init(&ep);
    int rc = -1;
    if (zmq_msg_recv(&ev, pair, flags) >= 0 && zmq_msg_recv(&ep, pair, 0) >= 0) {
        if (zmq_msg_size(&ev) >= 6) {
            memcpy(event, zmq_msg_data(&ev), 2);
            memcpy(value, (const char *)zmq_msg_data(&ev) + 2, 4);
            rc = 0;
        } else {
            errno = EPROTO;
        }
    }
    zmq_msg_close(&ev);
    zmq_msg_close(&ep);
    return rc;
}
