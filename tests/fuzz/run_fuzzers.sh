#!/usr/bin/env bash
# tests/fuzz/run_fuzzers.sh - build the libFuzzer targets (ASan + UBSan), seed
# their corpora, replay the regression inputs and fuzz each target.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: tests/fuzz/run_fuzzers.sh [options]

Builds build-fuzz (clang-19, GRADC_FUZZ=ON: only the IR and frontend
libraries and the runtime's file readers, with
-fsanitize=fuzzer,address,undefined) when needed, seeds a corpus per target,
replays the committed regression inputs (tests/fuzz/corpus-TARGET), then
fuzzes each target.

  fuzz_grad   .grad source -> lexer, parser (with the prelude), AST dump,
              semantic analysis, verifier
  fuzz_gir    text IR -> parser, verifier, print and parse back
  fuzz_files  what a trained executable reads: CSV tables, checkpoints and
              the saved run they hold (train --resume's reading), tokenizer
              files, text corpora, JSON; each must be taken or refused with
              a one-line message

Options:
  --time SECONDS   fuzz each target this long (default 30)
  --runs N         fuzz each target for N executions instead of a time
  --targets LIST   comma-separated, from grad,gir,files (default all three)
  --max-len BYTES  longest input to make (default 8192 for grad and files,
                   65536 for gir: sources are short, IR dumps are not)
  --replay         only replay the regression inputs; no fuzzing
  --build DIR      the fuzz build directory (default build-fuzz)
  --work DIR       corpora, artifacts and logs (default BUILD/work)
  --gradc PATH     gradc used to dump the examples' IR as seeds
                   (default build/tools/gradc; seeds without dumps if absent)
  -h, --help       this text

Each run uses -timeout=5 (an input that takes longer is a hang) and
-rss_limit_mb=2048. A crash, sanitizer report, hang or out-of-memory input is
written to WORK/artifacts and makes the script exit 1; minimise it with
  build-fuzz/tests/fuzz/fuzz_grad -minimize_crash=1 -runs=100000 FILE
and commit the result to tests/fuzz/corpus-TARGET with the fix.
Exit 77 (a skipped test to ctest): clang-19 or libFuzzer is not installed
(scripts/deps.sh installs them).
EOF
}

root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds=30 runs="" targets="grad,gir,files" replayOnly=0 maxLen=""
build="$root/build-fuzz" work="" gradc="$root/build/tools/gradc"
while [ $# -gt 0 ]; do
  case "$1" in
    --time) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --targets) targets="$2"; shift 2 ;;
    --max-len) maxLen="$2"; shift 2 ;;
    --replay) replayOnly=1; shift ;;
    --build) build="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --gradc) gradc="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_fuzzers.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
  esac
done
work="${work:-$build/work}"

if ! command -v clang++-19 >/dev/null || [ ! -f /usr/lib/llvm-19/lib/clang/19/lib/linux/libclang_rt.fuzzer-x86_64.a ]; then
  echo "run_fuzzers.sh: needs clang-19, libfuzzer-19-dev and libclang-rt-19-dev (scripts/deps.sh)" >&2
  exit 77
fi

for t in ${targets//,/ }; do
  case "$t" in grad|gir|files) ;; *) echo "run_fuzzers.sh: unknown target '$t'" >&2; exit 64 ;; esac
done

# Only the libraries the targets need, and the targets: about two minutes
# on two cores.
if [ ! -f "$build/build.ninja" ]; then
  CC=clang-19 CXX=clang++-19 cmake -S "$root" -B "$build" -G Ninja -DGRADC_FUZZ=ON >/dev/null
fi
t_list=""
for t in ${targets//,/ }; do t_list="$t_list fuzz_$t"; done
cmake --build "$build" -j 2 --target $t_list

# Seeds: every .grad in the examples and lit tests, every .gir in the lit
# tests, and the examples' IR at each stage. Larger files are left out: the
# mutator would cut them to -max_len anyway.
seed() {
  local dir="$work/corpus-$1"
  mkdir -p "$dir"
  if [ "$1" = grad ]; then
    find "$root/examples" "$root/tests/lit" "$root/bench" -name '*.grad' -size -64k -exec cp {} "$dir/" \;
  elif [ "$1" = files ]; then
    # The target writes a valid file of each kind (its first run does).
    GRADC_FUZZ_SEEDS="$dir" "$build/tests/fuzz/fuzz_files" -runs=0 "$dir" > /dev/null 2>&1
  else
    find "$root/tests/lit" -name '*.gir' -size -64k -exec cp {} "$dir/" \;
    if [ -x "$gradc" ]; then
      for e in "$root"/examples/*.grad; do
        for s in graph grad optim entries opt kernels; do
          "$gradc" dump "$e" --stage=$s > "$dir/$(basename "$e" .grad)-$s.gir" 2>/dev/null || true
        done
      done
      find "$dir" -name '*.gir' -size +64k -delete
    fi
  fi
}

status=0
for t in ${targets//,/ }; do
  bin="$build/tests/fuzz/fuzz_$t"
  regress="$root/tests/fuzz/corpus-$t"
  artifacts="$work/artifacts"
  mkdir -p "$artifacts" "$work/logs"
  len="${maxLen:-$([ "$t" = gir ] && echo 65536 || echo 8192)}"
  opts=(-timeout=5 -rss_limit_mb=2048 -max_len="$len" -dict="$root/tests/fuzz/$t.dict"
        -artifact_prefix="$artifacts/$t-" -print_final_stats=1)
  before=$(ls "$artifacts" | grep -c "^$t-" || true)

  # The regression inputs first: each once, as a test.
  n=$(find "$regress" -type f 2>/dev/null | wc -l)
  if [ "$n" -gt 0 ] && ! "$bin" "${opts[@]}" -runs=0 "$regress"/* > "$work/logs/$t-replay.log" 2>&1; then
    echo "fuzz_$t: a regression input fails (see $work/logs/$t-replay.log)"
    tail -n 30 "$work/logs/$t-replay.log"
    status=1
    continue
  fi
  echo "fuzz_$t: $n regression inputs pass"
  [ "$replayOnly" = 1 ] && continue

  seed "$t"
  limit=(-max_total_time="$seconds")
  [ -n "$runs" ] && limit=(-runs="$runs")
  start=$(date +%s)
  log="$work/logs/$t-fuzz.log"
  if "$bin" "${opts[@]}" "${limit[@]}" "$work/corpus-$t" $([ "$n" -gt 0 ] && echo "$regress") > "$log" 2>&1; then ok=1; else ok=0; fi
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  found=$(( $(ls "$artifacts" | grep -c "^$t-" || true) - before ))
  echo "fuzz_$t: ${execs:-0} executions in $(( $(date +%s) - start )) s, $found new artifacts, corpus $(ls "$work/corpus-$t" | wc -l) inputs"
  if [ "$ok" = 0 ] || [ "$found" -gt 0 ]; then
    echo "fuzz_$t: FAILED (log: $log)"
    grep -A 30 -m 1 "ERROR: \|runtime error\|==ERROR\|deadly signal\|Timeout\|out-of-memory" "$log" | head -n 40 || tail -n 30 "$log"
    status=1
  fi
done
exit $status
