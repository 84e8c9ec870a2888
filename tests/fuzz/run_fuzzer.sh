#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time (a ctest test of label fuzz): the checked-in seeds
# first, then new inputs kept in WORKDIR/corpus. A crash, hang or leak fails the test and prints
# the reproducer. Usage: run_fuzzer.sh FUZZER SEED_DIR WORKDIR SECONDS [libFuzzer flags...]
set -uo pipefail
fuzzer=$1 seeds=$2 work=$3 seconds=$4
shift 4
mkdir -p "$work/corpus" "$work/artifacts" "$seeds"
rm -f "$work"/artifacts/*
"$fuzzer" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 -malloc_limit_mb=1024 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$@" "$work/corpus" "$seeds"
rc=$?
if ((rc != 0)); then
  for f in "$work"/artifacts/*; do
    [[ -e $f ]] || continue
    echo "fuzz: FAILED on $f"
    echo "fuzz: reproduce with: $fuzzer $f"
    echo "fuzz: fix it, copy it into $seeds/ and add a unit test that fails without the fix"
  done
fi
exit "$rc"
