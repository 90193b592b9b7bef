/* ZeroMQ socket monitors: the events a socket reports about its connections (zmq_socket_monitor),
 * read from the PAIR socket connected to the monitor's endpoint. */
#ifndef COMMON_MONITOR_H
#define COMMON_MONITOR_H

#include <stdint.h>

/* Reads one event (flags: 0 or ZMQ_DONTWAIT): its ZMQ_EVENT_* and its value (for connection
 * events the file descriptor). 0, or -1 when none was read (errno from zmq). */
int monitor_recv(void *pair, int flags, uint16_t *event, uint32_t *value);

#endif
