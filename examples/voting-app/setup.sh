#!/bin/sh
# Builds the voting app's images from the host's packages (busybox-static, redis-server) and
# imports them into the local agent as busybox:test and redis:test.
#
#   examples/voting-app/setup.sh        (BOSUN=path/to/bosun to use another binary)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bosun=${BOSUN:-bosun}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$here/../../scripts/build-test-images.sh" "$out" >/dev/null
[ -f "$out/redis.tar" ] || { echo "redis-server is not installed (apt-get install redis-server)" >&2; exit 1; }
"$bosun" image import "$out/busybox.tar" busybox:test --change 'CMD ["sh"]'
"$bosun" image import "$out/redis.tar" redis:test \
    --change 'ENTRYPOINT ["/usr/bin/redis-server"]' --change 'CMD ["--protected-mode", "no"]' \
    --change 'EXPOSE 6379' --change 'VOLUME /data' --change 'WORKDIR /data'
