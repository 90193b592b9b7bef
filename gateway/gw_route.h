/* The route table: (method, path pattern) -> operation and the scope it requires. Adding an
 * endpoint is one row here plus one handler in the worker. Path parameters are UUIDs. */
#ifndef GATEWAY_GW_ROUTE_H
#define GATEWAY_GW_ROUTE_H

#include <stdint.h>

#include "proto/proto.h"

typedef enum {
    GW_SCOPE_PLATFORM, /* Authorization: Bearer <platform token> */
    GW_SCOPE_TENANT,   /* X-Tenant-ID, no token (ping, login, refresh) */
    GW_SCOPE_USER,     /* X-Tenant-ID and a user's access token for that tenant */
    GW_SCOPE_ADMIN,    /* as USER, and the token's role is admin */
} gw_scope_t;

/* Route flags. */
#define GW_ROUTE_LOGIN        1u /* rate-limited per client address */
#define GW_ROUTE_PCR_OK       2u /* allowed while the user must still change a temporary password */
#define GW_ROUTE_SHARD_HEALTH 4u /* the gateway adds each shard's "up" to the reply's items */

/* Which tenant a request is about. */
typedef enum {
    GW_TENANT_NONE,   /* platform-wide: any shard answers */
    GW_TENANT_NEW,    /* the gateway mints the id (tenant creation) */
    GW_TENANT_PARAM,  /* the first path parameter */
    GW_TENANT_HEADER, /* X-Tenant-ID */
} gw_tenant_src_t;

typedef struct {
    const char *method;
    const char *pattern; /* segments; "{}" is a UUID parameter */
    proto_op_t op;
    gw_scope_t scope;
    gw_tenant_src_t tenant;
    unsigned flags; /* GW_ROUTE_* */
} gw_route_t;

typedef enum {
    GW_ROUTE_OK,
    GW_ROUTE_NOT_FOUND,  /* no pattern matches the path */
    GW_ROUTE_BAD_METHOD, /* a pattern matches, not with this method */
    GW_ROUTE_BAD_ID,     /* a pattern matches but a parameter is not a UUID */
} gw_route_result_t;

typedef struct {
    const gw_route_t *route;
    int nparams;
    uint8_t params[PROTO_MAX_PARAMS][16];
} gw_match_t;

/* Matches a decoded path (one trailing slash ignored) against the table. */
gw_route_result_t gw_route_match(const char *method, const char *path, gw_match_t *m);
/* The table itself (terminated by a NULL method), for tests and docs. */
extern const gw_route_t gw_route_table[];

#endif
