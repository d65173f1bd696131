#!/usr/bin/env bash
# Proves the .deb on this machine, as root: it builds, passes lintian and the unit's security
# analysis, installs, serves a real authenticated request as the ollama user, keeps an edited
# config across an upgrade, and purges its data but not the user. Called by .ci/run after
# `npm test`; needs lintian and curl (.ci/run installs them).
#
# It installs and purges the package ollama-proxy on the machine it runs on, and removes the
# ollama user again if it created it, so that a second run starts from the same state.
# systemd is not PID 1 here: the service's ExecStartPre and ExecStart run by hand, as the
# unit would run them (user ollama, umask 0077, in /var/lib/ollama-proxy).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
cd "$repo"

step_started=$SECONDS
steps=0
# A check starts (counted for the summary); a note only says what happened.
step() {
  steps=$((steps + 1))
  note "$@"
}
note() {
  echo "ci-deb: [$((SECONDS - step_started)) s] $*"
}
fail() {
  echo "ci-deb: FAILED: $*" >&2
  exit 1
}
# Polls "$@" until it succeeds, for at most $2 seconds.
wait_for() {
  local what="$1" deadline=$((SECONDS + $2))
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out after $2 s waiting for: $what"
    sleep 0.1
  done
}

[ "$(id -u)" = 0 ] || fail "run as root: the test installs the package"
if dpkg-query -W -f='${Status}' ollama-proxy 2>/dev/null | grep -q installed; then
  # A run that was killed can leave the package behind; CI clears it, a person decides.
  [ "${CI:-}" = true ] || fail "ollama-proxy is installed here; purge it first (dpkg -P ollama-proxy)"
  dpkg -P ollama-proxy >/dev/null
fi
had_user=no
getent passwd ollama >/dev/null && had_user=yes

work="$(mktemp -d /tmp/ci-deb.XXXXXX)"
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if dpkg-query -W -f='${Status}' ollama-proxy 2>/dev/null | grep -q installed; then
    dpkg -P ollama-proxy >/dev/null || true
  fi
  if [ "$had_user" = no ] && getent passwd ollama >/dev/null; then
    userdel ollama || true
    getent group ollama >/dev/null && groupdel ollama
    rm -rf /usr/share/ollama
  fi
  if [ $rc -ne 0 ] && [ -s "$work/serve.log" ]; then
    echo "ci-deb: the last serve's output:" >&2
    cat "$work/serve.log" >&2
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

# --- build, lint, analyse -----------------------------------------------------------------
step "building the package"
deb="$(OUT_DIR="$work" bash "$here/build-deb.sh" 2>"$work/build.log" | tail -n1)" ||
  { cat "$work/build.log" >&2; fail "npm run deb"; }
[ -f "$deb" ] || fail "build-deb.sh did not print the package's path (got: $deb)"
note "built $(basename "$deb"), $(du -h "$deb" | cut -f1)"

step "lintian --fail-on error,warning"
lint_rc=0
lintian --fail-on error,warning "$deb" >"$work/lintian.out" 2>&1 || lint_rc=$?
grep -v 'running with root privileges' "$work/lintian.out" || true
[ $lint_rc -eq 0 ] || fail "lintian found errors or warnings"
echo "lintian: no errors, no warnings"

step "systemd-analyze security --offline=yes"
exposure="$(systemd-analyze security --offline=yes --no-pager "$here/ollama-proxy.service" 2>&1 |
  sed -n 's/.*Overall exposure level for ollama-proxy.service: \([0-9.]*\).*/\1/p')"
[ -n "$exposure" ] || fail "systemd-analyze printed no exposure level"
echo "exposure: $exposure (at most 2.0)"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "exposure $exposure > 2.0"

# --- install ------------------------------------------------------------------------------
step "dpkg -i"
dpkg -i "$deb" </dev/null
getent passwd ollama | grep -q ':/usr/share/ollama:' || fail "user ollama with home /usr/share/ollama"
[ "$(stat -c '%U:%G %a' /etc/ollama-proxy/config.yml)" = "root:ollama 640" ] ||
  fail "config.yml is $(stat -c '%U:%G %a' /etc/ollama-proxy/config.yml), not root:ollama 640"
for dir in /var/lib/ollama-proxy /var/log/ollama-proxy; do
  [ "$(stat -c '%U:%G %a' "$dir")" = "ollama:ollama 750" ] || fail "$dir is $(stat -c '%U:%G %a' "$dir")"
done

step "systemd-analyze verify (must print nothing)"
verify="$(systemd-analyze verify /lib/systemd/system/ollama-proxy.service 2>&1)" || fail "verify: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify said: $verify"

step "ollama-proxy --version"
[ "$(ollama-proxy --version)" = "$(node -p 'require("./package.json").version')" ] || fail "--version"

step "root creates a user"
token="$(ollama-proxy users create alice --json | node -e 'process.stdin.on("data", (d) => console.log(JSON.parse(d).token))')"
[[ "$token" == olp_* ]] || fail "users create printed no token"
[ -z "$(find /var/lib/ollama-proxy /var/log/ollama-proxy -not -user ollama)" ] ||
  fail "root left files the service cannot own: $(find /var/lib/ollama-proxy -not -user ollama)"

# --- serve as the service would, behind a fake Ollama -------------------------------------
[ -f .build/test/fixtures/fake-ollama.js ] || npm run --silent test:build
fake_module="$(node -p 'require("url").pathToFileURL(process.argv[1]).href' "$repo/.build/test/fixtures/fake-ollama.js")"
node --input-type=module -e "
  import { startFakeOllama } from '$fake_module';
  const fake = await startFakeOllama({ name: 'gpu', models: [{ name: 'llama3:latest', loaded: true }] });
  console.log(fake.port);
  process.on('SIGTERM', () => fake.close().then(() => process.exit(0)));
" >"$work/fake.port" &
pids+=($!)
wait_for "the fake Ollama's port" 20 test -s "$work/fake.port"
fake_port="$(cat "$work/fake.port")"

note "editing /etc/ollama-proxy/config.yml: both servers → the fake Ollama on $fake_port"
sed -i -e "s/^\(  bind:\).*/\1 \"127.0.0.1\"/" \
  -e "s/^\(      port:\) 1143[56]\b/\1 $fake_port/" /etc/ollama-proxy/config.yml
grep -q "port: $fake_port" /etc/ollama-proxy/config.yml || fail "the config edit did not apply"
edited_sum="$(sha256sum </etc/ollama-proxy/config.yml)"

# Runs the unit's ExecStartPre, then its ExecStart (on port 0), as user ollama; checks
# `ollama-proxy health` says ok and that alice's token gets a generation through; stops it
# with SIGTERM as systemd would and expects exit 0.
serve_and_probe() {
  local as=(setpriv --reuid=ollama --regid=ollama --init-groups --no-new-privs)
  (cd /var/lib/ollama-proxy && umask 0077 && "${as[@]}" /usr/bin/ollama-proxy config check --offline) >/dev/null ||
    fail "ExecStartPre (config check) as ollama"
  : >"$work/serve.log"
  (cd /var/lib/ollama-proxy && umask 0077 && exec "${as[@]}" /usr/bin/ollama-proxy serve --port 0) \
    2>"$work/serve.log" &
  local serve=$!
  pids+=($serve)
  wait_for "ollama-proxy serve to listen" 30 grep -q ' listening on ' "$work/serve.log"
  local url
  url="$(sed -n 's/.* listening on \(http:[^ ]*\).*/\1/p' "$work/serve.log")"
  note "serving on $url as $(ps -o user= -p "$serve")"
  wait_for "ollama-proxy health to exit 0" 30 ollama-proxy health --url "$url" --timeout 1000 >/dev/null
  ollama-proxy health --url "$url"
  # Without --url: the address serve recorded in its state folder (port 0 here, not proxy_port).
  ollama-proxy health >/dev/null || fail "health without --url did not find the running server"

  local answer
  answer="$(curl -fsS -H "Authorization: Bearer $token" -d '{"model":"llama3","prompt":"hi","stream":false}' \
    "$url/api/generate")" || fail "an authenticated generation through the proxy"
  [ "$(node -p 'JSON.parse(process.argv[1]).response' "$answer")" = "w0 w1 w2 " ] || fail "answer: $answer"
  [ "$(curl -s -o /dev/null -w '%{http_code}' -d '{"model":"llama3"}' "$url/api/generate")" = 401 ] ||
    fail "a request without a token must get 401"

  kill -TERM "$serve"
  local rc=0
  wait "$serve" || rc=$?
  [ $rc -eq 0 ] || fail "serve exited $rc on SIGTERM"
  [ ! -e /var/lib/ollama-proxy/ollama-proxy-production.runtime.json ] || fail "the runtime file outlived serve"
  # application.log always reaches the live (dated, rotated) file.
  tail -n1 /var/log/ollama-proxy/application.log | grep -q '"msg":"stopped"' ||
    fail "the application log does not end with \"stopped\": $(ls -l /var/log/ollama-proxy)"
  [ -z "$(find /var/lib/ollama-proxy /var/log/ollama-proxy -not -user ollama)" ] ||
    fail "files not owned by ollama: $(find /var/lib/ollama-proxy /var/log/ollama-proxy -not -user ollama)"
}
step "serve as ollama, probe, request"
serve_and_probe

# --- upgrade ------------------------------------------------------------------------------
step "building revision 2 for the upgrade"
deb2="$(OUT_DIR="$work" DEB_REVISION=2 DEB_COMPRESSION=gzip bash "$here/build-deb.sh" 2>"$work/build2.log" |
  tail -n1)" || { cat "$work/build2.log" >&2; fail "the revision 2 build"; }
step "upgrading to $(basename "$deb2") (no prompt: stdin is closed), keeping the edited config"
dpkg -i "$deb2" </dev/null
[ "$(dpkg-query -W -f='${Version}' ollama-proxy)" = "$(node -p 'require("./package.json").version')-2" ] ||
  fail "the upgrade did not install revision 2"
[ "$(sha256sum </etc/ollama-proxy/config.yml)" = "$edited_sum" ] || fail "the upgrade changed the edited config"
[ "$(stat -c '%U:%G %a' /etc/ollama-proxy/config.yml)" = "root:ollama 640" ] || fail "config.yml mode after upgrade"
ollama-proxy users list | grep -q '^alice ' || fail "alice is gone after the upgrade"
step "serve after the upgrade, with the kept config and database"
serve_and_probe

# --- purge --------------------------------------------------------------------------------
step "dpkg -P"
dpkg -P ollama-proxy </dev/null
for gone in /var/lib/ollama-proxy /var/log/ollama-proxy /etc/ollama-proxy /usr/lib/ollama-proxy \
  /etc/systemd/system/multi-user.target.wants/ollama-proxy.service; do
  [ ! -e "$gone" ] || fail "$gone is still there after purge"
done
! dpkg-statoverride --list /etc/ollama-proxy/config.yml >/dev/null || fail "the statoverride survived purge"
getent passwd ollama >/dev/null || fail "purge removed the ollama user (Ollama shares it)"

echo "ci-deb: the package is proven in $((SECONDS - step_started)) s"
# The plain summary CI reads: every step above is a check, and any failure exits earlier.
echo "ci-deb: $steps passed, 0 failed"
