#!/usr/bin/env python3
"""A full disk (ENOSPC), for real, against tsdb-shell on a small ext4 loop image.

Each cycle, on one image that keeps the database from cycle to cycle:

  1. a filler file (fallocate) takes all but a random few hundred KiB of the free space;
  2. one `tsdb-shell DIR --format csv` process (no --bail: it must go on after an error), with
     stderr merged into stdout so its lines keep their order, is fed 20-row INSERT batches,
     each followed by `SELECT 'ACK', n` (and `ADMIN flush_table` after every 10th; rows carry
     256 random bytes so that the disk fills in tens of batches). A batch is
     acknowledged when its ACK line arrives with no `Error:` line since the INSERT; refused
     when an `Error:` line came first. Feeding goes on until REFUSED batches in a row are
     refused (the disk is full) or MAX_BATCHES were sent;
  3. the filler is deleted (space returns) while the shell still runs, and AFTER more batches
     are fed to the same process: acknowledged ones count like the others;
  4. the shell's stdin is closed (a normal exit); then unmount, remount, reopen and check.

Checked, per cycle:
  E1 every refused batch got one clear `Error:` line (the first one is printed), no panic
     (`panicked` in the output), no hang (a batch's answer within --timeout seconds, the exit
     within --timeout too)
  E2 ENOSPC was actually hit (at least one batch refused; else the cycle says so)
  and after the remount the invariants of powercut.py:
  I1 the database opens and the table scans without error
  I2 every acknowledged batch is present, whole                         (durability)
  I3 every present batch was sent                                       (no phantoms)
  I4 every present batch is whole                                       (statement atomicity)
  I5 no row appears twice                                               (no double replay)
A refused batch may be present (whole) or absent: the error may come after the WAL write
succeeded (e.g. a flush that could not write its SST), and a refused write is not promised.

Needs root, Linux, mkfs.ext4 and loop devices. Usage (a debug build is fine):

  sudo scripts/enospc.py --shell /work/tdbg-fuzz/debug/tsdb-shell --cycles 20

Prints one line per cycle and a closing `N passed, N failed` line; exit status 1 on failure.
"""
import argparse
import os
import queue
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from powercut import ROWS, check, run, verify  # noqa: E402

REFUSED = 3       # refusals in a row that end the full-disk phase
AFTER = 5         # batches fed after space returns
MAX_BATCHES = 2000  # per cycle, before the disk must have filled


PAD = 256  # bytes of random hex per row, so a few hundred KiB fill in tens of batches


def insert(batch):
    """powercut.py's batch (20 rows, ts = batch * 20 + i, v = batch; a flush after every
    10th), plus a random `p` column that makes the rows take space."""
    rows = ",".join(f"('a',{batch * ROWS + i},{batch},'{os.urandom(PAD // 2).hex()}')"
                    for i in range(ROWS))
    text = f"INSERT INTO t (s, ts, v, p) VALUES {rows};\n"
    if batch % 10 == 9:
        text += "ADMIN flush_table('t');\n"
    return text + f"SELECT 'ACK' AS k, {batch} AS b;\n"


class Shell:
    """One shell process; stdout+stderr lines arrive on a queue."""

    def __init__(self, shell, db):
        self.proc = subprocess.Popen(
            [shell, db, "--format", "csv"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1, env={**os.environ, "RUST_BACKTRACE": "0"})
        self.lines = queue.Queue()
        self.output = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.output.append(line.rstrip("\n"))
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def send(self, text):
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def batch(self, n, timeout):
        """Feeds batch n; returns ('ack', None), ('refused', first error line) or
        ('hang'|'exit', None)."""
        self.send(insert(n))
        error = None
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return "hang", None
            if line is None:
                return "exit", error
            if line.startswith("Error:") and error is None:
                error = line
            if line.strip() == f"ACK,{n}":
                return ("refused", error) if error else ("ack", None)

    def close(self, timeout):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "hang"


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path, leave):
    """Creates `path` taking all but about `leave` bytes of the free space."""
    size = max(0, free_bytes(os.path.dirname(path)) - leave)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        while size > 0:
            try:
                os.posix_fallocate(fd, 0, size)
                break
            except OSError:
                size -= 64 << 10  # metadata blocks took some: a little less
        os.fsync(fd)
    finally:
        os.close(fd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shell", default="target/debug/tsdb-shell")
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--image-mib", type=int, default=64)
    ap.add_argument("--leave-kib", type=int, nargs=2, default=[16, 512],
                    help="free space left by the filler: a random amount in this range, KiB")
    ap.add_argument("--timeout", type=float, default=60.0, help="longest wait for an answer, s")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", help="where the image and mount point live (default: a temp dir)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("enospc.py: needs root (mount, loop devices)")
    shell = os.path.abspath(a.shell)
    random.seed(a.seed)
    work = a.workdir or tempfile.mkdtemp(prefix="tsdb-enospc-")
    os.makedirs(work, exist_ok=True)
    image, mnt = os.path.join(work, "fs.img"), os.path.join(work, "mnt")
    os.makedirs(mnt, exist_ok=True)
    with open(image, "wb") as f:
        f.truncate(a.image_mib << 20)
    # -m 0: no blocks reserved for root (the script runs as root, the shell too).
    run("mkfs.ext4", "-q", "-F", "-m", "0", image)
    run("mount", "-o", "loop", image, mnt)
    db, filler = os.path.join(mnt, "db"), os.path.join(mnt, "filler")
    # The table exists before the disk is first filled: refusals are then about space.
    subprocess.run([shell, db, "-c", "CREATE TABLE t (s STRING, ts TIMESTAMP TIME INDEX, "
                    "v BIGINT, p STRING, PRIMARY KEY (s))"], check=True, capture_output=True)
    sent_all, acked_all, refused_all = set(), set(), set()
    next_batch, failures, rows_checked, hit = 0, 0, 0, 0
    errors_seen, refused_errors = {}, {}
    try:
        for cycle in range(a.cycles):
            leave = random.randint(a.leave_kib[0], a.leave_kib[1]) << 10
            fill(filler, leave)
            sh = Shell(shell, db)
            errors, acked, refused, in_a_row, first_error = [], [], [], 0, None
            phase_full = True
            after_outcomes = []  # outcomes of the batches fed after space returned
            after_left = AFTER
            while True:
                if phase_full and (in_a_row >= REFUSED or len(acked) + len(refused) >= MAX_BATCHES):
                    phase_full = False
                    os.remove(filler)  # space returns, the shell still runs
                if not phase_full:
                    if after_left == 0:
                        break
                    after_left -= 1
                n = next_batch
                next_batch += 1
                sent_all.add(n)
                outcome, error = sh.batch(n, a.timeout)
                if not phase_full:
                    after_outcomes.append(outcome)
                if outcome == "ack":
                    acked.append(n)
                    in_a_row = 0
                elif outcome == "refused":
                    refused.append(n)
                    in_a_row += 1
                    first_error = first_error or error
                    # The kind of error, without paths and ids.
                    key = re.sub(r"/\S+", "<path>", error)[:110]
                    errors_seen[key] = errors_seen.get(key, 0) + 1
                    refused_errors[n] = error
                else:
                    errors.append(f"E1 batch {n}: the shell {'hung' if outcome == 'hang' else 'exited'}")
                    break
            if phase_full and os.path.exists(filler):
                os.remove(filler)
            status = sh.close(a.timeout)
            if status == "hang":
                errors.append("E1 the shell did not exit after its stdin closed")
            panics = [line for line in sh.output if "panicked" in line]
            if panics:
                errors.append(f"E1 panic: {panics[0][:200]}")
            if refused:
                hit += 1
            acked_all.update(acked)
            refused_all.update(refused)
            run("umount", mnt)
            run("mount", "-o", "loop", image, mnt)
            rows, more = verify(shell, db, expect_table=bool(acked_all))
            errors += more
            more, present = check(rows, sent_all, acked_all, refused_all)
            errors += more
            rows_checked += len(rows)
            status_text = "OK" if not errors else "FAIL " + "; ".join(errors[:4])
            print(f"cycle {cycle}: left={leave >> 10}KiB acked={len(acked)} refused={len(refused)} "
                  f"refused_present={sum(1 for b in refused if b in {v for _, v in rows})} "
                  f"after_space_returned={after_outcomes.count('ack')}/{len(after_outcomes)}_acked "
                  f"exit={status} rows={len(rows)} first_error={first_error!r} {status_text}",
                  flush=True)
            present = {v for _, v in rows}
            for b in refused:
                if b in present:
                    print(f"  refused batch {b} is present (whole): {refused_errors[b][:160]}")
            if errors:
                failures += 1
                print("  shell output (last 20 lines):\n    " + "\n    ".join(sh.output[-20:]))
    finally:
        if os.path.exists(filler):
            os.remove(filler)
        subprocess.run(["umount", mnt], capture_output=True)
    print(f"cycles={a.cycles} (ENOSPC hit in {hit}) batches acknowledged={len(acked_all)} "
          f"refused={len(refused_all)} rows checked={rows_checked} rows per batch={ROWS}")
    print("errors seen:")
    for k, v in sorted(errors_seen.items()):
        print(f"  {v:5d} x {k}")
    print(f"{a.cycles - failures} passed, {failures} failed")
    if not a.workdir and not failures:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
