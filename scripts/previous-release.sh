#!/usr/bin/env bash
# Builds the previous release's `numbat` (the commit tests/upgrade/previous-release names) as
# target/previous/numbat-previous, for the rolling-upgrade test, and prints its path. It shares
# target/ (the dependencies are compiled once) under another version and binary name, so it
# never replaces this release's target/debug/numbat. Nothing is done when it is already built;
# nothing is printed when the commit is not in this clone (outside CI: the test then says it
# was skipped).
. "$(dirname "$0")/common.sh"

rev="$(grep -v '^#' tests/upgrade/previous-release | head -n 1 | tr -d '[:space:]')"
out="$ROOT/target/previous"
binary="$ROOT/target/debug/numbat-previous"
if [ -x "$out/numbat-previous" ] && [ "$(cat "$out/rev" 2>/dev/null)" = "$rev" ]; then
  echo "$out/numbat-previous"
  exit 0
fi
if ! git cat-file -e "$rev^{commit}" 2>/dev/null; then
  why="commit $rev (tests/upgrade/previous-release) is not in this clone: clone with its history"
  [ "${CI:-}" = true ] && die "$why, and CI=true requires the rolling-upgrade test"
  say "the rolling-upgrade test will be SKIPPED: $why"
  exit 0
fi
rm -rf "$out"
mkdir -p "$out/src"
git archive "$rev" | tar -x -C "$out/src"
# Another version gives its units their own names in target/ (so the lock file's entry for
# numbat is updated: no --locked here), another binary name its own file.
sed -i -e '0,/^version = "\(.*\)"/s//version = "\1-previous"/' \
  -e '/^\[\[bin\]\]/,/^path/s/^name = "numbat"$/name = "numbat-previous"/' "$out/src/Cargo.toml"
grep -q '^name = "numbat-previous"$' "$out/src/Cargo.toml" \
  || die "could not rename the previous release's binary in its Cargo.toml"
cargo build --quiet --bin numbat-previous \
  --manifest-path "$out/src/Cargo.toml" --target-dir "$ROOT/target" >&2
cp "$binary" "$out/numbat-previous"
rm -f "$binary"
echo "$rev" > "$out/rev"
echo "$out/numbat-previous"
