# tools/bench-reference/connect_section.sh: section "connect" of tools/bench,
# sourced by it (not run on its own): it uses tools/bench's WORK BENCH PORT
# PID ADMIN HTTP_PORT REDIS_PORT REDIS_PID REDIS_PIDS ROUNDS SECONDS_PER_RUN
# BATCH CONCURRENCY KEYS, h2run cpu_ticks per_call_us median ratio errors_of,
# php_stack.sh's functions, and lib.sh's ROOT log die.
#
# Environment: WRK_THREADS=1 (wrk threads: one, like h2load's single thread,
# so the client takes the same share of the 2 cores in every variant).

echo
echo "8. Connect and the case study's stack (nginx + PHP-FPM, JSON from one MGET), ${BATCH} ids x ${CONCURRENCY}"
echo "    in flight, alternated rounds, server l1 (h2load for HTTP/2, wrk -t${WRK_THREADS:-1} -c${CONCURRENCY} keep-alive"
echo "    for HTTP/1.1; php server_us = nginx + php-fpm, all processes; bad = responses not 200 or failed):"
WRK_THREADS="${WRK_THREADS:-1}"
REF_DIR="$ROOT/tools/bench-reference"
CALL_PATH=/catalog.v1.CatalogService/BatchGetProducts
CONNECT_URL="http://127.0.0.1:${HTTP_PORT[l1]}"
# The same BATCH ids three ways: gRPC-framed (catalog-bench write-request),
# the bare message (minus the 5-byte gRPC frame header), Connect JSON.
[ -f "$WORK/request-$BATCH.bin" ] || "$BENCH" write-request --batch="$BATCH" --out="$WORK/request-$BATCH.bin"
tail -c +6 "$WORK/request-$BATCH.bin" >"$WORK/request-$BATCH.pb"
printf '{"ids":[%s]}' "$(printf '"bench%012d"\n' $(seq 0 $((BATCH - 1))) | paste -sd,)" >"$WORK/request-$BATCH.json"

# The reference's keys: every product's JSON copied from l1's own Connect
# JSON answers (populate.php --from), so PHP serves the very same bytes.
populate_php_stack_keys "$REDIS_PORT" "$KEYS" bench "$CONNECT_URL"
start_php_stack "$WORK/php" "$REDIS_PORT"
log "php stack on port $PHP_STACK_PORT, pids $PHP_STACK_PIDS"

# Sanity, one call each before any load: every variant answers 200 with the
# expected content type, and PHP's JSON is the service's JSON.
sanity() { # name url content_type body_file [curl flags...]: prints "code content_type bytes"
  local name="$1" url="$2" ctype="$3" body="$4"
  shift 4
  curl -sS "$@" -o "$WORK/sanity-$name.out" -w '%{http_code} %{content_type} %{size_download}' -X POST \
    -H "Content-Type: $ctype" -H 'Connect-Protocol-Version: 1' --data-binary "@$body" "$url"
}
for s in "cj-h1 $CONNECT_URL$CALL_PATH application/json json" "cp-h1 $CONNECT_URL$CALL_PATH application/proto pb" \
  "cj-h2 $CONNECT_URL$CALL_PATH application/json json --http2-prior-knowledge" \
  "cp-h2 $CONNECT_URL$CALL_PATH application/proto pb --http2-prior-knowledge" \
  "php $PHP_STACK_URL application/json json"; do
  read -r name url ctype ext flags <<<"$s"
  got="$(sanity "$name" "$url" "$ctype" "$WORK/request-$BATCH.$ext" $flags)" || die "sanity $name: curl failed"
  echo "   sanity $name: $got"
  [[ "$got" == "200 $ctype"* ]] || die "sanity $name: expected 200 $ctype (body: $(head -c 300 "$WORK/sanity-$name.out"))"
done
php -r '$a = json_decode(file_get_contents($argv[1]), true); $b = json_decode(file_get_contents($argv[2]), true);
  exit(is_array($a) && count($a["products"] ?? []) == $argv[3] && $a === $b ? 0 : 1);' \
  "$WORK/sanity-cj-h1.out" "$WORK/sanity-php.out" "$BATCH" ||
  die "the PHP reference's JSON is not the service's (compare $WORK/sanity-cj-h1.out and $WORK/sanity-php.out)"
echo "   php's JSON == the service's JSON ($BATCH products)"

# One h2load run of a Connect unary POST over HTTP/2 cleartext.
# Prints "req/s p50_ms p99_ms p999_ms server_us redis_us bad".
h2connect() { # port content_type body_file server_pid...
  local port="$1" ctype="$2" body="$3" conns=$((CONCURRENCY < 4 ? CONCURRENCY : 4))
  shift 3
  local s0 r0 s1 r1 out calls bad pct all_rps errored timedout
  rm -f "$WORK/h2c.log"
  s0=$(cpu_ticks "$@")
  r0=$(cpu_ticks $REDIS_PIDS)
  out=$(h2load -D "$SECONDS_PER_RUN" -c "$conns" -m $((CONCURRENCY / conns)) --log-file="$WORK/h2c.log" \
    -H "content-type: $ctype" -H 'connect-protocol-version: 1' -d "$body" "http://127.0.0.1:$port$CALL_PATH" 2>&1)
  s1=$(cpu_ticks "$@")
  r1=$(cpu_ticks $REDIS_PIDS)
  calls=$(awk -F'\t' '$2 == 200' "$WORK/h2c.log" | wc -l)
  # Not 200 in the per-request log, plus the requests that never got a status.
  read -r errored timedout <<<"$(sed -nE 's/^requests: .* ([0-9]+) errored, ([0-9]+) timeout.*/\1 \2/p' <<<"$out")"
  bad=$(($(awk -F'\t' '$2 != 200' "$WORK/h2c.log" | wc -l) + ${errored:-0} + ${timedout:-0}))
  # h2load's req/s counts every answer: scaled to the 200s.
  all_rps=$(sed -nE 's/^finished in .*, ([0-9.]+) req\/s.*/\1/p' <<<"$out")
  pct=$(awk -F'\t' '$2 == 200 { print $3 }' "$WORK/h2c.log" | sort -n |
    awk '{ a[NR] = $1 } END { if (NR == 0) { print "- - -"; exit }
      printf "%.2f %.2f %.2f", a[int(NR * 0.5) + 1] / 1000, a[int(NR * 0.99) + 1] / 1000, a[int(NR * 0.999) + 1] / 1000 }')
  printf '%s %s %s %s %s\n' \
    "$(awk -v r="${all_rps:-0}" -v ok="$calls" -v bad="$bad" 'BEGIN { printf "%.0f", (ok + bad > 0) ? r * ok / (ok + bad) : 0 }')" "$pct" \
    "$(per_call_us "$s0" "$s1" "$calls")" "$(per_call_us "$r0" "$r1" "$calls")" "$bad"
}
# One wrk run (HTTP/1.1 keep-alive, CONCURRENCY connections, one call in
# flight on each) with post.lua. Prints "req/s p50_ms p99_ms p999_ms server_us redis_us bad".
wrkrun() { # url content_type body_file server_pid...
  local url="$1" ctype="$2" body="$3" p
  shift 3
  for p in "$@" $REDIS_PIDS; do [ -r "/proc/$p/stat" ] || die "wrkrun: process $p is gone"; done
  local s0 r0 s1 r1 out line
  s0=$(cpu_ticks "$@")
  r0=$(cpu_ticks $REDIS_PIDS)
  out=$(WRK_BODY="$body" WRK_CONTENT_TYPE="$ctype" wrk -t "$WRK_THREADS" -c "$CONCURRENCY" -d "${SECONDS_PER_RUN}s" \
    --timeout 5s -s "$REF_DIR/post.lua" "$url" 2>&1)
  s1=$(cpu_ticks "$@")
  r1=$(cpu_ticks $REDIS_PIDS)
  line=$(grep '^wrk-result ' <<<"$out") || die "wrk printed no result: $(tail -5 <<<"$out")"
  wf() { sed -nE "s/.* $1=([^ ]+).*/\1/p" <<<"$line"; }
  printf '%.0f %.2f %.2f %.2f %s %s %s\n' "$(wf ok_rps)" "$(wf p50_ms)" "$(wf p99_ms)" "$(wf p999_ms)" \
    "$(per_call_us "$s0" "$s1" "$(wf ok)")" "$(per_call_us "$r0" "$r1" "$(wf ok)")" \
    "$(($(wf non2xx) + $(wf socket_errors) + $(wf timeouts)))"
}

# Warm-up, not measured: opcache compiles batch_get.php and each FPM child
# opens its persistent Redis connection on its first request.
WRK_BODY="$WORK/request-$BATCH.json" wrk -t1 -c "$CONCURRENCY" -d 2s -s "$REF_DIR/post.lua" "$PHP_STACK_URL" >/dev/null
WRK_BODY="$WORK/request-$BATCH.json" wrk -t1 -c "$CONCURRENCY" -d 2s -s "$REF_DIR/post.lua" "$CONNECT_URL$CALL_PATH" >/dev/null

CVARIANTS="grpc cp-h2 cj-h2 cp-h1 cj-h1 php"
echo "   variants: grpc (h2load, gRPC); cp-h2 / cj-h2: Connect proto / JSON over HTTP/2 (h2load);"
echo "             cp-h1 / cj-h1: the same over HTTP/1.1 (wrk); php: nginx + PHP-FPM (wrk, JSON)"
printf '%-5s %-7s %10s %8s %8s %8s %9s %8s %6s\n' round variant req/s p50_ms p99_ms p99.9_ms server_us redis_us bad
declare -A CRPS CUS CP50 CP99 CBAD CRUS
for ((r = 1; r <= ROUNDS; r++)); do
  for v in $CVARIANTS; do
    case "$v" in
      grpc)
        e0=$(errors_of l1)
        read -r rps p50 p99 p999 sus rus <<<"$(h2run "${PORT[l1]}" "$BATCH" "$CONCURRENCY" "${PID[l1]}")"
        e1=$(errors_of l1) # gRPC errors come with HTTP 200: the server's error counter tells
        bad=$(awk -v a="${e0:-0}" -v b="${e1:-0}" 'BEGIN { printf "%.0f", b - a }')
        ;;
      cp-h2) read -r rps p50 p99 p999 sus rus bad <<<"$(h2connect "${HTTP_PORT[l1]}" application/proto \
        "$WORK/request-$BATCH.pb" "${PID[l1]}")" ;;
      cj-h2) read -r rps p50 p99 p999 sus rus bad <<<"$(h2connect "${HTTP_PORT[l1]}" application/json \
        "$WORK/request-$BATCH.json" "${PID[l1]}")" ;;
      cp-h1) read -r rps p50 p99 p999 sus rus bad <<<"$(wrkrun "$CONNECT_URL$CALL_PATH" application/proto \
        "$WORK/request-$BATCH.pb" "${PID[l1]}")" ;;
      cj-h1) read -r rps p50 p99 p999 sus rus bad <<<"$(wrkrun "$CONNECT_URL$CALL_PATH" application/json \
        "$WORK/request-$BATCH.json" "${PID[l1]}")" ;;
      php) read -r rps p50 p99 p999 sus rus bad <<<"$(wrkrun "$PHP_STACK_URL" application/json \
        "$WORK/request-$BATCH.json" $PHP_STACK_PIDS)" ;;
    esac
    CRPS[$v]+="$rps "
    CUS[$v]+="$sus "
    CRUS[$v]+="$rus "
    CP50[$v]+="$p50 "
    CP99[$v]+="$p99 "
    CBAD[$v]=$((${CBAD[$v]:-0} + bad))
    printf '%-5s %-7s %10.0f %8s %8s %8s %9s %8s %6s\n' "$r" "$v" "$rps" "$p50" "$p99" "$p999" "$sus" "$rus" "$bad"
  done
done
for v in $CVARIANTS; do
  printf '   median %-6s %8s/s  p50 %6s ms  p99 %6s ms  server %5s us  redis %4s us per call  bad %s\n' "$v" \
    "$(median ${CRPS[$v]})" "$(median ${CP50[$v]})" "$(median ${CP99[$v]})" "$(median ${CUS[$v]})" \
    "$(median ${CRUS[$v]})" "${CBAD[$v]}"
done
cm() { median ${CRPS[$1]}; }
echo "ratios (medians): connect-json/php over HTTP/1.1 $(ratio "$(cm cj-h1)" "$(cm php)")," \
  "connect-json h2c/php $(ratio "$(cm cj-h2)" "$(cm php)"), connect-json/grpc $(ratio "$(cm cj-h2)" "$(cm grpc)")," \
  "connect-proto/grpc $(ratio "$(cm cp-h2)" "$(cm grpc)"); CPU per call php/connect-json" \
  "$(ratio "$(median ${CUS[php]})" "$(median ${CUS[cj-h1]})")"
echo "target: connect-json >= 4x php req/s (HTTP/1.1, same client, same body, same Redis)"
bad_total=0
for v in $CVARIANTS; do bad_total=$((bad_total + ${CBAD[$v]})); done
[ "$bad_total" = 0 ] || echo "WARNING: $bad_total responses were not 200 (column bad): those figures are not valid"
stop_php_stack
