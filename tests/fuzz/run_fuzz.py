#!/usr/bin/env python3
"""run_fuzz.py - seeds, runs and replays the libFuzzer targets in build/fuzz/.

  run_fuzz.py run [SECONDS]   each target (every tests/fuzz/fuzz_*.c) for SECONDS (default
                              $FUZZ_SECONDS or 30) times its fuzz-weight, on a corpus in
                              build/fuzz/corpus/<target> seeded from tests/fixtures and
                              tests/fuzz/corpus/<target>; prints executions, cov and ft per target.
                              Crashes land in build/fuzz/crashes/<target>/: copy each into
                              tests/fuzz/corpus/<target>/ (after the fix) so `replay` keeps it.
  run_fuzz.py keep [TARGET]   merges what `run` found into tests/fuzz/corpus/<target> (every target,
                              or those named) with libFuzzer's -merge=1: only inputs that add
                              coverage are kept, cut to FUZZ_KEEP_MAX_LEN (8 KiB); commit it
                              (`make fuzz-keep` after `make fuzz`). The repository keeps corpora for
                              the newest parsers (prometheus_text, sources, state_file); the older
                              targets are seeded from tests/fixtures.
  run_fuzz.py replay          every seed and every kept crash file through each target once
                              (-runs=0): what `make test` does. Exit 1 on any failure.
"""
import glob
import os
import re
import shutil
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("BUILD", os.path.join(ROOT, "build")))
FUZZ = os.path.join(BUILD, "fuzz")
# Every tests/fuzz/fuzz_<target>.c is a target: a new parser's target is run and replayed without
# touching this file. A line "fuzz-weight: N" in the target's source runs it N times as long in
# `run` (the newest parsers get the most time).
TARGETS = sorted(os.path.basename(p)[len("fuzz_"):-len(".c")]
                 for p in glob.glob(os.path.join(ROOT, "tests", "fuzz", "fuzz_*.c")))


def weight(target):
    with open(os.path.join(ROOT, "tests", "fuzz", "fuzz_%s.c" % target), errors="replace") as f:
        m = re.search(r"fuzz-weight:\s*(\d+)", f.read())
    return int(m.group(1)) if m else 1
FIX = os.path.join(ROOT, "tests", "fixtures")
ENV = dict(os.environ,
           ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=0",
           UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")


def _write(d, name, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def _nl_msg(family, state, sport, dport, with_done=True):
    # struct inet_diag_msg: family, state, timer, retrans, id(sport, dport, src[16], dst[16], if, cookie[2]),
    # expires, rqueue, wqueue, uid, inode
    msg = struct.pack("=BBBB", family, state, 0, 0) + struct.pack(">HH", sport, dport)
    msg += bytes([127, 0, 0, 1] + [0] * 12) + bytes([127, 1, 2, 3] + [0] * 12)
    msg += struct.pack("=IQ", 0, 0) + struct.pack("=IIIII", 0, 0, 0, 1000, 4242)
    body = struct.pack("=IHHII", 16 + len(msg), 20, 2, 1, 0) + msg
    if with_done:
        body += struct.pack("=IHHII", 20, 3, 2, 1, 0) + b"\0\0\0\0"
    return body


def seed_dir(target):
    """build/fuzz/seeds/<target>: generated seeds; kept ones come from tests/fuzz/corpus/<target>."""
    d = os.path.join(FUZZ, "seeds", target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    stats = sorted(glob.glob(os.path.join(FIX, "stats-*.txt"))) + \
        [os.path.join(FIX, "http-response-stats-M1-with-headers.txt")]
    if target in ("stats_parser", "json_output"):
        for p in stats:
            shutil.copy(p, d)
    elif target == "sources":
        types = {"teleproxy": 0, "mtprotoproxy": 2, "mtg": 3, "telemt": 2, "mtproto.zig": 1}
        for p in sorted(glob.glob(os.path.join(FIX, "peers", "*", "*.txt"))) + stats[:3]:
            impl = os.path.basename(os.path.dirname(p))
            data = open(p, "rb").read()
            if data.startswith(b"HTTP/"):
                data = data.split(b"\r\n\r\n", 1)[1]
            _write(d, impl + "-" + os.path.basename(p), bytes([types.get(impl, 1)]) + data)
    elif target == "prometheus_text":
        for p in sorted(glob.glob(os.path.join(FIX, "peers", "*", "*.txt"))):
            shutil.copy(p, os.path.join(d, os.path.basename(os.path.dirname(p)) + "-" + os.path.basename(p)))
    elif target == "procfs":
        for i, name in enumerate(("stat", "status", "limits", "io")):
            for p in glob.glob(os.path.join(FIX, "proc-M2", "*", name)):
                _write(d, "%s-%s" % (os.path.basename(os.path.dirname(p)), name),
                       bytes([i]) + open(p, "rb").read())
    elif target == "procnet":
        for fam, path in ((0, "/proc/net/tcp"), (1, "/proc/net/tcp6")):
            try:
                lines = open(path, "rb").read().splitlines()[:20]
            except OSError:
                continue
            _write(d, "host-" + os.path.basename(path), bytes([fam]) + b"\n".join(lines) + b"\n")
    elif target == "sockdiag":
        _write(d, "one-v4", bytes([1, 0x01, 0xbb, 0, 0, 0x22, 0xb8, 3]) + _nl_msg(2, 1, 443, 50000))
        _write(d, "two-v4", bytes([0, 0, 0, 0, 0, 0, 0, 2]) + _nl_msg(2, 1, 443, 1, False) + _nl_msg(2, 8, 443, 2))
        err = struct.pack("=IHHII", 36, 2, 0, 1, 0) + struct.pack("=i", -1) + struct.pack("=IHHII", 16, 20, 0, 1, 0)
        _write(d, "error", bytes(8) + err)
    elif target == "line_protocol":
        _write(d, "simple", bytes([2, 3]) + b"\x07mtproxy\x08instance\x04main\x04side\x06client"
               + b"\x02up\x00" + bytes(8) + b"\x03x y\x01" + struct.pack(">d", 1.5)
               + b"\x04time\x02" + bytes(8) + b"\x05a\"b\\c")
        _write(d, "escapes", bytes([1, 1]) + b"\x05_a,b \x05k=\\ v\x04v\\,=\x04_f\\ \x02" + bytes(8) + b"\x03\xff\n\\")
    elif target == "options":
        _write(d, "url", b"--url\nhttp://127.0.0.1:8888/stats\n--once\n--format\njson")
        _write(d, "all", b"--timeout=500ms\n--client-port\n443\n--ignore-network\n10.0.0.0/8\n--interval\n1.5m")
        _write(d, "bad", b"--url\nfile:///etc/passwd\n--bogus")
        _write(d, "help", b"--help")
    elif target == "netmask":
        for i, t in enumerate((b"10.0.0.0/8", b"2001:db8::/32", b"127.0.0.1", b"::ffff:1.2.3.4/128",
                               b"1.2.3.4/33", b"fe80::1%eth0/64")):
            _write(d, "seed%d" % i, t)
    elif target == "number":
        for i, t in enumerate((b"0", b"-9223372036854775808", b"18446744073709551616", b"007", b"99.850",
                               b"-.5", b"1e3", b"500ms", b"1.5m", b"2h", b" 1", b"0x10")):
            _write(d, "seed%d" % i, t)
    return d


def kept_dir(target):
    return os.path.join(ROOT, "tests", "fuzz", "corpus", target)


def binary(target):
    return os.path.join(FUZZ, "fuzz_" + target)


def run(seconds):
    rows, bad = [], 0
    for t in TARGETS:
        secs = seconds * weight(t)
        corpus = os.path.join(FUZZ, "corpus", t)
        crashes = os.path.join(FUZZ, "crashes", t)
        os.makedirs(corpus, exist_ok=True)
        os.makedirs(crashes, exist_ok=True)
        dirs = [corpus, seed_dir(t)] + ([kept_dir(t)] if os.path.isdir(kept_dir(t)) else [])
        log = os.path.join(FUZZ, t + ".log")
        with open(log, "w") as f:
            rc = subprocess.call([binary(t), "-max_total_time=%d" % secs, "-timeout=10",
                                  "-rss_limit_mb=2048", "-max_len=65536", "-close_fd_mask=1",
                                  "-artifact_prefix=%s/" % crashes, "-print_final_stats=1"] + dirs,
                                 stdout=f, stderr=subprocess.STDOUT, env=ENV, cwd=FUZZ)
        text = open(log, errors="replace").read()
        execs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", text)
        cov = re.findall(r"cov: (\d+) ft: (\d+)", text)
        c, ft = cov[-1] if cov else ("?", "?")
        status = "ok" if rc == 0 else "CRASH (rc %d, see %s)" % (rc, log)
        bad += rc != 0
        rows.append("%-16s %4ds %10s execs  cov %5s  ft %6s  %s"
                    % (t, secs, execs[-1] if execs else "?", c, ft, status))
        print(rows[-1])
        sys.stdout.flush()
    return 1 if bad else 0


# Kept inputs are cut to this length: the corpus lives in git, and the parsers' costly paths show in
# a few KiB (bodies at the size cap are test_hostile.py's and test_bounded_gather.py's business).
KEEP_MAX_LEN = int(os.environ.get("FUZZ_KEEP_MAX_LEN", "8192"))


def keep(targets):
    """build/fuzz/corpus/<target> -> tests/fuzz/corpus/<target>, only what adds coverage."""
    for t in targets or TARGETS:
        found = os.path.join(FUZZ, "corpus", t)
        if not os.path.isdir(found) or not os.listdir(found):
            print("fuzz keep %-16s nothing found (run first)" % t)
            continue
        kept = kept_dir(t)
        os.makedirs(kept, exist_ok=True)
        before = len(os.listdir(kept))
        p = subprocess.run([binary(t), "-merge=1", "-close_fd_mask=1", "-max_len=%d" % KEEP_MAX_LEN, kept, found],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENV, cwd=FUZZ, timeout=1800)
        if p.returncode != 0:
            print(p.stdout.decode(errors="replace")[-3000:])
            return 1
        print("fuzz keep %-16s %4d -> %4d inputs in %s" % (t, before, len(os.listdir(kept)),
                                                            os.path.relpath(kept, ROOT)))
    return 0


def replay():
    bad = 0
    for t in TARGETS:
        dirs = [seed_dir(t)] + ([kept_dir(t)] if os.path.isdir(kept_dir(t)) else [])
        p = subprocess.run([binary(t), "-runs=0", "-close_fd_mask=1"] + dirs, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=ENV, cwd=FUZZ, timeout=300)
        files = sum(len(os.listdir(x)) for x in dirs)
        ok = p.returncode == 0
        print("fuzz replay %-14s %4d inputs  %s" % (t, files, "ok" if ok else "FAILED"))
        if not ok:
            print(p.stdout.decode(errors="replace")[-4000:])
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    os.makedirs(FUZZ, exist_ok=True)
    if len(sys.argv) > 1 and sys.argv[1] == "replay":
        sys.exit(replay())
    if len(sys.argv) > 1 and sys.argv[1] == "keep":
        sys.exit(keep(sys.argv[2:]))
    secs = int(sys.argv[2]) if len(sys.argv) > 2 else int(os.environ.get("FUZZ_SECONDS", "30"))
    sys.exit(run(secs))
