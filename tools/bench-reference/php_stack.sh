# tools/bench-reference/php_stack.sh: the case study's stack as a reference
# for tools/bench -- nginx + PHP-FPM answering BatchGetProducts in Connect
# JSON from one Redis MGET (batch_get.php says why this is PHP's most
# favourable case). Source it (after tools/lib.sh, whose log/die/free_port
# it uses when defined); do not run it.
#
#   populate_php_stack_keys REDIS_PORT KEYS [PREFIX [CONNECT_URL [VALUE_BYTES]]]
#       writes bench-ref:product:<PREFIX>%012d (0 .. KEYS-1) = product JSON;
#       with CONNECT_URL (http://127.0.0.1:HTTP_PORT of a catalog-server with
#       --http_listen_address, after `catalog-bench populate`) copied from
#       the service's own Connect JSON answers, else generated like them
#       (populate.php). PREFIX defaults to bench, VALUE_BYTES to 600.
#   start_php_stack WORKDIR REDIS_PORT
#       php-fpm and nginx in the background, everything under WORKDIR
#       (configs, sockets, pids, logs, temp files); returns once nginx
#       answers on its port and every worker/child is up. Prints nothing;
#       sets PHP_STACK_PORT (nginx, 127.0.0.1), PHP_STACK_URL (the Connect
#       path on it), PHP_STACK_PIDS ("pid pid ...": php-fpm master and
#       children, nginx master and workers, for CPU accounting from
#       /proc/<pid>/stat; pm = static and no recycling keep them fixed), and
#       PHP_STACK_FPM_PID / PHP_STACK_NGINX_PID (the masters).
#   stop_php_stack
#       stops both (TERM, then KILL after 5 s), only the processes it
#       started; safe to call twice or when nothing was started (put it in
#       the caller's cleanup trap).
#
# Knobs (environment, read by start_php_stack):
#   PHP_STACK_PORT_WANTED   port for nginx (default: free_port)
#   PHP_STACK_NGINX_WORKERS nginx worker_processes (default: nproc, which is
#                           what `worker_processes auto` picks; 2 here)
#   PHP_STACK_FPM_CHILDREN  pm.max_children (default: 2 x nproc; 4 here)
#   PHP_STACK_JIT           1: also opcache JIT (tracing, 64 MB); default 0 --
#                           this script's time is in calls to C functions
#                           (json_decode, phpredis, implode), which a JIT
#                           does not speed up
#   PHP_FPM=/usr/sbin/php-fpm8.2  NGINX=/usr/sbin/nginx  PHP_CLI=php
# Packages: php8.2-fpm (brings php8.2-opcache), php-redis, nginx (on Debian
# 12 the package holding /usr/sbin/nginx; nginx-light only adds a module),
# php-cli for the populate step; wrk for post.lua.
#
# Run as root (tools/bench is), the workers run as root too (nginx `user
# root root`, php-fpm -R with user = root): the work dir sits under the
# caller's 0700 mktemp dir, which www-data could not enter; the CPU per call
# is the same. As any other user, no user directive is written.

PHP_STACK_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PHP_STACK_DIR=""
PHP_STACK_PIDS=""
PHP_STACK_FPM_PID=""
PHP_STACK_NGINX_PID=""

declare -F log >/dev/null || log() { printf '[php_stack] %s\n' "$*" >&2; }
declare -F die >/dev/null || die() {
  log "error: $*"
  exit 1
}

# _php_stack_fill TEMPLATE OUT NAME=VALUE...: @NAME@ replaced by VALUE.
_php_stack_fill() {
  local text kv
  text="$(<"$1")"
  for kv in "${@:3}"; do text="${text//"@${kv%%=*}@"/"${kv#*=}"}"; done
  printf '%s\n' "$text" >"$2"
}

_php_stack_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

_php_stack_children() { pgrep -P "$1" 2>/dev/null | tr '\n' ' ' || true; }

# _php_stack_fail WHAT: the logs' tails, the stack stopped, then die.
_php_stack_fail() {
  local f
  for f in "$PHP_STACK_DIR"/php-fpm/*.log "$PHP_STACK_DIR"/nginx/*.log; do
    [ -s "$f" ] && { echo "--- $f" >&2; tail -10 "$f" >&2; }
  done
  stop_php_stack
  die "php stack: $1"
}

populate_php_stack_keys() { # REDIS_PORT KEYS [PREFIX [CONNECT_URL [VALUE_BYTES]]]
  local args=(--redis-port="$1" --keys="$2" --prefix="${3:-bench}" --value-bytes="${5:-600}")
  [ -n "${4:-}" ] && args+=(--from="$4")
  "${PHP_CLI:-php}" "$PHP_STACK_HERE/populate.php" "${args[@]}" || die "populate.php failed"
}

start_php_stack() { # WORKDIR REDIS_PORT
  local dir="$1" redis_port="$2"
  local fpm="${PHP_FPM:-/usr/sbin/php-fpm8.2}" nginx="${NGINX:-/usr/sbin/nginx}"
  local cores workers children user_line="" user_lines="" fpm_flags=() i
  [ -x "$fpm" ] || die "php stack: no $fpm (apt-get install php8.2-fpm)"
  [ -x "$nginx" ] || die "php stack: no $nginx (apt-get install nginx)"
  "$fpm" -m 2>/dev/null | grep -qx redis || die "php stack: $fpm lacks the redis extension (apt-get install php-redis)"
  cores="$(nproc)"
  workers="${PHP_STACK_NGINX_WORKERS:-$cores}"
  children="${PHP_STACK_FPM_CHILDREN:-$((2 * cores))}"
  if [ -n "${PHP_STACK_PORT_WANTED:-}" ]; then
    PHP_STACK_PORT="$PHP_STACK_PORT_WANTED"
  elif declare -F free_port >/dev/null; then
    PHP_STACK_PORT="$(free_port)"
  else
    PHP_STACK_PORT=$((20000 + RANDOM % 12000))
  fi
  if [ "$(id -u)" -eq 0 ]; then
    user_line="user root root;"
    user_lines=$'user = root\ngroup = root'
    fpm_flags+=(--allow-to-run-as-root)
  fi

  PHP_STACK_DIR="$(mkdir -p "$dir" && cd "$dir" && pwd)"
  dir="$PHP_STACK_DIR"
  mkdir -p "$dir/www" "$dir/php-fpm" "$dir/nginx/tmp"
  cp "$PHP_STACK_HERE/batch_get.php" "$dir/www/batch_get.php"
  _php_stack_fill "$PHP_STACK_HERE/php-fpm.conf.in" "$dir/php-fpm/php-fpm.conf" DIR="$dir" \
    CHILDREN="$children" REDIS_PORT="$redis_port" USER_LINES="$user_lines"
  _php_stack_fill "$PHP_STACK_HERE/nginx.conf.in" "$dir/nginx/nginx.conf" DIR="$dir" \
    PORT="$PHP_STACK_PORT" WORKERS="$workers" USER_LINE="$user_line"

  # opcache as in production: on, scripts never re-checked on disk; and
  # cached from the first request (file_update_protection=0: by default a
  # script changed in the last 2 s, as the copy above is, is not cached).
  fpm_flags+=(--nodaemonize --fpm-config "$dir/php-fpm/php-fpm.conf"
    -d opcache.enable=1 -d opcache.validate_timestamps=0 -d opcache.file_update_protection=0
    -d opcache.memory_consumption=64
    -d opcache.interned_strings_buffer=8 -d expose_php=0 -d display_errors=0)
  [ "${PHP_STACK_JIT:-0}" = 1 ] && fpm_flags+=(-d opcache.jit=tracing -d opcache.jit_buffer_size=64M)
  local nginx_flags=(-p "$dir/nginx/" -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log")

  "$fpm" "${fpm_flags[@]}" -t >"$dir/php-fpm/configtest.log" 2>&1 ||
    { cat "$dir/php-fpm/configtest.log" >&2; die "php stack: php-fpm -t failed"; }
  "$nginx" "${nginx_flags[@]}" -t >"$dir/nginx/configtest.log" 2>&1 ||
    { cat "$dir/nginx/configtest.log" >&2; die "php stack: nginx -t failed"; }

  "$fpm" "${fpm_flags[@]}" >>"$dir/php-fpm/stdout.log" 2>&1 &
  PHP_STACK_FPM_PID=$!
  local fpm_children="" nginx_workers=""
  for ((i = 0; i < 100; i++)); do
    _php_stack_alive "$PHP_STACK_FPM_PID" || _php_stack_fail "php-fpm exited"
    fpm_children="$(_php_stack_children "$PHP_STACK_FPM_PID")"
    [ -S "$dir/php-fpm/php-fpm.sock" ] && [ "$(wc -w <<<"$fpm_children")" -ge "$children" ] && break
    sleep 0.1
  done
  [ "$i" -lt 100 ] || _php_stack_fail "php-fpm: no socket or not $children children within 10 s"

  "$nginx" "${nginx_flags[@]}" >>"$dir/nginx/stdout.log" 2>&1 &
  PHP_STACK_NGINX_PID=$!
  for ((i = 0; i < 100; i++)); do
    _php_stack_alive "$PHP_STACK_NGINX_PID" || _php_stack_fail "nginx exited"
    nginx_workers="$(_php_stack_children "$PHP_STACK_NGINX_PID")"
    _php_stack_port_open "$PHP_STACK_PORT" && [ "$(wc -w <<<"$nginx_workers")" -ge "$workers" ] && break
    sleep 0.1
  done
  [ "$i" -lt 100 ] || _php_stack_fail "nginx: port $PHP_STACK_PORT not open or not $workers workers within 10 s"

  PHP_STACK_URL="http://127.0.0.1:$PHP_STACK_PORT/catalog.v1.CatalogService/BatchGetProducts"
  PHP_STACK_PIDS="$(echo $PHP_STACK_FPM_PID $fpm_children $PHP_STACK_NGINX_PID $nginx_workers)"
}

# _php_stack_alive PID: running (a zombie, exited but not yet reaped, is not).
_php_stack_alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [ "${stat%% *}" != Z ]
}

stop_php_stack() {
  local pid all="$PHP_STACK_PIDS" alive i
  # Children looked up again, in case start failed half-way.
  for pid in $PHP_STACK_FPM_PID $PHP_STACK_NGINX_PID; do all+=" $pid $(_php_stack_children "$pid")"; done
  for pid in $PHP_STACK_NGINX_PID $PHP_STACK_FPM_PID; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do
    alive=""
    for pid in $all; do _php_stack_alive "$pid" && alive+=" $pid"; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for pid in $alive; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in $PHP_STACK_NGINX_PID $PHP_STACK_FPM_PID; do wait "$pid" 2>/dev/null || true; done
  PHP_STACK_PIDS=""
  PHP_STACK_FPM_PID=""
  PHP_STACK_NGINX_PID=""
}
