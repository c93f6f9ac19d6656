#!/bin/sh
# An entrypoint that misbehaves the way real ones do: it leaves orphans
# behind, starts a daemon that ignores SIGTERM, and exits non-zero.
# Run it under podinit: musl-target/demo does.

echo "program: running as pid $$ under $(cat /proc/1/comm) (pid 1)"

# Ten orphans: their parents exit at once, so they are re-parented to PID 1.
for i in 1 2 3 4 5 6 7 8 9 10; do
    (sleep 0.2 &)
done

# A daemon in its own session that ignores SIGTERM: only SIGKILL ends it.
setsid sh -c 'trap "" TERM; while :; do sleep 1; done' &

sleep 0.5
zombies=$(grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l)
echo "program: orphans exited, zombies left: $zombies"
echo "program: exiting with 3, leaving the daemon behind"
exit 3
