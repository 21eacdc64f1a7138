#!/usr/bin/env bash
# Smoke test of a running Errand (the deploy workflow runs it after `helm upgrade`):
#   scripts/smoke-test.sh BASE_URL        e.g. http://127.0.0.1:8080
# 1. /readyz answers 200 (waits up to SMOKE_WAIT_SECS, default 120);
# 2. a task round trip as one account: log in (or sign up the first time), create a task
#    with a unique word, read it back, find it by search, complete it, delete it (404 after).
# The account is SMOKE_EMAIL / SMOKE_PASSWORD (a deployment's CI secrets), or a fresh one
# per run when they are unset. Exits non-zero, saying which step failed.
set -euo pipefail

BASE=${1:?usage: $0 BASE_URL}
BASE=${BASE%/}
API="$BASE/api/v1"
WAIT=${SMOKE_WAIT_SECS:-120}
run_id="$(date +%s)-$RANDOM"
EMAIL=${SMOKE_EMAIL:-"smoke-$run_id@example.com"}
PASSWORD=${SMOKE_PASSWORD:-"smoke-$run_id-$RANDOM$RANDOM"}

say() { echo "smoke-test: $*" >&2; }
die() { say "FAILED: $*"; exit 1; }
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }

# Prints the body; the status goes to the file named by $status_file.
status_file=$(mktemp)
trap 'rm -f "$status_file"' EXIT
call() { # METHOD PATH [BODY]
  local method=$1 path=$2 body=${3:-}
  local args=(-sS --max-time 20 -X "$method" -o /dev/stdout -w '%{http_code}' -H 'content-type: application/json')
  [ -n "${TOKEN:-}" ] && args+=(-H "authorization: Bearer $TOKEN")
  [ -n "$body" ] && args+=(--data "$body")
  local out
  out=$(curl "${args[@]}" "$API$path") || die "$method $path: no answer"
  echo "${out: -3}" >"$status_file"
  printf '%s' "${out%???}"
}
status() { cat "$status_file"; }
expect() { # WHAT WANT
  [ "$(status)" = "$2" ] || die "$1: HTTP $(status), want $2"
}

# 1. Ready.
ready=""
for ((i = 0; i < WAIT; i += 2)); do
  if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE/readyz")" = 200 ]; then ready=yes; break; fi
  sleep 2
done
[ -n "$ready" ] || die "$BASE/readyz did not answer 200 within ${WAIT}s"
say "/readyz: 200"

# 2. A task round trip.
credentials=$(python3 -c 'import json,sys; print(json.dumps({"email": sys.argv[1], "password": sys.argv[2]}))' "$EMAIL" "$PASSWORD")
body=$(call POST /auth/login "$credentials")
if [ "$(status)" = 401 ]; then
  body=$(call POST /auth/signup "$credentials")
  expect "sign-up of $EMAIL" 201
  say "signed up $EMAIL"
else
  expect "log-in as $EMAIL" 200
fi
TOKEN=$(printf '%s' "$body" | json 'd["token"]')

word="smoke${run_id//-/}"
body=$(call POST /tasks "{\"title\": \"Errand smoke test $word\", \"due\": \"tomorrow 9am\"}")
expect "creating a task" 201
id=$(printf '%s' "$body" | json 'd["id"]')
say "created task $id"

body=$(call GET "/tasks/$id")
expect "reading the task back" 200
[ "$(printf '%s' "$body" | json 'd["title"]')" = "Errand smoke test $word" ] || die "the task read back has another title"

body=$(call GET "/tasks?q=$word")
expect "searching for the task" 200
printf '%s' "$body" | json '[t["id"] for t in d["items"]]' | grep -q "$id" || die "search for $word does not find task $id"
say "found it by search"

body=$(call POST "/tasks/$id/complete")
expect "completing the task" 200
[ "$(printf '%s' "$body" | json 'd["status"]')" = "done" ] || die "the completed task's status is not done"

call DELETE "/tasks/$id" >/dev/null
expect "deleting the task" 204
call GET "/tasks/$id" >/dev/null
expect "reading the deleted task" 404
say "completed and deleted it"

call POST /auth/logout >/dev/null
expect "logging out" 204
say "passed against $BASE"
