#!/bin/sh
# Install the fledge binary from a GitHub release, verified against the release's SHA256SUMS.
#
#   curl -fsSL https://github.com/OWNER/NAME/releases/latest/download/install.sh | sh
#   curl -fsSL .../install.sh | sh -s -- --version v0.1.0 --dir /usr/local/bin
#
# The repository the releases come from is set in one place, package.json's
# "repository"; scripts/release.ts writes it into the copy of this script it publishes
# (the release_repo line below). Run unstamped, from a checkout, pass --repo.
#
# Options (each also settable through the environment variable in brackets):
#   --version TAG    release to install, e.g. v0.1.0 or 0.1.0; default: the latest [FLEDGE_VERSION]
#   --dir DIR        where to put `fledge`; default: ~/.local/bin             [FLEDGE_INSTALL_DIR]
#   --base-url URL   download from URL/<asset> instead of GitHub (mirrors, tests) [FLEDGE_RELEASE_URL]
#                    https:// only; plain http:// only to this machine (127.0.0.1, localhost, [::1])
#   --repo OWNER/NAME  GitHub repository of the releases                      [FLEDGE_REPO]
#
# POSIX sh (tested with dash and bash). Needs curl or wget, and sha256sum, shasum or openssl.
# Nothing is installed unless the checksum matches; the binary is staged next to its
# destination and renamed into place, so an interrupted install leaves the old one intact.
set -eu

release_repo="@RELEASE_REPO@"
repo="${FLEDGE_REPO:-}"
version="${FLEDGE_VERSION:-latest}"
install_dir="${FLEDGE_INSTALL_DIR:-}"
base_url="${FLEDGE_RELEASE_URL:-}"

say() { printf 'fledge-install: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

usage() {
  cat <<'EOF'
usage: install.sh [--version TAG] [--dir DIR] [--base-url URL] [--repo OWNER/NAME]
  --version TAG      release to install (v0.1.0 or 0.1.0); default latest    [FLEDGE_VERSION]
  --dir DIR          install directory; default ~/.local/bin                 [FLEDGE_INSTALL_DIR]
  --base-url URL     fetch URL/SHA256SUMS and URL/<asset> instead of GitHub  [FLEDGE_RELEASE_URL]
  --repo OWNER/NAME  GitHub repository of the releases                       [FLEDGE_REPO]
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || die "--version needs a value"; version="$2"; shift 2 ;;
    --version=*) version="${1#*=}"; shift ;;
    --dir) [ $# -ge 2 ] || die "--dir needs a value"; install_dir="$2"; shift 2 ;;
    --dir=*) install_dir="${1#*=}"; shift ;;
    --base-url) [ $# -ge 2 ] || die "--base-url needs a value"; base_url="$2"; shift 2 ;;
    --base-url=*) base_url="${1#*=}"; shift ;;
    --repo) [ $# -ge 2 ] || die "--repo needs a value"; repo="$2"; shift 2 ;;
    --repo=*) repo="${1#*=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) say "error: unknown option '$1'"; usage >&2; exit 2 ;;
  esac
done

if [ -z "$install_dir" ]; then
  [ -n "${HOME:-}" ] || die "HOME is not set; pass --dir DIR or set FLEDGE_INSTALL_DIR"
  install_dir="$HOME/.local/bin"
fi

# A mirror URL must be https: the checksums come from the same place as the binary, so a
# plain-http mirror could swap both. Plain http is allowed only to this machine (tests).
if [ -n "$base_url" ]; then
  case "$base_url" in
    https://*) ;;
    http://127.0.0.1|http://127.0.0.1[:/]*|http://localhost|http://localhost[:/]*|http://\[::1\]|http://\[::1\][:/]*) ;;
    *) die "--base-url must start with https:// (plain http:// only for 127.0.0.1, localhost or [::1]): $base_url" ;;
  esac
fi

if [ -z "$repo" ]; then
  case "$release_repo" in
    @*) [ -n "$base_url" ] || die "this copy of install.sh names no release repository (it was not published by scripts/release.ts); pass --repo OWNER/NAME or --base-url URL" ;;
    *) repo="$release_repo" ;;
  esac
fi
case "$repo" in
  */*/*|*[!A-Za-z0-9._/-]*|/*|*/|-*) die "--repo must be OWNER/NAME, got '$repo'" ;;
  */*|"") ;;
  *) die "--repo must be OWNER/NAME, got '$repo'" ;;
esac

if [ -z "$base_url" ]; then
  case "$version" in
    latest) base_url="https://github.com/$repo/releases/latest/download" ;;
    v*) base_url="https://github.com/$repo/releases/download/$version" ;;
    *) base_url="https://github.com/$repo/releases/download/v$version" ;;
  esac
fi
base_url="${base_url%/}"

# --- which asset: fledge-<os>-<arch>[.exe], as scripts/release.ts names them -----------
os_name="$(uname -s)"
case "$os_name" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  MINGW*|MSYS*|CYGWIN*|Windows_NT) os=windows ;;
  *) die "no fledge build for this operating system ($os_name); fledge is released for Linux, macOS and Windows. You can still run it with Bun: bunx fledge-cli" ;;
esac
cpu="$(uname -m)"
case "$cpu" in
  x86_64|amd64|x64) arch=x64 ;;
  aarch64|arm64|armv8*) arch=arm64 ;;
  *) die "no fledge build for this CPU ($cpu on $os_name); releases exist for x86_64 and arm64. You can still run it with Bun: bunx fledge-cli" ;;
esac
# An x64 shell under Rosetta 2 on Apple silicon: the native arm64 build is the right one.
if [ "$os" = darwin ] && [ "$arch" = x64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)" = 1 ]; then
  arch=arm64
fi
exe=""
[ "$os" = windows ] && exe=".exe"
asset="fledge-$os-$arch$exe"
target="$install_dir/fledge$exe"

# --- tools ---------------------------------------------------------------------------
if command -v curl >/dev/null 2>&1 && [ "${FLEDGE_DOWNLOADER:-curl}" = curl ]; then
  fetch() { curl -fsSL --retry 2 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q -O "$2" "$1"; }
else
  die "neither curl nor wget is installed; install one of them and run this again"
fi

if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | cut -d ' ' -f 1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | cut -d ' ' -f 1; }
elif command -v openssl >/dev/null 2>&1; then
  sha256() { openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1; }
else
  die "no SHA-256 tool (sha256sum, shasum or openssl) found; refusing to install an unverified binary"
fi

# --- download and verify in a private temp dir, removed however we exit ----------------
tmp=""
staged=""
cleanup() {
  [ -z "$tmp" ] || rm -rf "$tmp"
  [ -z "$staged" ] || rm -f "$staged"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
tmp="$(mktemp -d 2>/dev/null || mktemp -d -t fledge-install)" || die "cannot create a temporary directory"

say "downloading SHA256SUMS from $base_url"
fetch "$base_url/SHA256SUMS" "$tmp/SHA256SUMS" ||
  die "could not download $base_url/SHA256SUMS; without it the binary cannot be verified, so nothing was installed (is the version '$version' right? releases: https://github.com/$repo/releases)"

# The line for our asset: "<64 hex>  <name>" (a '*' before the name marks binary mode).
expected="$(awk -v name="$asset" '{ f = $2; sub(/^\*/, "", f) } f == name { print $1; exit }' "$tmp/SHA256SUMS")"
if [ -z "$expected" ]; then
  available="$(awk '{ f = $2; sub(/^\*/, "", f) } f ~ /^fledge-/ { sub(/^fledge-/, "", f); sub(/\.exe$/, "", f); printf "%s%s", sep, f; sep = ", " }' "$tmp/SHA256SUMS")"
  die "this release has no build for $os-$arch (no $asset in SHA256SUMS; available: ${available:-none}). Nothing was installed. You can run fledge with Bun instead: bunx fledge-cli"
fi
case "$expected" in
  *[!0-9a-fA-F]*) die "SHA256SUMS has a malformed entry for $asset; nothing was installed" ;;
esac
[ ${#expected} -eq 64 ] || die "SHA256SUMS has a malformed entry for $asset; nothing was installed"

say "downloading $asset"
fetch "$base_url/$asset" "$tmp/$asset" || die "could not download $base_url/$asset; nothing was installed"

actual="$(sha256 "$tmp/$asset")"
expected="$(printf '%s' "$expected" | tr 'A-F' 'a-f')"
if [ "$actual" != "$expected" ]; then
  die "checksum mismatch for $asset: expected $expected, got $actual. The download is corrupt or was tampered with; it was deleted and nothing was installed"
fi
say "checksum ok ($actual)"

# --- install atomically: stage in the destination directory, then rename --------------
mkdir -p "$install_dir" || die "cannot create $install_dir (pass --dir DIR or set FLEDGE_INSTALL_DIR)"
staged="$install_dir/.fledge-install.$$"
cp "$tmp/$asset" "$staged" || die "cannot write to $install_dir (pass --dir DIR or set FLEDGE_INSTALL_DIR)"
chmod 755 "$staged"
if ! installed_version="$("$staged" --version 2>/dev/null)"; then
  die "the downloaded $asset does not run on this machine; nothing was installed"
fi
mv -f "$staged" "$target" || die "cannot move the new binary to $target"
staged=""
printf 'installed %s to %s\n' "$installed_version" "$target"

case ":${PATH:-}:" in
  *":$install_dir:"*|*":${install_dir%/}:"*) ;;
  *)
    say "$install_dir is not on your PATH. Add it, then open a new shell:"
    say "  sh, bash, zsh:  echo 'export PATH=\"$install_dir:\$PATH\"' >> ~/.profile   (or ~/.bashrc, ~/.zshrc)"
    say "  fish:           fish_add_path $install_dir"
    ;;
esac
