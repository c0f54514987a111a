#!/bin/sh
# The chaos test's command handler (tests/multiprocess/chaos_test.cpp). Appends
# `S|E task step attempt pid group worker_pid epoch_ms` to the file $1 at its
# start and end, and sleeps $2 seconds in between in a child of its own: each
# attempt is a process group of three (the worker's supervisor, this shell and
# sleep), all of which must die with the worker. While the file `hold` exists
# beside $1 it does not end: the test holds every run while it kills a worker,
# so that none can end by itself and be taken for one that died.
log=$1
seconds=$2
hold=${log%/*}/hold
set -- $(cat /proc/$$/stat) # pid (comm) state ppid pgrp ...
group=$5
set -- $(cat /proc/"$group"/stat)
worker=$4 # the supervisor's parent
line() { echo "$1 $TASKER_TASK_UUID $TASKER_STEP_NAME $TASKER_ATTEMPT $$ $group $worker $(date +%s%3N)" >>"$log"; }
line S
sleep "$seconds" &
wait $!
while [ -e "$hold" ]; do sleep 0.05; done
line E
echo "{\"attempt\": $TASKER_ATTEMPT}"
