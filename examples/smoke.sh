#!/usr/bin/env bash
# Smoke run of the example service: builds examples/api and examples/loadgen,
# starts the api on a free loopback port, drives it with loadgen for a few
# seconds and fails unless loadgen's -check passes (cache hits, 429s for every
# abusive client, no 5xx, no stale read after a write). Takes about 15 s.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${SMOKE_DURATION:-5s}"
work=$(mktemp -d "${TMPDIR:-/tmp}/stout-smoke.XXXXXX")
api_pid=""
cleanup() {
	if [ -n "$api_pid" ] && kill -0 "$api_pid" 2>/dev/null; then
		kill -TERM "$api_pid" 2>/dev/null || true
		wait "$api_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/api" ./examples/api
go build -o "$work/loadgen" ./examples/loadgen

# Port 0: the kernel picks a free loopback port and the api logs it. The log
# exists before the api starts: the background redirection opens it
# asynchronously, and reading a missing file would end the script.
: >"$work/api.log"
"$work/api" -addr 127.0.0.1:0 -trust-loopback-proxy -latency 2ms 2>"$work/api.log" &
api_pid=$!
addr=""
for _ in $(seq 1 150); do
	addr=$(sed -n 's/.*msg=listening addr=\([0-9.:]*\).*/\1/p' "$work/api.log" | head -n 1) || true
	[ -n "$addr" ] && break
	kill -0 "$api_pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$addr" ]; then
	echo "api did not start:" >&2
	cat "$work/api.log" >&2
	exit 1
fi

status=0
"$work/loadgen" -target "http://$addr" -duration "$DURATION" -concurrency 8 -check || status=$?

kill -TERM "$api_pid"
if ! wait "$api_pid"; then
	echo "api did not shut down cleanly:" >&2
	status=1
fi
api_pid=""
if [ "$status" -ne 0 ]; then
	echo "--- api log" >&2
	tail -n 50 "$work/api.log" >&2
	exit "$status"
fi
grep -q 'shutting down' "$work/api.log" || { echo "api log lacks the shutdown line" >&2; exit 1; }
echo "smoke: ok"
