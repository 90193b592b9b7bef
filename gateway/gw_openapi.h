/* The OpenAPI 3.1 description of the HTTP API (proto/openapi.json), compiled into the gateway
 * and served at GET /api/openapi.json. */
#ifndef GATEWAY_GW_OPENAPI_H
#define GATEWAY_GW_OPENAPI_H

extern const char gw_openapi_json[];

#endif
