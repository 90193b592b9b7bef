/* Static files the gateway serves from its own binary: the operator dashboard (/admin/) and the
 * API reference (/docs/, Swagger UI from the npm package swagger-ui-dist, fetched and checked at
 * build time by gateway/docs/fetch_swagger_ui.sh). Listed in gateway/assets.txt. */
#ifndef GATEWAY_GW_ASSETS_H
#define GATEWAY_GW_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *path; /* URL path, e.g. "/admin/" */
    const char *type; /* Content-Type */
    const char *start, *end;
} gw_asset_t;

/* Terminated by a NULL path. */
extern const gw_asset_t gw_assets[];

/* The asset at path ("/admin" finds "/admin/"), or NULL. */
const gw_asset_t *gw_asset_find(const char *path);
/* Computes every asset's ETag (a hash of its bytes); once, before serving. */
void gw_assets_init(void);
/* The asset's ETag, quoted. */
const char *gw_asset_etag(const gw_asset_t *a);

#endif
