# Sourced by package.sh and package-test.sh: `debian_root DIR [PACKAGES]` makes a Debian 12
# root in DIR with debootstrap (minbase, plus PACKAGES, comma-separated), from Debian's mirror
# rather than any registry of images. It is kept and reused while its recipe is the same.
debian_root() {
  local dir="$1" include="${2:-}" recipe
  recipe="bookworm minbase ${include}"
  if [ -f "$dir/.numbat-recipe" ] && [ "$(cat "$dir/.numbat-recipe")" = "$recipe" ]; then
    return 0
  fi
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing: run scripts/setup.sh"
  say "making a Debian root with debootstrap ($recipe) in $dir"
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  debootstrap --variant=minbase ${include:+--include=$include} bookworm "$dir" \
    "${NUMBAT_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$dir.log" 2>&1 \
    || die "debootstrap failed: see $dir.log"
  echo "$recipe" > "$dir/.numbat-recipe"
}
