#!/usr/bin/env python3
"""Kills imagesctl with SIGKILL at random moments and checks the folder store after each restart.

Driven by scripts/crash-soak.sh. The checks read the store as Docs/StoreProtocol.md describes it
and recompute every digest here, without the product's code:

- after recovery, staging/, the scratch folder and the deploy folder hold no temporary files;
- no record is `creating`, and every region of an available image is `available`;
- every `available` record has its content file, of its recorded size, whose bytes hash to the
  recorded stored SHA-256 and decompress to the recorded size and SHA-256;
- every content file belongs to an `available` record; a `pending_upload` record has none;
- every image available before the kill still is, with the same SHA-256 (unless the killed
  command was deleting or expiring it);
- a killed upload left either nothing, or an available image of the file sent, or a
  `pending_upload` image to which the same file can be sent again and that succeeds.
"""

import argparse
import collections
import gzip
import hashlib
import json
import lzma
import os
import random
import shutil
import signal
import subprocess
import sys
import time

OPERATIONS = ["capture", "upload", "deploy", "delete", "replicate", "expire", "server-delete"]
WEIGHTS = [3, 4, 3, 3, 3, 3, 2]
REGIONS = ["local", "us-east", "eu-west", "ap-south"]
FAR_FUTURE = "2031-01-01T00:00:00"
MOST_IMAGES = 8


class Soak:
    def __init__(self, imagesctl, work, seed):
        self.imagesctl = imagesctl
        self.work = work
        self.seed = seed
        self.rng = random.Random(seed)
        self.store = os.path.join(work, "store")
        self.scratch = os.path.join(work, "tmp")
        self.targets = os.path.join(work, "deploy")
        self.inputs = os.path.join(work, "inputs")
        for folder in (self.scratch, self.targets, self.inputs):
            os.makedirs(folder, exist_ok=True)
        self.env = dict(os.environ, TMPDIR=self.scratch)
        self.disks = []
        self.uploads = []  # (path, sha256 of the raw image, uncompressed size)
        self.sent = {}  # image number -> the upload file it was made from
        self.durations = collections.defaultdict(lambda: 1.0)
        self.kills = collections.Counter()
        self.phases = collections.Counter()
        self.failures = []
        self.reported = set()
        self.iteration = 0

    # ----- inputs -----

    def prepare_inputs(self):
        for index, (mebibytes, payload) in enumerate([(24, 4), (32, 7), (20, 2)]):
            self.disks.append(self.make_disk(f"disk{index}", mebibytes, payload))
        for index, (mebibytes, payload) in enumerate([(24, 8), (40, 16)]):
            raw = self.make_disk(f"upload{index}", mebibytes, payload)
            digest, size = file_sha256(raw)
            gz = raw + ".gz"
            with open(gz, "wb") as out:
                subprocess.run(["gzip", "-c", "-6", raw], stdout=out, check=True)
            xz = raw + ".xz"
            with open(xz, "wb") as out:
                subprocess.run(["xz", "-c", "-3", raw], stdout=out, check=True)
            self.uploads += [(gz, digest, size), (xz, digest, size)]

    def make_disk(self, name, mebibytes, payload):
        content = os.path.join(self.inputs, name + ".d")
        os.makedirs(os.path.join(content, "etc"), exist_ok=True)
        with open(os.path.join(content, "etc", "hostname"), "w") as out:
            out.write(name + "\n")
        data = random.Random(f"{self.seed}-{name}").randbytes(payload << 20)
        with open(os.path.join(content, "payload.bin"), "wb") as out:
            out.write(data)
        with open(os.path.join(content, "notes.txt"), "w") as out:
            out.write("\n".join(f"line {n} of {name}" for n in range(2000)))
        disk = os.path.join(self.inputs, name + ".img")
        with open(disk, "wb") as out:
            out.truncate(mebibytes << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-L", name, "-d", content, disk], check=True)
        return disk

    # ----- running imagesctl -----

    def command(self, words, now=None):
        prefix = [self.imagesctl, "--store", self.store, "--accept-xz"]
        if now:
            prefix += ["--now", now]
        return prefix + words

    def run(self, words, now=None):
        return subprocess.run(self.command(words, now), env=self.env, capture_output=True, text=True)

    def must(self, words, now=None, why=""):
        started = time.monotonic()
        result = self.run(words, now)
        if result.returncode != 0:
            self.fail(f"{why or ' '.join(words)} failed: {result.stderr.strip()}")
        return result, time.monotonic() - started

    def fail(self, message):
        if message in self.reported:
            return  # a leftover that stays is reported once, at the iteration that made it
        self.reported.add(message)
        self.failures.append((self.iteration, message))
        print(f"  FAIL [seed {self.seed} iteration {self.iteration}] {message}", flush=True)

    # ----- the store as it is on disk -----

    def records(self):
        found = {}
        folder = os.path.join(self.store, "records")
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if not name.endswith(".json"):
                self.fail(f"records/ holds {name}, which is no record")
                continue
            try:
                with open(os.path.join(folder, name)) as file:
                    found[int(name[:-5])] = json.load(file)
            except (ValueError, OSError) as error:
                self.fail(f"record {name} can't be read: {error}")
        return found

    def listing(self, name):
        folder = os.path.join(self.store, name)
        return sorted(os.listdir(folder)) if os.path.isdir(folder) else []

    def available(self):
        """Image number -> (sha256, type, expiry) of every available record."""
        result = {}
        for number, record in self.records().items():
            image = record.get("image", {})
            if image.get("status") == "available" and record.get("content"):
                result[number] = (record["content"]["sha256"], image.get("type"), image.get("expiry"))
        return result

    def snapshot(self):
        return {
            "records": {n: r["image"]["status"] for n, r in self.records().items()},
            "regions": {n: [g["status"] for g in r["image"].get("regions", [])] for n, r in self.records().items()},
            "content": self.listing("content"),
            "staging": self.listing("staging"),
            "scratch": [n for n in os.listdir(self.scratch) if n.startswith("imageskit-scratch-")],
            "partials": [n for n in os.listdir(self.targets) if ".imageskit-partial-" in n],
        }

    # ----- the checks after recovery -----

    def check_store(self, before, operation, target):
        for name in self.listing("staging"):
            self.fail(f"staging/{name} left after recovery")
        for name in os.listdir(self.scratch):
            self.fail(f"scratch {name} left after recovery")
        for name in os.listdir(self.targets):
            if ".imageskit-partial-" in name:
                self.fail(f"partial disk {name} left after recovery")
        known = {"records", "content", "staging", "locks", "events.jsonl", "usage.jsonl", "next-id", "next-id.lock"}
        for name in os.listdir(self.store):
            if name not in known:
                self.fail(f"unexpected file {name} in the store's folder")
        records = self.records()
        for name in self.listing("content"):
            number = int(name[:-5]) if name.endswith(".data") and name[:-5].isdigit() else None
            record = records.get(number)
            if record is None:
                self.fail(f"content/{name} has no record")
            elif record["image"]["status"] != "available":
                self.fail(f"content/{name} belongs to a {record['image']['status']} record")
        for number, record in records.items():
            self.check_record(number, record)
        now = self.available()
        for number, (digest, kind, expiry) in before.items():
            allowed_gone = (operation == "delete" and number == target) or (
                operation == "expire" and kind == "automatic" and expiry is not None and expiry <= FAR_FUTURE
            )
            if number not in now:
                if not allowed_gone:
                    self.fail(f"private/{number} was available before the kill and is gone")
            elif now[number][0] != digest:
                self.fail(f"private/{number} changed its sha256 from {digest} to {now[number][0]}")
        for name in self.listing("locks"):
            if name == "admission.lock":
                continue  # locked while a quota check and its save run; never removed
            number = int(name[:-5]) if name.endswith(".lock") and name[:-5].isdigit() else None
            if number is None or number >= (read_number(os.path.join(self.store, "next-id")) or 1):
                self.fail(f"locks/{name} is no lock of a reserved image number")
        for name in ("events.jsonl", "usage.jsonl"):
            self.check_lines(os.path.join(self.store, name))
        self.check_billing(records)
        next_id = read_number(os.path.join(self.store, "next-id"))
        if records and next_id is not None and next_id <= max(records):
            self.fail(f"next-id {next_id} would hand out private/{max(records)} again")

    def check_billing(self, records):
        """An image that is gone is billed no more: its copies' last usage lines are ends."""
        path = os.path.join(self.store, "usage.jsonl")
        if not os.path.exists(path):
            return
        last = {}
        with open(path) as file:
            for line in file:
                try:
                    usage = json.loads(line)
                    last[(usage["image"], usage["region"])] = usage["kind"]
                except (ValueError, KeyError):
                    continue
        for (image, region), kind in sorted(last.items()):
            number = int(image.split("/")[1])
            if kind == "started" and number not in records:
                self.fail(f"{image} is gone but still billed in {region}")

    def check_lines(self, path):
        """Every line of a log is whole JSON: a kill never leaves half a line."""
        if not os.path.exists(path):
            return
        with open(path, "rb") as file:
            for index, line in enumerate(file.read().split(b"\n")[:-1]):
                try:
                    json.loads(line)
                except ValueError:
                    self.fail(f"line {index + 1} of {os.path.basename(path)} is not whole JSON")

    def check_record(self, number, record):
        image = record["image"]
        status = image["status"]
        content_path = os.path.join(self.store, "content", f"{number}.data")
        if record.get("removing"):
            self.fail(f"private/{number} is still being removed after recovery")
        if status == "creating":
            self.fail(f"private/{number} is still creating after recovery")
        elif status == "pending_upload":
            if record.get("content"):
                self.fail(f"pending private/{number} has content facts")
        elif status == "available":
            bad = [g for g in image.get("regions", []) if g["status"] != "available"]
            if bad:
                self.fail(f"private/{number} has regions left mid-replication: {bad}")
            self.check_content(number, record.get("content"), content_path)
        else:
            self.fail(f"private/{number} has the unknown status {status}")

    def check_content(self, number, facts, path):
        if not facts:
            self.fail(f"available private/{number} has no content facts")
            return
        if not os.path.exists(path):
            self.fail(f"available private/{number} has no content file")
            return
        with open(path, "rb") as file:
            stored = file.read()
        if len(stored) != facts["compressed_bytes"]:
            self.fail(f"private/{number}: content is {len(stored)} bytes, the record says {facts['compressed_bytes']}")
            return
        if facts.get("stored_sha256") and hashlib.sha256(stored).hexdigest() != facts["stored_sha256"]:
            self.fail(f"private/{number}: stored bytes do not match stored_sha256")
            return
        try:
            raw = gzip.decompress(stored) if facts["format"] == "gzip" else lzma.decompress(stored)
        except (OSError, EOFError, lzma.LZMAError) as error:
            self.fail(f"private/{number}: content does not decompress: {error}")
            return
        if len(raw) != facts["uncompressed_bytes"] or hashlib.sha256(raw).hexdigest() != facts["sha256"]:
            self.fail(f"private/{number}: decompressed content does not match its size and sha256")

    # ----- operations -----

    def pick_target(self, kinds=("manual", "automatic")):
        candidates = [n for n, (_, kind, _) in self.available().items() if kind in kinds]
        return self.rng.choice(candidates) if candidates else None

    def words_for(self, operation):
        if operation == "capture":
            codec = self.rng.choice(["gzip", "xz"])
            return ["capture", self.rng.choice(self.disks), "--label", "soak", "--codec", codec], None
        if operation == "upload":
            path, _, _ = self.rng.choice(self.uploads)
            words = ["upload", path, "--label", "soak-upload", "--region", "local"]
            if self.rng.random() < 0.3:
                words += ["--codec", self.rng.choice(["gzip", "xz"])]
            return words, path
        if operation == "server-delete":
            disks = self.rng.sample(self.disks, self.rng.choice([1, 2]))
            return ["server-delete", "--label", "web", "--active-hours", "24"] + disks, None
        if operation == "expire":
            return ["expire"], None
        target = self.pick_target()
        if operation == "deploy":
            name = os.path.join(self.targets, f"disk-{self.iteration}.img")
            return ["deploy", f"private/{target}", name], target
        if operation == "delete":
            return ["delete", f"private/{target}"], target
        record = self.records()[target]
        held = [g["region"] for g in record["image"]["regions"] if g["status"] == "available"]
        wanted = [self.rng.choice(held)] + [r for r in REGIONS if self.rng.random() < 0.5]
        return ["replicate", f"private/{target}"] + list(dict.fromkeys(wanted)), target

    def prepare_for(self, operation):
        """Makes sure the operation has something to work on; not killed, not counted."""
        if operation in ("deploy", "delete", "replicate") and len(self.available()) < 2:
            path, _, _ = self.rng.choice(self.uploads)
            self.must(["upload", path, "--label", "seed", "--region", "local"], why="seeding an upload")
        if operation == "expire":
            if not any(kind == "automatic" for _, kind, _ in self.available().values()):
                self.must(["server-delete", "--label", "old", "--active-hours", "13", self.disks[2]], why="seeding")
            if self.rng.random() < 0.5:
                self.leave_pending_upload()
        manual = [n for n, (_, kind, _) in self.available().items() if kind == "manual"]
        while len(self.records()) > MOST_IMAGES and manual:
            self.must(["delete", f"private/{manual.pop(0)}"], why="making room")

    def leave_pending_upload(self):
        """An upload killed once its pending image exists: something for the sweep to close."""
        path, _, _ = self.rng.choice(self.uploads)
        known = set(self.records())
        process = subprocess.Popen(
            self.command(["upload", path, "--label", "left", "--region", "local"]), env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None:
            if set(self.records()) - known:
                break
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.sent.update({n: path for n in set(self.records()) - known})
        self.run(["list"])

    def delay_for(self, operation):
        expected = self.durations[operation]
        draw = self.rng.random()
        if draw < 0.15:
            return self.rng.uniform(0, 0.04)  # still starting up
        if draw < 0.9:
            return self.rng.uniform(0.04, max(0.05, 0.9 * expected))
        return self.rng.uniform(expected, expected * 1.6)  # likely finished already

    def iterate(self):
        operation = self.rng.choices(OPERATIONS, WEIGHTS)[0]
        self.prepare_for(operation)
        words, target = self.words_for(operation)
        before = self.available()
        known = set(self.records())
        delay = self.delay_for(operation)
        started = time.monotonic()
        process = subprocess.Popen(
            self.command(words, FAR_FUTURE if operation == "expire" else None), env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            process.wait(timeout=delay)
            finished = True
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            finished = False
        error = process.stderr.read().decode(errors="replace").strip()
        process.stderr.close()
        if finished:
            self.durations[operation] = 0.5 * self.durations[operation] + 0.5 * (time.monotonic() - started)
            if process.returncode != 0:
                self.fail(f"{operation} finished with status {process.returncode}: {error}")
        state = self.snapshot()
        phase = "finished" if finished else self.phase(operation, state, known, target, words)
        self.kills[operation] += 0 if finished else 1
        self.phases[(operation, phase)] += 1
        result = self.run(["list"])
        if result.returncode != 0:
            self.fail(f"recovery (imagesctl list) failed: {result.stderr.strip()}")
        self.check_after(operation, words, target, before, known)
        return finished

    def check_after(self, operation, words, target, before, known):
        self.check_store(before, operation, target)
        records = self.records()
        for number in sorted(set(records) - known):
            status = records[number]["image"]["status"]
            if operation not in ("capture", "upload", "server-delete"):
                self.fail(f"{operation} made a new image private/{number}")
            if operation == "upload":
                self.check_killed_upload(number, status, words[1])
        if operation == "deploy":
            self.check_deployed(words[2], before.get(target))

    def check_killed_upload(self, number, status, path):
        digest = next(d for p, d, _ in self.uploads if p == path)
        if status == "pending_upload":
            if self.rng.random() < 0.25:
                late = self.run(["upload", path, "--image", f"private/{number}"], now=FAR_FUTURE)
                if late.returncode == 0 or "upload_window_expired" not in late.stderr:
                    self.fail(f"a late re-send to private/{number} was not refused: {late.stderr.strip()}")
                if number in self.records():
                    self.fail(f"private/{number} is still kept after its window closed")
                return
            self.must(["upload", path, "--image", f"private/{number}"], why=f"re-sending to private/{number}")
            self.check_store(self.available(), "upload", None)
        record = self.records().get(number)
        if record is None or record["image"]["status"] != "available":
            self.fail(f"private/{number} is not available after its upload")
        elif record["content"]["sha256"] != digest:
            self.fail(f"private/{number} holds another sha256 than the file sent")

    def check_deployed(self, path, expected):
        if os.path.exists(path):
            digest, _ = file_sha256(path)
            if expected is None or digest != expected[0]:
                self.fail(f"deployed disk {path} does not hold the image (sha256 {digest})")
            os.unlink(path)

    def phase(self, operation, state, known, target, words):
        new = {n: s for n, s in state["records"].items() if n not in known}
        if operation in ("capture", "upload", "server-delete"):
            if not new:
                return "before-record"
            statuses = set(new.values())
            if "creating" in statuses or "pending_upload" in statuses:
                if any(f"{n}.data" in state["content"] for n in new):
                    return "between-renames"
                if state["staging"]:
                    return "writing-content"
                return "working" if operation != "upload" else "pending"
            return "committed"
        if operation == "deploy":
            if os.path.exists(words[2]):
                return "published"
            return "writing-disk" if state["partials"] else "reading"
        if operation == "delete":
            has_record = target in state["records"]
            has_content = f"{target}.data" in state["content"]
            return {(True, True): "before-removal", (False, True): "between-removals"}.get(
                (has_record, has_content), "removed")
        if operation == "replicate":
            regions = state["regions"].get(target, [])
            return "mid-replication" if any(r != "available" for r in regions) else "before-or-after"
        return "sweeping"


def file_sha256(path):
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def read_number(path):
    try:
        with open(path) as file:
            return int(file.read().strip())
    except (OSError, ValueError):
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imagesctl", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--seed", type=int, default=4711)
    parser.add_argument("--kills", type=int, default=200)
    arguments = parser.parse_args()

    soak = Soak(arguments.imagesctl, arguments.work, arguments.seed)
    soak.prepare_inputs()
    for operation in OPERATIONS:  # timings to spread the kills over
        soak.iteration = -1
        soak.prepare_for(operation)
        words, _ = soak.words_for(operation)
        _, seconds = soak.must(words, FAR_FUTURE if operation == "expire" else None, why=f"timing {operation}")
        soak.durations[operation] = max(seconds, 0.05)
        for name in os.listdir(soak.targets):
            os.unlink(os.path.join(soak.targets, name))
    started = time.monotonic()
    while sum(soak.kills.values()) < arguments.kills:
        soak.iteration += 1
        soak.iterate()
        if soak.iteration % 20 == 0:
            print(f"iteration {soak.iteration}: {sum(soak.kills.values())} kills, "
                  f"{len(soak.failures)} failures, {time.monotonic() - started:.0f} s", flush=True)
    report(soak, arguments, time.monotonic() - started)
    return 1 if soak.failures else 0


def report(soak, arguments, seconds):
    print(f"\nseed {arguments.seed}: {sum(soak.kills.values())} kills in {soak.iteration + 1} iterations, "
          f"{seconds:.0f} s")
    for operation in OPERATIONS:
        phases = ", ".join(f"{p} {c}" for (o, p), c in sorted(soak.phases.items()) if o == operation)
        print(f"  {operation:14} killed {soak.kills[operation]:4}   ({phases})")
    if soak.failures:
        print(f"\n{len(soak.failures)} violations; reproduce with --seed {arguments.seed}:")
        for iteration, message in soak.failures:
            print(f"  iteration {iteration}: {message}")
    else:
        print("no violations")


if __name__ == "__main__":
    sys.exit(main())
