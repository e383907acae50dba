#!/usr/bin/env bash
# The packaging test, run by scripts/test.sh after `cargo test` (whose debug binary it packages,
# so no release build is needed):
# 1. The .deb is installed into a clean Debian root made with debootstrap (with systemd, so its
#    units are checked by `systemd-analyze verify`). numbat.service's command is started as the
#    unit says (its user, its environment file), since a chroot has no systemd running; a request
#    and a sign-in work; SIGTERM stops it cleanly; removing and purging the package keep the data.
# 2. The OCI image is started with podman, read-only, as its non-root user; a request and a
#    sign-in work; it stops cleanly. Where this machine cannot run containers, this part says so
#    and is skipped.
source "$(dirname "$0")/common.sh"
source "$ROOT/scripts/debian-root.sh"

# debootstrap, chroot and mount need root.
if [ "$(id -u)" -ne 0 ]; then
  [ "${CI:-}" = true ] && die "the packaging test needs root (debootstrap, chroot, mount), and CI=true requires it"
  say "packaging test SKIPPED: it needs root (debootstrap, chroot, mount)"
  exit 0
fi

OUT="$ROOT/target/package"
PORT="${NUMBAT_PACKAGE_TEST_PORT:-39311}"
DEB_COMPRESSION=gzip "$ROOT/scripts/package.sh" --binary "$ROOT/target/debug/numbat" --image
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
deb="$(ls "$OUT"/numbat_"$version"_*.deb)"
command -v curl >/dev/null 2>&1 || die "curl is missing: run scripts/setup.sh"

# Waits until http://127.0.0.1:$PORT/readyz answers 200 (30 s at most).
wait_ready() {
  local i
  for i in $(seq 1 150); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" = 200 ]; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# Signs in as $1 with one-time password $2 and changes it, as a browser without JavaScript
# does; then the home page must greet the user by name.
sign_in() {
  local name="$1" password="$2" jar base="http://127.0.0.1:$PORT" location page
  jar="$(mktemp)"
  local same_site=(-H "Origin: $base" -H "Sec-Fetch-Site: same-origin" -H "Accept: text/html")
  location="$(curl -s -o /dev/null -w '%{redirect_url}' -c "$jar" -b "$jar" "${same_site[@]}" \
    --data-urlencode "name=$name" --data-urlencode "password=$password" --data-urlencode "next=/" \
    "$base/sign-in")"
  [ "$location" = "$base/password" ] || { rm -f "$jar"; die "sign-in did not ask for a new password: $location"; }
  location="$(curl -s -o /dev/null -w '%{redirect_url}' -c "$jar" -b "$jar" "${same_site[@]}" \
    --data-urlencode "current=$password" --data-urlencode "new=a-long-enough-password" \
    --data-urlencode "confirm=a-long-enough-password" "$base/password")"
  [ "$location" = "$base/?password_changed=1" ] || { rm -f "$jar"; die "the password change failed: $location"; }
  page="$(curl -s -b "$jar" "$base/")"
  rm -f "$jar"
  grep -q "$name" <<<"$page" || die "the signed-in home page does not name $name"
}

# --- 1. The package in a clean Debian root -------------------------------------------------
debian_root "$OUT/systemd-base" systemd,systemd-sysv
ROOTFS="$OUT/test-root"
server=""
cleanup() {
  if [ -n "$server" ]; then kill -KILL "$server" 2>/dev/null || true; fi
  umount "$ROOTFS/proc" 2>/dev/null || true
  if command -v podman >/dev/null 2>&1; then
    podman rm -f numbat-package-test >/dev/null 2>&1 || true
    podman volume rm -f numbat-package-test >/dev/null 2>&1 || true
    # The image was made for this test: each run's would otherwise stay on the disk.
    [ -n "${image:-}" ] && podman rmi -f "$image" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
# A run that died may have left its root's /proc mounted: never delete through a mount.
umount "$ROOTFS/proc" 2>/dev/null || true
rm -rf --one-file-system "$ROOTFS"
cp -a "$OUT/systemd-base" "$ROOTFS"
mount -t proc proc "$ROOTFS/proc"
cp "$deb" "$ROOTFS/tmp/numbat.deb"
say "package test: dpkg -i into a clean Debian root"
chroot "$ROOTFS" dpkg -i /tmp/numbat.deb >"$OUT/test-dpkg.log" 2>&1 || die "dpkg -i failed: see $OUT/test-dpkg.log"
chroot "$ROOTFS" getent passwd numbat | grep -q ':/usr/sbin/nologin$' || die "no numbat system user"
[ "$(chroot "$ROOTFS" stat -c '%U %a' /var/lib/numbat)" = "numbat 700" ] || die "/var/lib/numbat is not numbat's alone"
[ "$(chroot "$ROOTFS" stat -c '%G %a' /etc/numbat/numbat.env)" = "numbat 640" ] || die "numbat.env is not root:numbat 0640"
[ -f "$ROOTFS/usr/share/numbat/site/pkg/bundle" ] || say "package test: the package holds no browser bundle (no wasm toolchain here)"
verify="$(systemd-analyze verify --man=no --root="$ROOTFS" numbat.service numbat-edge.service numbat-sync-worker.service 2>&1)" \
  || die "systemd-analyze verify failed: $verify"
[ -z "$verify" ] || die "systemd-analyze verify complains: $verify"

# numbat.service as systemd would start it: its user, its environment file, its command.
unit="$ROOTFS/lib/systemd/system/numbat.service"
exec_start="$(sed -n 's/^ExecStart=//p' "$unit")"
user="$(sed -n 's/^User=//p' "$unit")"
env_file="$(sed -n 's/^EnvironmentFile=//p' "$unit")"
mapfile -t environment < <(grep -v '^\s*#' "$ROOTFS$env_file" | grep '=')
in_root=(chroot --userspec="$user:$user" "$ROOTFS" env -i HOME=/var/lib/numbat "${environment[@]}"
  NUMBAT_LISTEN="127.0.0.1:$PORT")
say "package test: starting '$exec_start' as $user with $env_file"
# shellcheck disable=SC2086
"${in_root[@]}" $exec_start >"$OUT/test-serve.log" 2>&1 &
server=$!
wait_ready || die "the packaged server did not become ready: $(tail -5 "$OUT/test-serve.log")"
password="$("${in_root[@]}" /usr/bin/numbat user add ana --role AdminUser 2>/dev/null | tail -n 1 | awk '{print $NF}')"
sign_in ana "$password"
if [ -f "$ROOTFS/usr/share/numbat/site/pkg/bundle" ]; then
  bundle="$(cat "$ROOTFS/usr/share/numbat/site/pkg/bundle")"
  sign_in_page="$(curl -s "http://127.0.0.1:$PORT/sign-in")"
  grep -q "/pkg/$bundle.js" <<<"$sign_in_page" \
    || die "the packaged server's pages do not load its browser bundle $bundle"
  answer="$(curl -s -o /dev/null -H 'Accept-Encoding: br, gzip' -w '%{http_code} %header{content-encoding}' \
    "http://127.0.0.1:$PORT/pkg/${bundle}_bg.wasm")"
  [ "$answer" = "200 br" ] || die "the packaged server does not send its browser bundle compressed with brotli: $answer"
fi
grep -q '"request_id"' "$OUT/test-serve.log" || die "the packaged server's JSON log names no request id"
kill -TERM "$server"
wait "$server" || die "the packaged server did not stop cleanly on SIGTERM"
server=""
[ -s "$ROOTFS/var/lib/numbat/numbat.db" ] || die "no database in /var/lib/numbat"
say "package test: removing, then purging, the package"
chroot "$ROOTFS" dpkg -r numbat >>"$OUT/test-dpkg.log" 2>&1 || die "dpkg -r failed"
[ ! -e "$ROOTFS/usr/bin/numbat" ] || die "dpkg -r left /usr/bin/numbat"
[ -s "$ROOTFS/var/lib/numbat/numbat.db" ] || die "dpkg -r removed the data"
chroot "$ROOTFS" dpkg --purge numbat >>"$OUT/test-dpkg.log" 2>&1 || die "dpkg --purge failed"
[ -s "$ROOTFS/var/lib/numbat/numbat.db" ] || die "dpkg --purge removed the data"
umount "$ROOTFS/proc"
rm -rf --one-file-system "$ROOTFS"
say "package test: the .deb installed, served, signed in, stopped cleanly and left the data on removal"

# --- 2. The OCI image ----------------------------------------------------------------------
image="localhost/numbat:$version"
# The flags this machine's podman runs containers with: crun as it comes, else runc with the
# limits given (some machines refuse crun's cgroups or its limits).
# Whether containers run at all is asked of /bin/true, so a broken image fails the test rather
# than passing as "cannot run containers".
podman_flags=()
run_flags=()
if ! why="$(podman run --rm --network none --entrypoint /bin/true "$image" 2>&1)"; then
  podman_flags=(--runtime runc)
  run_flags=(--ulimit "nofile=4096:4096" --ulimit "nproc=4096:4096")
  if ! why="$(podman "${podman_flags[@]}" run --rm "${run_flags[@]}" --network none --entrypoint /bin/true "$image" 2>&1)"; then
    say "package test: SKIPPED the container part: this machine cannot run containers with podman: $why"
    exit 0
  fi
fi
said="$(podman "${podman_flags[@]}" run --rm "${run_flags[@]}" --network none "$image" --version 2>&1)" \
  || die "the image's numbat does not run: $said"
grep -q "numbat $version" <<<"$said" || die "the image's numbat does not say its version: $said"
say "package test: starting the image read-only as its own user"
podman volume rm -f numbat-package-test >/dev/null 2>&1 || true
podman "${podman_flags[@]}" run -d --name numbat-package-test "${run_flags[@]}" \
  --read-only --network host -v numbat-package-test:/var/lib/numbat:U \
  -e NUMBAT_LISTEN="127.0.0.1:$PORT" "$image" >/dev/null
wait_ready || die "the container did not become ready: $(podman logs numbat-package-test 2>&1 | tail -5)"
uid="$(podman exec numbat-package-test id -u)"
[ "$uid" != 0 ] || die "the container runs as root"
password="$(podman exec numbat-package-test numbat user add bea --role AdminUser 2>/dev/null | tail -n 1 | awk '{print $NF}')"
sign_in bea "$password"
podman "${podman_flags[@]}" stop -t 30 numbat-package-test >/dev/null
code="$(podman inspect -f '{{.State.ExitCode}}' numbat-package-test)"
[ "$code" = 0 ] || die "the container did not stop cleanly: exit $code"
podman rm numbat-package-test >/dev/null
say "package test: the image served read-only as uid $uid, signed in, and stopped cleanly"
