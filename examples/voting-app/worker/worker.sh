#!/bin/sh
# Moves votes from the queue in redis to the tallies in db.
echo "worker: moving votes from redis to db"
while true; do
    vote=$(printf 'LPOP votes\r\nQUIT\r\n' | nc redis 6379 | sed -n 2p | tr -d '\r')
    case "$vote" in
    a | b)
        total=$(printf 'INCR tally:%s\r\nQUIT\r\n' "$vote" | nc db 6379 | head -n 1 | tr -d '\r:')
        echo "worker: vote for $vote, total $total"
        ;;
    *) sleep 1 ;;
    esac
done
