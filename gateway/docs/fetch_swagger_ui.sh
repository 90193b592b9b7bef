#!/bin/sh
# Fetches the Swagger UI files /docs serves (npm package swagger-ui-dist, pinned, checked
# against the registry's sha512) into DIR, once; the gateway embeds them at build time, so
# nothing is fetched at run time and no CDN is involved. Usage: fetch_swagger_ui.sh DIR
set -eu
VERSION=5.35.0
SHA512=534eaba4cb56f55dd73c638179a993512af4674f63317e0826e00da44fc465b021c341bc0a0c2bcd4e18997927fe1d3008336c5dd19aad334d1c2dec53cc9551 # the registry's integrity sha512-U06rpMtW...yVUQ==, in hex
dir=$1
[ -f "$dir/.version" ] && [ "$(cat "$dir/.version")" = "$VERSION" ] && exit 0
mkdir -p "$dir"
tgz="$dir/swagger-ui-dist.tgz"
url="https://registry.npmjs.org/swagger-ui-dist/-/swagger-ui-dist-$VERSION.tgz"
echo "fetching $url" >&2
curl -fsSL --retry 3 -o "$tgz" "$url"
got=$(sha512sum "$tgz" | cut -d' ' -f1)
if [ "$got" != "$SHA512" ]; then
  echo "swagger-ui-dist $VERSION: checksum mismatch (got $got)" >&2
  rm -f "$tgz"
  exit 1
fi
tar -xzf "$tgz" -C "$dir" --strip-components=1 package/swagger-ui-bundle.js package/swagger-ui.css \
  package/LICENSE
rm -f "$tgz"
echo "$VERSION" > "$dir/.version"
