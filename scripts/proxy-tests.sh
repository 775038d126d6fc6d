#!/usr/bin/env bash
# Tests the reverse-proxy examples an operator copies, as committed:
# dist/nginx/kaifang.conf and dist/caddy/Caddyfile. For each proxy: a fresh
# `kaifang serve` on loopback trusting 127.0.0.1, the proxy in front of it
# on loopback ports with HTTPS (a self-signed certificate made here), then
# scripts/proxy-check.py through the proxy: sign-up, sign-in, a send, the
# WebSocket stream receiving it, and per-client sign-up limits (Kaifang
# reads the client's address from the proxy's X-Forwarded-For).
#
#   scripts/proxy-tests.sh            (KAIFANG_BIN=… to use a built binary)
#
# Only the listen ports, the site name, the certificate paths and the
# upstream port are substituted; nginx and Caddy run as the current user
# with their files in a temporary folder (no systemd, nothing in /etc).
# nginx and Caddy are installed with apt when missing; if that fails, the
# run fails: it never skips.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nginx >/dev/null || need+=(nginx)
command -v caddy >/dev/null || need+=(caddy)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} with apt"
  sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
fi
nginx -v 2>&1; caddy version

bin=${KAIFANG_BIN:-}
if [ -z "$bin" ]; then
  cargo build --quiet -p kaifang
  bin=${CARGO_TARGET_DIR:-target}/debug/kaifang
fi
bin=$(realpath "$bin")   # the server runs from its own folder

# docs/operating.md shows both files verbatim: the page must not drift.
for pair in nginx:dist/nginx/kaifang.conf caddy:dist/caddy/Caddyfile; do
  lang=${pair%%:*}; file=${pair#*:}
  if ! diff <(awk -v open="\`\`\`$lang" '$0 == open {inside=1; next} /^```/ {inside=0} inside' docs/operating.md) "$file" >/dev/null; then
    echo "docs/operating.md's \`\`\`$lang block differs from $file: copy the file into the page"; exit 1
  fi
done
echo "ok: docs/operating.md shows dist/nginx/kaifang.conf and dist/caddy/Caddyfile as they are"

work=$(mktemp -d)
pids=()
cleanup() {
  local status=$?
  for p in "${pids[@]}"; do
    if kill "$p" 2>/dev/null; then wait "$p" 2>/dev/null || true; fi
  done
  if [ $status -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -f "$log" ] && { echo "--- $log"; tail -n 30 "$log"; }
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits (bounded) until HTTPS answers /healthz on the port.
wait_https() {
  for _ in $(seq 150); do
    curl -sf --cacert "$work/cert.pem" "https://localhost:$1/healthz" >/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { echo "$3 exited"; return 1; }
    sleep 0.2
  done
  echo "$3 does not answer on $1"; return 1
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

# A fresh server per proxy (its sign-up limits start at zero); sets
# $upstream to its port. (Not in a $(…) subshell: its pid must reach $pids.)
start_kaifang() {
  local name=$1 dir="$work/kaifang-$1"
  mkdir -p "$dir"
  cat >"$dir/kaifang.toml" <<TOML
listen = "127.0.0.1:0"
data_dir = "$dir/data"
[http]
trusted_proxies = ["127.0.0.1/32"]
[auth]
argon2_memory_kib = 1024
argon2_iterations = 1
signups_per_address_per_hour = 3
[preview]
enabled = false
system_dns = false
TOML
  : >"$dir/out"
  (cd "$dir" && KAIFANG_LOG=warn exec env -u KAIFANG_BIN "$bin" serve --config "$dir/kaifang.toml" \
    >"$dir/out" 2>"$work/kaifang-$name.log") &
  pids+=($!)
  local url=
  for _ in $(seq 300); do
    url=$(sed -n 's/^listening on //p' "$dir/out")
    [ -n "$url" ] && break
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "kaifang exited"; return 1; }
    sleep 0.1
  done
  [ -n "$url" ] || { echo "kaifang did not start"; return 1; }
  upstream=${url##*:}
}

echo "== nginx: dist/nginx/kaifang.conf"
start_kaifang nginx
https=$(free_port); http=$(free_port)
mkdir -p "$work/nginx"
sed -e "s|listen 443 ssl;|listen 127.0.0.1:$https ssl;|" \
    -e "s|listen 80;|listen 127.0.0.1:$http;|" \
    -e '/listen \[::\]/d' \
    -e "s|server_name chat.example.org;|server_name localhost;|" \
    -e "s|/etc/letsencrypt/live/chat.example.org/fullchain.pem|$work/cert.pem|" \
    -e "s|/etc/letsencrypt/live/chat.example.org/privkey.pem|$work/key.pem|" \
    -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$upstream;|" \
    dist/nginx/kaifang.conf >"$work/nginx/kaifang.conf"
# Every substitution must have applied: the copy names no example value.
if grep -v '^ *#' "$work/nginx/kaifang.conf" | grep -nE 'example\.org|letsencrypt|:8080|listen (80|443)'; then
  echo "dist/nginx/kaifang.conf changed: the test's substitutions no longer apply"; exit 1
fi
# The main file nginx.conf would be; the example goes where conf.d is.
user_line=; [ "$(id -u)" -eq 0 ] && user_line="user root;"
cat >"$work/nginx/nginx.conf" <<NGINX
$user_line
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx-error.log notice;
events { worker_connections 256; }
http {
    access_log $work/nginx-access.log;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    include $work/nginx/kaifang.conf;
}
NGINX
nginx -t -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx-error.log"
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx-error.log" -g 'daemon off;' &
pids+=($!)
wait_https "$https" "${pids[-1]}" nginx
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$http/api/v1/me")
[[ $code == "301 https://127.0.0.1/api/v1/me" ]] || { echo "plain HTTP: $code"; exit 1; }
echo "ok: plain HTTP redirects to HTTPS"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/cert.pem" "https://localhost:$https/metrics")
[ "$code" = 403 ] || { echo "/metrics through nginx: $code, expected 403"; exit 1; }
echo "ok: /metrics is not served through the proxy"
python3 scripts/proxy-check.py localhost "$https" "$work/cert.pem"

echo "== Caddy: dist/caddy/Caddyfile"
start_kaifang caddy
https=$(free_port)
mkdir -p "$work/caddy"
# Caddy's own state (certificates, autosave) goes into the temp folder; its
# admin endpoint is off; the example's site block follows unchanged but
# for its address, the upstream port and a `tls` line with the test
# certificate (in production Caddy obtains one).
{
  printf '{\n\tadmin off\n\tauto_https disable_redirects\n\tstorage file_system %s\n}\n\n' "$work/caddy/data"
  sed -e "s|^chat.example.org {|https://localhost:$https {\n    tls $work/cert.pem $work/key.pem|" \
      -e "s|reverse_proxy 127.0.0.1:8080|reverse_proxy 127.0.0.1:$upstream|" \
      dist/caddy/Caddyfile
} >"$work/caddy/Caddyfile"
if grep -v '^ *#' "$work/caddy/Caddyfile" | grep -nE 'example\.org|:8080'; then
  echo "dist/caddy/Caddyfile changed: the test's substitutions no longer apply"; exit 1
fi
export HOME="$work/caddy" XDG_DATA_HOME="$work/caddy/data" XDG_CONFIG_HOME="$work/caddy/config"
caddy validate --adapter caddyfile --config "$work/caddy/Caddyfile" 2>"$work/caddy-validate.log" \
  || { cat "$work/caddy-validate.log"; exit 1; }
caddy run --adapter caddyfile --config "$work/caddy/Caddyfile" 2>"$work/caddy.log" &
pids+=($!)
wait_https "$https" "${pids[-1]}" caddy
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/cert.pem" "https://localhost:$https/metrics")
[ "$code" = 404 ] || { echo "/metrics through Caddy: $code, expected 404"; exit 1; }
echo "ok: /metrics is not served through the proxy"
python3 scripts/proxy-check.py localhost "$https" "$work/cert.pem"

echo "proxy tests passed: nginx and Caddy"
