#!/usr/bin/env bash
# Builds the libcurl the operator links: Debian's curl source package (its
# security patches applied) configured for HTTP and HTTPS only, as a static
# library, into $FORESIGHT_CACHE/libcurl-http (lib/libcurl.a, include/curl/).
#
#   hack/libcurl.sh        build it unless the cached build has these options
#                          and the version of Debian's curl source package
#
# Why not Debian's libcurl4: it is built for every protocol curl speaks and
# loads 33 shared libraries with it (LDAP, Kerberos, SSH, RTMP and through it
# GnuTLS, ...). Loading and initialising them took 4 MiB of the idle
# operator's 13.4 MiB RSS (BENCHMARKS.md), for protocols it never speaks.
# Kept: OpenSSL, nghttp2 (HTTP/2: the apiserver's requests and watches share
# one connection), zlib (gzip responses), the threaded resolver (a DNS
# lookup never blocks the event loop) and the CA bundle Debian's uses.
#
# Needs the deb-src entries, dpkg-dev, libssl-dev, libnghttp2-dev and
# zlib1g-dev (hack/deps.sh installs them, then runs this). About a minute.
set -euo pipefail

cache="${FORESIGHT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/foresight}"
dest="$cache/libcurl-http"

options=(--disable-shared --enable-static --with-openssl --with-nghttp2 --with-zlib
	--enable-threaded-resolver --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt
	--disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp
	--disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap
	--disable-smb --disable-smtp --disable-gopher --disable-mqtt --disable-manual
	--disable-ntlm --disable-kerberos-auth --disable-negotiate-auth
	--without-librtmp --without-libssh2 --without-libssh --without-libpsl
	--without-libidn2 --without-gssapi --without-zstd --without-brotli --without-libgsasl)

say() { echo "libcurl: $*" >&2; }

# The version apt-get source would fetch now (from the local package lists):
# a security update to Debian's curl rebuilds the cached library.
latest=$({ apt-get source --print-uris curl 2>/dev/null </dev/null || true; } |
	sed -n "s/.* curl_\([^ ]*\)\.dsc .*/\1/p" | head -1)
if [ -f "$dest/lib/libcurl.a" ] && [ "$(cat "$dest/options" 2>/dev/null)" = "${options[*]}" ]; then
	cached=$(cat "$dest/debian-version" 2>/dev/null || true)
	[ -n "$latest" ] || say "warning: cannot tell curl's source version (no deb-src entry?); keeping the build of $cached"
	if [ -z "$latest" ] || [ "$latest" = "$cached" ]; then
		exit 0
	fi
	say "Debian's curl source is $latest, the cached build is of ${cached:-an unknown version}"
fi

rm -rf "$dest.new"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say "building libcurl (HTTP and HTTPS only) from Debian's source package into $dest"
(cd "$work" && apt-get source --download-only curl </dev/null >"$work/log" 2>&1) || {
	say "error: apt-get source curl failed (is there a deb-src entry? run hack/deps.sh): $(tail -3 "$work/log")"
	exit 1
}
(cd "$work" && dpkg-source --no-check -x ./*.dsc src >>"$work/log" 2>&1) || {
	say "error: dpkg-source could not unpack curl: $(tail -3 "$work/log")"
	exit 1
}
# Debian's own hardening flags, as its libcurl4 is built with.
(cd "$work/src" &&
	CFLAGS="$(dpkg-buildflags --get CFLAGS)" CPPFLAGS="$(dpkg-buildflags --get CPPFLAGS)" \
		./configure --prefix="$dest.new" "${options[@]}" >>"$work/log" 2>&1 &&
	make -j"$(nproc)" -C lib >>"$work/log" 2>&1 &&
	make -C lib install >>"$work/log" 2>&1 &&
	make -C include install >>"$work/log" 2>&1) || {
	say "error: the build failed (log: $work/log kept):"
	tail -20 "$work/log" >&2
	trap - EXIT
	exit 1
}
printf '%s\n' "${options[*]}" >"$dest.new/options"
sed -n 's/^Version: //p' "$work"/*.dsc >"$dest.new/debian-version"
rm -rf "$dest"
mv "$dest.new" "$dest"
say "ok: $(cat "$dest/debian-version")"
