#!/usr/bin/env bash
# Builds ollama-proxy_<version>_<arch>.deb from this checkout (`npm run deb`) with plain
# dpkg-deb, and prints the package's path as its last line.
#
# The package carries the Node.js runtime that runs this build: better-sqlite3's addon in
# node_modules was compiled for that runtime's ABI, and the distributions ship Node 12-20 or
# none. Its binary comes from the npm registry's node-linux-<arch> package (the official
# build), cached in packaging/build/cache/.
#
# Needs: node and npm (the versions the tests ran with), node_modules installed (`npm ci`),
# dpkg-deb, dpkg-shlibdeps (dpkg-dev), strip (binutils).
# Environment:
#   DEB_REVISION  Debian revision (default 1); a revision the changelog does not list gets
#                 an entry of its own ("rebuilt"), which is how CI builds an upgrade.
#   OUT_DIR       where the .deb goes (default packaging/build/)
#   DEB_COMPRESSION  dpkg-deb's compressor (default xz, Debian's; gzip builds in a third of
#                 the time, for throw-away builds such as CI's upgrade test)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
cd "$repo"
out_dir="${OUT_DIR:-$here/build}"
cache="$here/build/cache"

say() { echo "build-deb: $*" >&2; }
die() {
  say "error: $*"
  exit 1
}

upstream="$(node -p 'require("./package.json").version')"
revision="${DEB_REVISION:-1}"
version="$upstream-$revision"
arch="$(dpkg --print-architecture)"
case "$arch" in
  amd64) node_arch=x64 ;;
  arm64) node_arch=arm64 ;;
  *) die "no official Node.js build for Debian architecture $arch" ;;
esac
node_version="$(node -p 'process.versions.node')"
[ -d node_modules/better-sqlite3 ] || die "node_modules is not installed: run npm ci first"

# Reproducible: every file, and a generated changelog entry, dated by the last commit
# (dpkg-deb honours SOURCE_DATE_EPOCH too).
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
export SOURCE_DATE_EPOCH

work="$out_dir/work"
root="$work/root"
app="$root/usr/lib/ollama-proxy"
rm -rf "$work"
mkdir -p "$app" "$cache"

say "building ollama-proxy $version for $arch with Node.js $node_version"
npm run --silent build >&2

# --- the application: dist/ as built, the CLI shim, a package.json saying "ESM" ----------
cp -a dist "$app/dist"
# The wrapper runs the shim with the bundled node, so its "#!/usr/bin/env node" line would
# name the wrong runtime: it goes (Debian also wants no node scripts without nodejs).
mkdir -p "$app/bin"
sed '1{/^#!/d}' bin/ollama-proxy >"$app/bin/ollama-proxy"
install -D -m 0644 schema/ollama-proxy.schema.json "$app/schema/ollama-proxy.schema.json"
# dist/*.js are ES modules: Node needs "type": "module" beside them, nothing more.
node -e '
  const p = require("./package.json");
  const out = { name: p.name, version: p.version, private: true, type: "module" };
  process.stdout.write(JSON.stringify(out, null, 2) + "\n");
' >"$app/package.json"

# --- production node_modules: the tested install, less dev packages, less dead files -----
cp package.json package-lock.json "$work/"
cp -a node_modules "$work/node_modules"
(cd "$work" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error >&2)
rm "$work/package-lock.json"
node "$here/prune-node-modules.mjs" "$work" "$work/modules.copyright" >&2
mv "$work/node_modules" "$app/node_modules"
# Addons keep their dynamic symbol table; debug symbols are dead weight (as dh_strip does).
strip_elf() { strip --remove-section=.comment --remove-section=.note --strip-unneeded "$@"; }
find "$app/node_modules" -name '*.node' -type f -print0 | while IFS= read -r -d '' f; do strip_elf "$f"; done

# --- the Node.js runtime ------------------------------------------------------------------
tarball="$cache/node-linux-$node_arch-$node_version.tgz"
if [ ! -f "$tarball" ]; then
  say "fetching node-linux-$node_arch@$node_version from the npm registry"
  (cd "$cache" && npm pack --silent "node-linux-$node_arch@$node_version" >/dev/null) ||
    die "npm has no node-linux-$node_arch@$node_version"
fi
mkdir -p "$work/node" "$app/node/bin"
tar -xzf "$tarball" -C "$work/node" package/bin/node package/LICENSE
install -m 0755 "$work/node/package/bin/node" "$app/node/bin/node"
# The official binary carries full debug info (about a third of its size); stripping keeps
# the dynamic symbols (the N-API functions addons link against) and drops the rest.
strip_elf "$app/node/bin/node"
[ "$("$app/node/bin/node" --version)" = "v$node_version" ] || die "the bundled node is not v$node_version"

# --- smoke test: the staged app, on the staged node, opens a database ---------------------
smoke="$work/smoke"
mkdir -p "$smoke"
printf 'production:\n  logging: {dir: null}\n  database: "%s/db.sqlite3"\n' "$smoke" >"$smoke/config.yml"
OLLAMA_PROXY_CONFIG="$smoke/config.yml" OLLAMA_PROXY_ENV=production \
  "$app/node/bin/node" "$app/bin/ollama-proxy" users list >/dev/null ||
  die "the staged package cannot run: ollama-proxy users list failed"
"$app/node/bin/node" "$app/bin/ollama-proxy" config check --config "$here/config.yml" --env production >&2 ||
  die "packaging/config.yml does not validate"
rm -rf "$smoke"

# --- the files around it ------------------------------------------------------------------
install -D -m 0755 "$here/wrapper.sh" "$root/usr/bin/ollama-proxy"
install -D -m 0640 "$here/config.yml" "$root/etc/ollama-proxy/config.yml"
install -D -m 0644 "$here/ollama-proxy.service" "$root/lib/systemd/system/ollama-proxy.service"
install -D -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/ollama-proxy"
doc="$root/usr/share/doc/ollama-proxy"
mkdir -p "$doc" "$root/usr/share/man/man8"
gzip -9n <"$here/ollama-proxy.8" >"$root/usr/share/man/man8/ollama-proxy.8.gz"

# changelog: packaging/changelog, headed by an entry for a revision it does not list yet.
top="$(sed -n '1s/^ollama-proxy (\([^)]*\)).*/\1/p' "$here/changelog")"
maintainer="$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$here/changelog" | head -n1)"
if [ "$top" = "$version" ]; then
  cp "$here/changelog" "$work/changelog"
elif [ -n "${DEB_REVISION:-}" ] && [ "${top%-*}" = "$upstream" ]; then
  {
    echo "ollama-proxy ($version) unstable; urgency=medium"
    echo
    echo "  * Rebuilt from the same sources as revision $revision."
    echo
    echo " -- $maintainer  $(date -R -u -d "@$SOURCE_DATE_EPOCH")"
    echo
    cat "$here/changelog"
  } >"$work/changelog"
else
  die "packaging/changelog starts at $top: add an entry for $upstream-1 first"
fi
gzip -9n <"$work/changelog" >"$doc/changelog.Debian.gz"

# copyright: the proxy's own, then Node.js's LICENSE, then every npm package's (each licence
# text as shipped, with full Apache License 2.0 texts pointing to Debian's copy).
{
  echo "Files: usr/lib/ollama-proxy/node/*"
  echo "Comment: the official Node.js $node_version binary, from npm's node-linux-$node_arch"
  echo "Copyright: Node.js contributors; Joyent, Inc. and other Node contributors"
  echo "License: Expat and others"
  node "$here/license-text.mjs" <"$work/node/package/LICENSE"
  echo
  cat "$work/modules.copyright"
} >"$work/generated.copyright"
sed -e "/^@RUNTIME_AND_MODULES@\$/{r $work/generated.copyright" -e 'd}' "$here/copyright" >"$doc/copyright"

# --- control ------------------------------------------------------------------------------
# Shared-library dependencies of the two ELF files, as dpkg-shlibdeps computes them for any
# Debian package (it wants a debian/control to read; this one is only for it).
mkdir -p "$work/shlibs/debian"
printf 'Source: ollama-proxy\n\nPackage: ollama-proxy\nArchitecture: any\n' >"$work/shlibs/debian/control"
shlibs="$(cd "$work/shlibs" && dpkg-shlibdeps -O -e"$app/node/bin/node" \
  -e"$app/node_modules/better-sqlite3/build/Release/better_sqlite3.node" 2>/dev/null |
  sed -n 's/^shlibs:Depends=//p')"
[ -n "$shlibs" ] || die "dpkg-shlibdeps found no dependencies"

# Owners come from --root-owner-group; modes are set here, not inherited from the checkout.
find "$root" -type d -exec chmod 0755 {} +
find "$app" -type f -exec chmod 0644 {} +
chmod 0755 "$app/node/bin/node"

mkdir -p "$root/DEBIAN"
for script in postinst prerm postrm; do install -m 0755 "$here/$script" "$root/DEBIAN/$script"; done
echo /etc/ollama-proxy/config.yml >"$root/DEBIAN/conffiles"
installed_size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat >"$root/DEBIAN/control" <<EOF
Package: ollama-proxy
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: adduser, $shlibs
Section: net
Priority: optional
Description: one front door for a fleet of Ollama servers
 ollama-proxy stands in front of several Ollama servers and looks, to every
 client, exactly like one Ollama: bearer-token users, model-aware routing by
 priority and memory limits, streaming pass-through, a per-request log and
 health reporting. The official ollama and OpenAI client libraries work
 through it unchanged.
 .
 It runs as the systemd service ollama-proxy under the system user ollama,
 on the Node.js runtime the package carries in /usr/lib/ollama-proxy/node.
EOF
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
  xargs -0 md5sum) >"$root/DEBIAN/md5sums"
find "$root" -newermt "@$SOURCE_DATE_EPOCH" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

deb="$out_dir/ollama-proxy_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" --build "$root" "$deb" >&2
rm -rf "$work"
say "$(du -h "$deb" | cut -f1) $(basename "$deb")"
echo "$deb"
