#!/usr/bin/env python3
"""run_tests.py - runs every test of mtproxy-monitor and prints one summary.

C unit tests are the programs build/tests/test_* (TAP: "ok N - name" /
"not ok N - name"); integration tests are the unittest modules
tests/integration/test_*.py, which drive the real collectd, a real influxd and
build/mtproxy-telegraf. The last line is "N passed, N failed"; the exit code is
non-zero when anything failed. ONLY=substring restricts the run to matching
test programs/modules. EXTRA_UNIT_BUILDS="build/asan ..." also runs the unit
tests of those build directories (the ASan+UBSan build of `make test`), a
sanitizer report counting as a failure.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
ONLY = os.environ.get("ONLY", "")
UNIT_TIMEOUT = 300
EXTRA_UNIT_BUILDS = os.environ.get("EXTRA_UNIT_BUILDS", "").split()
SAN_ENV = dict(os.environ, ASAN_OPTIONS="halt_on_error=1:detect_leaks=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")


def run_unit_tests(build=BUILD, prefix="", env=None):
    passed = failed = 0
    for binary in sorted(glob.glob(os.path.join(build, "tests", "test_*"))):
        name = prefix + os.path.basename(binary)
        if ONLY and ONLY not in name:
            continue
        started = time.monotonic()
        try:
            proc = subprocess.run([binary], cwd=ROOT, capture_output=True, text=True,
                                  timeout=UNIT_TIMEOUT, errors="replace", env=env)
            output, code = proc.stdout + proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as exc:
            output, code = (exc.stdout or b"").decode(errors="replace"), "timeout"
        oks = re.findall(r"^ok \d+ - (.*)$", output, re.M)
        not_oks = re.findall(r"^not ok \d+ - (.*)$", output, re.M)
        passed += len(oks)
        failed += len(not_oks)
        if code != 0 and not not_oks:
            failed += 1  # crashed or timed out outside a TEST
        if env is not None and re.search(r"Sanitizer|runtime error:", output) and code == 0:
            code = "sanitizer report"
            failed += 1
        status = "ok" if code == 0 and not not_oks else "FAILED (exit %s)" % code
        print("%-32s %3d passed %3d failed  %5.1fs  %s" % (name, len(oks), len(not_oks),
                                                         time.monotonic() - started, status))
        if status != "ok":
            print("\n".join("    " + line for line in output.splitlines()[-60:]))
        sys.stdout.flush()
    return passed, failed


class CountingResult(unittest.TextTestResult):
    pass


def run_integration_tests():
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "integration", "test_*.py"))):
        module = os.path.splitext(os.path.basename(path))[0]
        if ONLY and ONLY not in module:
            continue
        suite.addTests(loader.discover(os.path.dirname(path), pattern=module + ".py",
                                       top_level_dir=os.path.dirname(path)))
    runner = unittest.TextTestRunner(verbosity=2, stream=sys.stdout, resultclass=CountingResult)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    return passed, failed, skipped


# SANITIZED_INTEGRATION="DIR:module,module": those integration modules once
# more with DIR/mtproxy-telegraf (the ASan+UBSan build): a sanitizer report
# aborts the binary, a leak makes it exit non-zero, and the tests see either.
SANITIZED_INTEGRATION = os.environ.get("SANITIZED_INTEGRATION", "")


def run_sanitized_integration():
    if not SANITIZED_INTEGRATION:
        return 0, 0, 0
    build_dir, _, modules = SANITIZED_INTEGRATION.partition(":")
    binary = os.path.join(os.path.abspath(build_dir), "mtproxy-telegraf")
    modules = [m for m in modules.split(",") if m and (not ONLY or ONLY in m)]
    if not modules or not os.access(binary, os.X_OK):
        return 0, 0, 0
    env = dict(SAN_ENV, MTPM_TELEGRAF=binary,
               PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "tests", "lib"), os.path.join(ROOT, "tests")]))
    print("\nsanitized (%s): %s" % (binary, ", ".join(modules)))
    sys.stdout.flush()
    # Output to a file, not a pipe: a helper process a test leaves behind for
    # a moment would hold a pipe open and keep us waiting for its EOF.
    with tempfile.TemporaryFile(mode="w+", errors="replace") as log:
        proc = subprocess.run([sys.executable, "-m", "unittest", "-v"] + modules,
                              cwd=os.path.join(ROOT, "tests", "integration"), env=env, stdin=subprocess.DEVNULL,
                              stdout=log, stderr=subprocess.STDOUT, timeout=1800)
        log.seek(0)
        out = log.read()
    ran = int((re.search(r"^Ran (\d+) test", out, re.M) or [0, 0])[1])
    counts = {k: int(v) for k, v in re.findall(r"(failures|errors|skipped|unexpected successes)=(\d+)", out)}
    failed = counts.get("failures", 0) + counts.get("errors", 0) + counts.get("unexpected successes", 0)
    if proc.returncode != 0 and not failed:
        failed = 1
    skipped = counts.get("skipped", 0)
    for line in out.splitlines():
        if line.startswith(("FAIL:", "ERROR:")):
            print("    " + line)
    if failed:
        print("\n".join("    " + l for l in out.splitlines()[-80:]))
    print("sanitized: %d ran, %d failed, %d skipped" % (ran, failed, skipped))
    return ran - failed - skipped, failed, skipped


def main():
    os.chdir(ROOT)
    unit_passed, unit_failed = run_unit_tests()
    for extra in EXTRA_UNIT_BUILDS:
        p, f = run_unit_tests(os.path.abspath(extra), os.path.basename(extra.rstrip("/")) + "/", SAN_ENV)
        unit_passed, unit_failed = unit_passed + p, unit_failed + f
    int_passed, int_failed, skipped = run_integration_tests()
    san_passed, san_failed, san_skipped = run_sanitized_integration()
    int_passed, int_failed, skipped = int_passed + san_passed, int_failed + san_failed, skipped + san_skipped
    passed, failed = unit_passed + int_passed, unit_failed + int_failed
    print()
    print("unit: %d passed, %d failed; integration: %d passed, %d failed, %d skipped"
          % (unit_passed, unit_failed, int_passed, int_failed, skipped))
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
