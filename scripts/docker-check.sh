#!/usr/bin/env bash
# Checks the Dockerfile offline, then builds and runs the image if a
# container builder works here; says plainly when it does not.
#
# Offline (always): every path the build stage COPYs exists and is let
# through by .dockerignore; every file the crates compile in
# (include_str!, include_bytes!, include_dir!) lies inside a copied path;
# the image runs as a non-root user, declares the data folder a volume and
# stops with SIGTERM. With `hadolint` installed, its lint too.
# With a working builder (`docker info` succeeds): `docker build`, then the
# container must answer /healthz and exit 0 on `docker stop`.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "Dockerfile: $*" >&2; exit 1; }

# Sources of COPY lines without --from (the last word is the destination).
copied=()
while read -r -a words; do
  [ ${#words[@]} -gt 1 ] && [ "${words[0]}" = COPY ] || continue
  [[ ${words[1]} == --from=* ]] && continue
  n=${#words[@]}
  for ((i = 1; i < n - 1; i++)); do copied+=("${words[i]%/}"); done
done < Dockerfile
[ ${#copied[@]} -gt 0 ] || fail "no COPY of the sources"

for path in "${copied[@]}"; do
  [ -e "$path" ] || fail "COPY $path: no such path in the repository"
  grep -qxE "!${path}/?" .dockerignore || fail "COPY $path: .dockerignore does not let it through (add !$path)"
done
echo "ok: the copied paths exist and pass .dockerignore: ${copied[*]}"

# Files compiled into the binary must be in the build context.
inside() {
  local p
  for p in "${copied[@]}"; do [[ $1 == "$p" || $1 == "$p"/* ]] && return 0; done
  return 1
}
checked=0
while IFS=: read -r file _ text; do
  arg=$(sed -nE 's/.*include_(str|bytes|dir)!\("([^"]+)"\).*/\2/p' <<<"$text")
  [ -n "$arg" ] || continue
  crate=$(cut -d/ -f1-2 <<<"$file")
  case $arg in
    '$CARGO_MANIFEST_DIR'/*) target=$crate/${arg#'$CARGO_MANIFEST_DIR/'} ;;
    *) target=$(dirname "$file")/$arg ;;
  esac
  target=$(realpath -m --relative-to=. "$target")
  [ -e "$target" ] || fail "$file includes $arg, which does not exist"
  inside "$target" || fail "$file includes $target, outside the copied paths"
  checked=$((checked + 1))
done < <(grep -rnE --include='*.rs' 'include_(str|bytes|dir)!\(' crates | grep -v '/tests/')
echo "ok: the $checked files compiled in are inside the build context"

last_from=$(grep -n '^FROM ' Dockerfile | tail -n1 | cut -d: -f1)
tail -n +"$last_from" Dockerfile | grep -qE '^USER +[^r0]' || fail "the final image must set a non-root USER"
tail -n +"$last_from" Dockerfile | grep -qE '^VOLUME .*/var/lib/kaifang' || fail "the data folder must be a VOLUME"
grep -q 'KAIFANG_DATA_DIR=/var/lib/kaifang' Dockerfile || fail "KAIFANG_DATA_DIR must be the volume"
grep -qE '^STOPSIGNAL SIGTERM' Dockerfile || fail "STOPSIGNAL SIGTERM (the server drains on it)"
echo "ok: non-root user, data volume, SIGTERM"

if command -v hadolint >/dev/null; then
  hadolint Dockerfile
  echo "ok: hadolint"
else
  echo "hadolint not installed: the Dockerfile was not linted beyond the checks above"
fi

if ! command -v docker >/dev/null || ! docker info >/dev/null 2>&1; then
  echo "no container builder (docker info fails: no daemon): the image was NOT built"
  exit 0
fi
tag=kaifang-ci:$$
docker build -t "$tag" .
name=kaifang-ci-$$
cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; docker rmi "$tag" >/dev/null 2>&1 || true; }
trap cleanup EXIT
docker run -d --name "$name" -p 127.0.0.1::8080 "$tag" >/dev/null
port=$(docker port "$name" 8080/tcp | head -n1 | sed 's/.*://')
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { docker logs "$name"; fail "the container does not answer /healthz"; }
docker stop -t 20 "$name" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || { docker logs "$name"; fail "the container exited $code on docker stop"; }
echo "ok: the image was built; the container served /healthz and stopped cleanly"
