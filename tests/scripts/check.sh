# Sourced by the script tests: `check DESCRIPTION COMMAND...` runs the
# command and prints "ok" or "FAILED" for it; $failures counts the failures.
failures=0
check() {
    local what=$1; shift
    if "$@"; then echo "  ok: $what"; else echo "  FAILED: $what"; failures=$((failures + 1)); fi
}

# `fails_naming DESCRIPTION NEEDLE COMMAND...` runs a command that must fail:
# "ok" when its status is non-zero and its stderr holds NEEDLE (run in the
# current directory: out.txt and err.txt are its output).
fails_naming() {
    local what=$1 needle=$2; shift 2
    "$@" > out.txt 2> err.txt
    local rc=$?
    if [ $rc -ne 0 ] && grep -qF -- "$needle" err.txt; then echo "  ok: $what: $(head -c 200 err.txt)"
    else echo "  FAILED: $what (status $rc): $(cat err.txt)"; failures=$((failures + 1)); fi
}

# `start_server MODEL_DIR LOG [SERVE OPTIONS...]` starts `$verto serve` on a free port in the
# background and waits until /healthz answers 200: $server_pid and $port are
# set (the caller's EXIT trap kills $server_pid). `stop_server` stops it with
# SIGTERM and waits.
server_pid=
start_server() {
    "$verto" serve --model "$1" --port 0 "${@:3}" 2>"$2" &
    server_pid=$!
    port=
    for _ in $(seq 1 200); do
        port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$2" 2>/dev/null | grep -o '[0-9]*$' || true)
        [ -n "$port" ] && curl -s -o /dev/null "http://127.0.0.1:$port/healthz" -w '%{http_code}' | grep -q 200 && return 0
        kill -0 "$server_pid" 2>/dev/null || { echo "error: verto serve exited:"; cat "$2"; exit 1; }
        sleep 0.1
    done
    echo "error: verto serve did not answer /healthz"; exit 1
}
# kill_server: ends a server still running (for the caller's EXIT trap).
kill_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
}
stop_server() {
    kill -TERM "$server_pid"
    wait "$server_pid" || true
    server_pid=
}
