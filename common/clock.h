/* Time in microseconds: wall-clock time in the unit the wire envelope's deadline uses (Unix
 * time), read one way by gateways (which set deadlines) and workers (which check them), and other
 * clocks for intervals. */
#ifndef COMMON_CLOCK_H
#define COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Microseconds since the Unix epoch. */
uint64_t clock_now_us(void);
/* Milliseconds since the Unix epoch (proto_request_t.deadline_ms is in this unit). */
uint64_t clock_now_ms(void);
/* Microseconds of CLOCK_MONOTONIC, for intervals within one process (immune to clock steps). */
uint64_t clock_mono_us(void);
/* Microseconds of any clock, e.g. a thread's CPU clock (pthread_getcpuclockid). */
uint64_t clock_us(clockid_t clock);

#endif
