#!/bin/sh
# Builds small real images from the host's Debian packages, as tar files `bosun image import`
# accepts (entrypoints and commands are given as --change instructions, printed at the end).
#
#   scripts/build-test-images.sh [OUT_DIR]      (default: target/test-images)
#
# busybox.tar: busybox-static with all its applets and a root user.
# redis.tar:   redis-server with the shared libraries ldd finds, plus busybox (only when
#              redis-server is installed: apt-get install redis-server).
# Nothing is downloaded; install busybox-static (and redis-server) with apt first.
set -eu

out=${1:-target/test-images}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! file -L "$busybox" 2>/dev/null | grep -q static; then
    busybox=/bin/busybox
fi
[ -x "$busybox" ] || { echo "busybox-static is not installed (apt-get install busybox-static)" >&2; exit 1; }

base_root() {
    root=$1
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/data"
    chmod 1777 "$root/tmp"
    cp "$busybox" "$root/bin/busybox"
    for applet in $("$busybox" --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
}

base_root "$work/busybox"
tar --numeric-owner -C "$work/busybox" -cf "$out/busybox.tar" .
echo "$out/busybox.tar: bosun image import $out/busybox.tar busybox:test --change 'CMD [\"sh\"]'"

if command -v redis-server >/dev/null 2>&1; then
    root="$work/redis"
    base_root "$root"
    server=$(readlink -f "$(command -v redis-server)")
    mkdir -p "$root/usr/bin"
    cp "$server" "$root/usr/bin/redis-server"
    # The loader and every shared library, at the paths ldd reports.
    ldd "$server" | awk '/=> \// {print $3} /^\t\// {print $1}' | while read -r lib; do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
    tar --numeric-owner -C "$root" -cf "$out/redis.tar" .
    echo "$out/redis.tar: bosun image import $out/redis.tar redis:test --change 'ENTRYPOINT [\"/usr/bin/redis-server\"]' --change 'CMD [\"--protected-mode\", \"no\"]' --change 'EXPOSE 6379' --change 'VOLUME /data' --change 'WORKDIR /data'"
else
    echo "redis-server not installed: skipping redis.tar (apt-get install redis-server)" >&2
fi
