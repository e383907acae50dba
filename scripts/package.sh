#!/usr/bin/env bash
# Builds Numbat's Debian package, target/package/numbat_<version>_<arch>.deb: the binary, the
# browser bundle under /usr/share/numbat/site, systemd units for `numbat serve`, `numbat edge`
# and `numbat sync-worker`, and /etc/numbat/numbat.env. With --image, also the OCI image
# localhost/numbat:<version>: a Debian base made here with debootstrap (no registry is pulled
# from), the package installed into it, run as the numbat user.
#
#   scripts/package.sh [--binary PATH] [--image]
#
# --binary packages a binary already built instead of building the release one (the test
# packages the build `cargo test` made, to save a release build). DEB_COMPRESSION (default xz)
# is dpkg-deb's compressor; NUMBAT_DEBIAN_MIRROR the mirror debootstrap reads.
source "$(dirname "$0")/common.sh"
source "$ROOT/scripts/debian-root.sh"

binary=""
image=0
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --image) image=1; shift ;;
    *) die "package.sh: unknown argument $1 (--binary PATH, --image)" ;;
  esac
done

OUT="$ROOT/target/package"
STAGE="$OUT/stage"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
arch="$(dpkg --print-architecture)"
deb="$OUT/numbat_${version}_${arch}.deb"

if [ -z "$binary" ]; then
  say "building the server (release)"
  cargo build --quiet --locked --release --bin numbat
  binary="$ROOT/target/release/numbat"
fi
[ -x "$binary" ] || die "no binary at $binary"
"$ROOT/scripts/build-bundle.sh"

say "staging the package"
rm -rf "$STAGE"
install -d "$STAGE/DEBIAN" "$STAGE/usr/bin" "$STAGE/usr/share/numbat/site" \
  "$STAGE/lib/systemd/system" "$STAGE/etc/numbat" "$STAGE/usr/share/doc/numbat"
strip -o "$STAGE/usr/bin/numbat" "$binary"
chmod 0755 "$STAGE/usr/bin/numbat"
if [ -f target/site/pkg/bundle ]; then
  cp -r target/site/pkg "$STAGE/usr/share/numbat/site/"
else
  say "no browser bundle: the package's pages will be served without it (they work, without live controls)"
fi
install -m 0644 packaging/systemd/*.service "$STAGE/lib/systemd/system/"
install -m 0640 packaging/numbat.env "$STAGE/etc/numbat/numbat.env"
install -m 0644 README.md "$STAGE/usr/share/doc/numbat/README.md"
install -m 0644 docs/*.md "$STAGE/usr/share/doc/numbat/"
install -m 0644 packaging/deb/conffiles "$STAGE/DEBIAN/conffiles"
install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$STAGE/DEBIAN/"
size="$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
  packaging/deb/control > "$STAGE/DEBIAN/control"
rm -f "$deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" --build "$STAGE" "$deb" >/dev/null
say "package: $deb ($(du -h "$deb" | cut -f1))"

[ "$image" = 1 ] || exit 0

command -v podman >/dev/null 2>&1 || die "podman is missing: run scripts/setup.sh"
debian_root "$OUT/base"
say "installing the package into a copy of the base for the image"
rm -rf "$OUT/image-root"
cp -a "$OUT/base" "$OUT/image-root"
rm -f "$OUT/image-root/.numbat-recipe"
cp "$deb" "$OUT/image-root/tmp/numbat.deb"
chroot "$OUT/image-root" dpkg -i /tmp/numbat.deb >"$OUT/image-dpkg.log" 2>&1 \
  || die "dpkg -i in the image failed: see $OUT/image-dpkg.log"
rm -rf "$OUT/image-root/tmp/numbat.deb" "$OUT/image-root/var/cache/apt/"*.bin \
  "$OUT/image-root/var/lib/apt/lists/"*
tag="localhost/numbat:$version"
tar -C "$OUT/image-root" -c . | podman import --quiet \
  --change 'USER numbat' \
  --change 'WORKDIR /var/lib/numbat' \
  --change 'ENV DATABASE_URL=sqlite:///var/lib/numbat/numbat.db' \
  --change 'ENV NUMBAT_SITE_ROOT=/usr/share/numbat/site' \
  --change 'ENV NUMBAT_LISTEN=0.0.0.0:3000' \
  --change 'ENV NUMBAT_LOG_FORMAT=json' \
  --change 'EXPOSE 3000' \
  --change 'VOLUME /var/lib/numbat' \
  --change 'STOPSIGNAL SIGTERM' \
  --change 'ENTRYPOINT ["/usr/bin/numbat"]' \
  --change 'CMD ["serve"]' \
  - "$tag" >/dev/null
rm -rf "$OUT/image-root"
say "image: $tag"
