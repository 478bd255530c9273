#!/usr/bin/env python3
"""run_check.py - `make check`, the quick loop: the C unit tests (build/tests/test_*, as
run_tests.py runs them) and every fuzz seed and kept corpus input (tests/fuzz/run_fuzz.py's) given
once to build/check-fuzz/fuzz_*, the fuzz targets linked to a plain main() (tests/fuzz/replay_main.c)
instead of libFuzzer. No daemons, no integration tests. Each unit TEST and each replayed target is
one test; the last line is "N passed, N failed"; the exit code is non-zero when anything failed.
ONLY=substring restricts it to matching unit programs and fuzz targets."""
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "fuzz"))
import run_tests  # noqa: E402
import run_fuzz  # noqa: E402

ROOT = run_tests.ROOT
BUILD = os.path.abspath(run_tests.BUILD)
REPLAY = os.path.join(BUILD, "check-fuzz")
ONLY = run_tests.ONLY


def replay_corpora():
    run_fuzz.FUZZ = REPLAY  # the seeds go to build/check-fuzz/seeds/, apart from `make fuzz`'s
    passed = failed = 0
    for t in run_fuzz.TARGETS:
        if ONLY and ONLY not in "fuzz_" + t:
            continue
        started = time.monotonic()
        dirs = [run_fuzz.seed_dir(t)] + ([run_fuzz.kept_dir(t)] if os.path.isdir(run_fuzz.kept_dir(t)) else [])
        # to a file: the targets print what they parse (fuzz_options its usage and errors)
        with tempfile.TemporaryFile(mode="w+", errors="replace") as log:
            try:
                code = subprocess.call([os.path.join(REPLAY, "fuzz_" + t)] + dirs, cwd=ROOT, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=120)
            except subprocess.TimeoutExpired:
                code = "timeout"
            log.seek(0)
            out = log.read()
        lines = out.splitlines()
        inputs = lines[-1] if code == 0 and lines else "?"
        ok = code == 0
        passed, failed = passed + ok, failed + (not ok)
        print("%-32s %-14s %5.1fs  %s" % ("fuzz replay " + t, inputs, time.monotonic() - started,
                                         "ok" if ok else "FAILED (exit %s)" % code))
        if not ok:
            print("\n".join("    " + line for line in lines[-40:]))
        sys.stdout.flush()
    return passed, failed


def main():
    os.chdir(ROOT)
    started = time.monotonic()
    unit_passed, unit_failed = run_tests.run_unit_tests()
    fuzz_passed, fuzz_failed = replay_corpora()
    passed, failed = unit_passed + fuzz_passed, unit_failed + fuzz_failed
    print()
    print("unit: %d passed, %d failed; fuzz replay: %d passed, %d failed; %.0fs"
          % (unit_passed, unit_failed, fuzz_passed, fuzz_failed, time.monotonic() - started))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
