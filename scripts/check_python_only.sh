#!/usr/bin/env bash
# Python-only check: clone this repository into a temporary folder and run
# `make test-fast` there as on a machine with Python and nothing else:
# DATABASE_URL and REDIS_URL unset (the session starts PostgreSQL and Redis
# from wheels) and a PATH on which initdb, redis-server and bwrap cannot be
# found. Each PATH folder holding one of those is replaced by a folder of
# links to everything else in it, so every other tool stays where it was.
#
# Clones HEAD (what CI tests). FRESH_CLONE_WORKTREE=1 also copies uncommitted
# changes, to try a change before committing it.
set -euo pipefail

HIDDEN=(initdb pg_ctl postgres redis-server bwrap)
root="$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)"
tmp="$(mktemp -d /tmp/pyonly.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

say() { printf 'python-only | %s\n' "$*"; }

hides() { # does folder $1 hold one of HIDDEN?
  for name in "${HIDDEN[@]}"; do [ -e "$1/$name" ] && return 0; done
  return 1
}

path=()
IFS=: read -r -a folders <<<"$PATH"
for folder in "${folders[@]}"; do
  if [ -d "$folder" ] && hides "$folder"; then
    farm="$tmp/path/$(printf '%s' "$folder" | tr / _)"
    mkdir -p "$farm"
    for entry in "$folder"/* "$folder"/.[!.]*; do
      name="${entry##*/}"
      [ -e "$entry" ] || continue
      [[ " ${HIDDEN[*]} " == *" $name "* ]] && continue
      ln -s "$entry" "$farm/$name"
    done
    path+=("$farm")
  else
    path+=("$folder")
  fi
done
clean_path="$(IFS=:; echo "${path[*]}")"
for name in "${HIDDEN[@]}"; do
  if found="$(PATH="$clean_path" command -v "$name")"; then
    say "FAILED: $name is still on the PATH: $found"
    exit 1
  fi
done

say "cloning $root into $tmp/repo"
git clone --quiet "$root" "$tmp/repo"
if [ "${FRESH_CLONE_WORKTREE:-0}" = "1" ]; then
  (cd "$root" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 -I{} sh -c 'test -e "{}" && cp --parents -a "{}" "'"$tmp/repo"'/" || true')
fi

say "make test-fast with DATABASE_URL/REDIS_URL unset and no ${HIDDEN[*]} on the PATH"
started=$SECONDS
cd "$tmp/repo"
env -u DATABASE_URL -u REDIS_URL PATH="$clean_path" make test-fast </dev/null
say "OK: installed and passed in $((SECONDS - started)) s"
