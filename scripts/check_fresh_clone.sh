#!/usr/bin/env bash
# Fresh-clone check: clone this repository into a temporary folder, `make run`
# there with nothing configured (no REDIS_URL: embedded Redis; no DATABASE_URL:
# SQLite; a temporary PLATFORM_DATA_DIR; a free PORT), wait until /healthz
# answers 200, get an SDK token the documented way and use it, then SIGTERM
# and check that every process the launcher started is gone within 10 s.
#
# Clones HEAD (what CI tests). FRESH_CLONE_WORKTREE=1 also copies uncommitted
# changes, to try a change before committing it.
set -euo pipefail

HEALTH_TIMEOUT_S="${HEALTH_TIMEOUT_S:-240}"
STOP_TIMEOUT_S=10
root="$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)"
# A short path: the embedded Redis socket lives under it (unix sockets: 107 bytes).
tmp="$(mktemp -d /tmp/fresh.XXXXXX)"
log="$tmp/run.log"
pgid=""

say() { printf 'fresh-clone | %s\n' "$*"; }
fail() {
  say "FAILED: $*"
  say "last lines of the make run output:"
  tail -n 60 "$log" 2>/dev/null | sed 's/^/    /' || true
  mkdir -p "$root/test-artifacts"
  cp "$log" "$root/test-artifacts/fresh-clone-run.log" 2>/dev/null || true
  exit 1
}
cleanup() {
  if [ -n "$pgid" ]; then kill -KILL -- "-$pgid" 2>/dev/null || true; fi
  for pid in ${descendants:-}; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# pids of every live (non-zombie) descendant of $1
descendants_of() {
  ps -e -o pid=,ppid=,stat= | awk -v root="$1" '
    { parent[$1] = $2; stat[$1] = $3 }
    END {
      found[root] = 1; changed = 1
      while (changed) {
        changed = 0
        for (p in parent) if (!(p in found) && (parent[p] in found)) { found[p] = 1; changed = 1 }
      }
      for (p in found) if (p != root && stat[p] !~ /^Z/) print p
    }'
}
alive() { # the pids among $@ that still run (zombies count as stopped)
  for pid in "$@"; do
    state="$(ps -o stat= -p "$pid" 2>/dev/null || true)"
    if [ -n "$state" ] && [[ "$state" != Z* ]]; then echo "$pid"; fi
  done
}

say "cloning $root into $tmp/repo"
git clone --quiet "$root" "$tmp/repo"
if [ "${FRESH_CLONE_WORKTREE:-0}" = "1" ]; then
  (cd "$root" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 -I{} sh -c 'test -e "{}" && cp --parents -a "{}" "'"$tmp/repo"'/" || true')
fi

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
say "make run on $url (embedded Redis, SQLite, data in $tmp/data)"
cd "$tmp/repo"
# setsid: make and the launcher get their own process group, as in a terminal.
env -u REDIS_URL -u DATABASE_URL -u PLATFORM_ADMIN_PASSWORD \
  PLATFORM_DATA_DIR="$tmp/data" PORT="$port" \
  setsid make run >"$log" 2>&1 </dev/null &
make_pid=$!
pgid="$make_pid"

# Prints the /healthz status and body; exit 0 only on 200.
probe() {
  python3 - "$url/healthz" <<'PY'
import sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as resp:
        print(resp.status, resp.read().decode()[:400])
        sys.exit(0 if resp.status == 200 else 1)
except urllib.error.HTTPError as exc:
    print(exc.code, exc.read().decode()[:400])
except OSError as exc:
    print("no answer:", exc)
sys.exit(1)
PY
}

started=$SECONDS
until last="$(probe)"; do
  kill -0 "$make_pid" 2>/dev/null || fail "make run exited before /healthz answered 200"
  [ $((SECONDS - started)) -lt "$HEALTH_TIMEOUT_S" ] ||
    fail "/healthz not 200 after ${HEALTH_TIMEOUT_S} s: $last"
  sleep 1
done
say "/healthz answered 200 after $((SECONDS - started)) s"

grep -q "Created user admin with password" "$log" || fail "the first start did not print the admin password"

token="$(PLATFORM_DATA_DIR="$tmp/data" env -u REDIS_URL -u DATABASE_URL \
  .venv/bin/python manage.py create_sdk_token admin | tail -n 1)"
python3 - "$url" "$token" <<'PY' || fail "the SDK token from create_sdk_token does not work"
import json, sys, urllib.request
url, token = sys.argv[1], sys.argv[2]
req = urllib.request.Request(f"{url}/api/v1/auth/refresh", data=json.dumps({"refresh_token": token}).encode(), headers={"Content-Type": "application/json"})
access = json.load(urllib.request.urlopen(req, timeout=10))["access_token"]
req = urllib.request.Request(f"{url}/api/v1/users/me", headers={"Authorization": f"Bearer {access}"})
me = json.load(urllib.request.urlopen(req, timeout=10))
assert me["name"] == "admin", me
PY
say "create_sdk_token admin gives a working SDK token"

# shellcheck disable=SC2207
descendants=($(descendants_of "$make_pid"))
say "sending SIGTERM to make run and its launcher (${#descendants[@]} processes below make)"
kill -TERM -- "-$pgid"
stop_started=$SECONDS
while :; do
  left=($(alive "$make_pid" "${descendants[@]}"))
  [ ${#left[@]} -eq 0 ] && break
  if [ $((SECONDS - stop_started)) -ge "$STOP_TIMEOUT_S" ]; then
    ps -o pid,ppid,stat,etime,args -p "$(IFS=,; echo "${left[*]}")" || true
    fail "${#left[@]} processes still running ${STOP_TIMEOUT_S} s after SIGTERM"
  fi
  sleep 0.2
done
wait "$make_pid" 2>/dev/null || true
pgid=""
grep -q "stopped." "$log" || fail "the launcher did not report a clean stop"
say "every process stopped within $((SECONDS - stop_started)) s of SIGTERM"
say "OK"
