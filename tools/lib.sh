# Shared by tools/run, tools/test and tools/bench. Source it; do not run it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${CATALOG_BUILD_DIR:-$ROOT/build}"

APT_PACKAGES=(
  build-essential cmake pkg-config ccache git
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev grpc-proto
  libabsl-dev libhiredis-dev libevent-dev libssl-dev openssl libmysqlcppconn-dev catch2 libcivetweb-dev civetweb
  redis-server redis-sentinel redis-tools mariadb-server mariadb-client
  nghttp2-client libnghttp2-dev prometheus haproxy
  python3 python3-grpcio python3-protobuf php-cli php-curl php-bcmath php-google-protobuf composer
)

log() { printf '\033[1m[%s]\033[0m %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Installs whichever of APT_PACKAGES are missing (nothing to do: no apt run).
install_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    as_root apt-get update -qq
    # Debian's maintainer scripts would start system Redis/MariaDB: we run
    # our own under .local/, so keep the system ones from starting.
    as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 \
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# npm-installed tools, each pinned by a committed package-lock.json: buf
# (tools/npm) for `buf curl` and the proto gate, and the TypeScript client's
# runtime and generator (clients/typescript). Debian's nodejs/npm are
# installed only where no npm is on the PATH.
BUF="$ROOT/tools/npm/node_modules/.bin/buf"
install_node_tools() {
  command -v npm >/dev/null || install_packages nodejs npm
  local dir
  for dir in "$ROOT/tools/npm" "$ROOT/clients/typescript"; do
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
      log "npm ci in ${dir#$ROOT/}"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
      touch "$dir/node_modules"
    fi
  done
  "$BUF" --version >/dev/null || die "buf does not run: $BUF"
}

# build [TYPE]: configure and build into BUILD_DIR. With CATALOG_SANITIZE=1,
# an AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/.
build() {
  local type="${1:-Release}"
  local flags=()
  if [ "${CATALOG_SANITIZE:-0}" = 1 ]; then
    BUILD_DIR="$ROOT/build-asan"
    type=RelWithDebInfo
    flags=(-DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer")
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  fi
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$type" "${flags[@]}" >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port nothing listens on now (from the range Linux does not hand out as
# ephemeral ports by default, so a client socket will not take it meanwhile).
free_port() {
  local port _
  for _ in $(seq 200); do
    port=$((20000 + RANDOM % 12000))
    port_in_use "$port" || { echo "$port"; return 0; }
  done
  die "no free port found"
}

wait_for_port() { # port seconds what
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    port_in_use "$1" && return 0
    sleep 0.1
  done
  die "$3 did not open port $1 within $2 s"
}

# start_redis DIR PORT [extra args...]: a redis-server with data under DIR.
start_redis() {
  local dir="$1" port="$2"
  shift 2
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize no \
    --maxmemory-policy volatile-lru --logfile "$dir/redis.log" "$@" &
  echo $! >"$dir/redis.pid"
  wait_for_port "$port" 10 "redis-server"
}

# Local passwords of the two accounts (deploy/mariadb/accounts.sql); they
# reach catalog-server through the environment or a file, never its argv.
CATALOG_LOCAL_SERVICE_PASSWORD=catalog
CATALOG_LOCAL_MIGRATE_PASSWORD=catalog-migrate

# start_mariadb DIR PORT [GRANTED]: a mariadbd with data under DIR/data,
# database `catalog`, and the accounts of deploy/mariadb/accounts.sql on
# GRANTED (default catalog; a LIKE pattern for several): `catalog` (rows
# only) and `catalog_migrate` (the schema step). Initializes DIR on first
# use; run the schema step with `migrate_schema` afterwards.
start_mariadb() {
  local dir="$1" port="$2" granted="${3:-catalog}"
  mkdir -p "$dir"
  if [ ! -d "$dir/data/mysql" ]; then
    log "initializing MariaDB data in $dir/data"
    mariadb-install-db --no-defaults --datadir="$dir/data" --user="$(id -un)" \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 ||
      { cat "$dir/install.log" >&2; die "mariadb-install-db failed"; }
  fi
  mariadbd --no-defaults --datadir="$dir/data" --port="$port" --bind-address=127.0.0.1 \
    --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" --user="$(id -un)" \
    --log-error="$dir/mysqld.log" --skip-log-bin --innodb-buffer-pool-size=128M \
    --innodb-log-file-size=48M --max-connections=500 2>>"$dir/mysqld.log" &
  echo $! >"$dir/mariadbd.pid"
  local i
  for ((i = 0; i < 300; i++)); do
    mariadb-admin --no-defaults --socket="$dir/mysqld.sock" -uroot ping >/dev/null 2>&1 && break
    kill -0 "$(cat "$dir/mariadbd.pid")" 2>/dev/null || { tail -20 "$dir/mysqld.log" >&2; die "mariadbd exited"; }
    sleep 0.1
  done
  local sql
  sql="$(<"$ROOT/deploy/mariadb/accounts.sql")"
  sql="${sql//@DATABASE@/"$granted"}"
  sql="${sql//@SERVICE_PASSWORD@/"$CATALOG_LOCAL_SERVICE_PASSWORD"}"
  sql="${sql//@MIGRATE_PASSWORD@/"$CATALOG_LOCAL_MIGRATE_PASSWORD"}"
  printf 'CREATE DATABASE IF NOT EXISTS catalog;\n%s\n' "$sql" |
    mariadb --no-defaults --socket="$dir/mysqld.sock" -uroot || die "granting the catalog accounts failed"
}

# migrate_schema PORT [catalog-server options...]: the schema step
# (`catalog-server migrate`) on 127.0.0.1:PORT as catalog_migrate.
migrate_schema() {
  local port="$1"
  shift
  CATALOG_MIGRATE_MYSQL_PASSWORD="$CATALOG_LOCAL_MIGRATE_PASSWORD" "$BUILD_DIR/service/catalog-server" migrate \
    --mysql_port="$port" --migrate_mysql_user=catalog_migrate "$@" >&2 || die "catalog-server migrate failed"
}

stop_pidfile() { # pidfile
  [ -f "$1" ] || return 0
  local pid
  pid="$(cat "$1")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}
