/* Lookup of the embedded static files (see gw_assets.h). */
#include "gateway/gw_assets.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "common/ident.h"

#define ASSETS_MAX 32
static char s_etags[ASSETS_MAX][36];

const gw_asset_t *gw_asset_find(const char *path)
{
    size_t n = strlen(path);
    for (const gw_asset_t *a = gw_assets; a->path; a++) {
        size_t m = strlen(a->path);
        /* "/admin" is "/admin/": the page's relative links need the slash, but a typed URL
           often lacks it. */
        if (strcmp(a->path, path) == 0 ||
            (m == n + 1 && a->path[n] == '/' && !a->path[n + 1] && strncmp(a->path, path, n) == 0))
            return a;
    }
    return NULL;
}

void gw_assets_init(void)
{
    for (int i = 0; gw_assets[i].path && i < ASSETS_MAX; i++) {
        const gw_asset_t *a = &gw_assets[i];
        uint8_t hash[16];
        char hex[33];
        crypto_generichash(hash, sizeof hash, (const unsigned char *)a->start,
                           (size_t)(a->end - a->start), NULL, 0);
        ident_hex(hash, sizeof hash, hex);
        snprintf(s_etags[i], sizeof s_etags[i], "\"%s\"", hex);
    }
}

const char *gw_asset_etag(const gw_asset_t *a)
{
    long i = a - gw_assets;
    return i >= 0 && i < ASSETS_MAX ? s_etags[i] : "\"\"";
}
