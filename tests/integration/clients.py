# SPDX-License-Identifier: MIT
# clients.py - the Python workloads of t_clients.sh (numpy, PyTorch, sqlite3, tree dumps); run with /usr/bin/python3.
#
# Each subcommand exits non-zero with a message on the first mismatch, so the
# shell test only has to check the status. Everything is seeded: the same
# arguments give the same data and the same workload.
import hashlib
import os
import random
import sqlite3
import stat
import sys

# Shapes of the numpy arrays: a 2-D float32 matrix whose rows straddle block
# boundaries, an int64 vector, and a token shard of uint16 (the raw format of
# GPT-style training shards: no header, just tokens).
MATRIX_SHAPE = (1531, 517)
VECTOR_LEN = 300007
TOKENS = 2_500_003


def die(msg):
    sys.exit("clients.py: " + msg)


def arrays(np, seed):
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal(MATRIX_SHAPE, dtype=np.float32)
    vector = rng.integers(-(1 << 62), 1 << 62, VECTOR_LEN, dtype=np.int64)
    # Zipf-like token ids, as a tokenizer's output would be.
    tokens = np.minimum(rng.zipf(1.3, TOKENS), 65535).astype(np.uint16)
    return matrix, vector, tokens


def npy_write(out_dir, seed):
    """np.save both .npy files and write the shard through a w+ memmap."""
    import numpy as np
    matrix, vector, tokens = arrays(np, int(seed))
    np.save(os.path.join(out_dir, "matrix.npy"), matrix)
    with open(os.path.join(out_dir, "vector.npy"), "wb") as f:
        np.save(f, vector)
    shard = np.memmap(os.path.join(out_dir, "tokens.bin"), dtype=np.uint16,
                      mode="w+", shape=(TOKENS,))
    # Filled in scattered chunks so the mapping's dirty pages are not in order.
    order = list(range(0, TOKENS, 65521))
    random.Random(seed).shuffle(order)
    for start in order:
        shard[start:start + 65521] = tokens[start:start + 65521]
    shard.flush()
    del shard
    # A .npy made in place through open_memmap, the way large arrays are built.
    big = np.lib.format.open_memmap(os.path.join(out_dir, "matrix_mm.npy"),
                                    mode="w+", dtype=np.float32, shape=MATRIX_SHAPE)
    big[::2] = matrix[::2]
    big[1::2] = matrix[1::2]
    big.flush()
    del big


def npy_check(data_dir, seed):
    """np.load(mmap_mode='r') and np.memmap read back the arrays, whole and sliced."""
    import numpy as np
    seed = int(seed)
    matrix, vector, tokens = arrays(np, seed)
    for name, want in (("matrix.npy", matrix), ("matrix_mm.npy", matrix), ("vector.npy", vector)):
        got = np.load(os.path.join(data_dir, name), mmap_mode="r")
        if not isinstance(got, np.memmap):
            die("%s: np.load(mmap_mode='r') did not map the file" % name)
        if got.dtype != want.dtype or got.shape != want.shape:
            die("%s: %s %s, want %s %s" % (name, got.dtype, got.shape, want.dtype, want.shape))
        if not np.array_equal(got, want):
            die("%s: contents differ" % name)
    shard = np.memmap(os.path.join(data_dir, "tokens.bin"), dtype=np.uint16, mode="r")
    if shard.shape != tokens.shape or not np.array_equal(shard, tokens):
        die("tokens.bin: memmap differs from the tokens written")
    # Random windows and strided slices, as a language-model loader samples them.
    rng = np.random.default_rng(seed + 1)
    mm = np.load(os.path.join(data_dir, "matrix.npy"), mmap_mode="r")
    for i in range(2000):
        start = int(rng.integers(0, TOKENS - 1025))
        if not np.array_equal(shard[start:start + 1025], tokens[start:start + 1025]):
            die("tokens.bin: window %d at %d differs" % (i, start))
        r, c = int(rng.integers(0, MATRIX_SHAPE[0])), int(rng.integers(0, MATRIX_SHAPE[1]))
        if mm[r, c] != matrix[r, c] or not np.array_equal(mm[r::97, c], matrix[r::97, c]):
            die("matrix.npy: element/column slice at (%d, %d) differs" % (r, c))
    step = int(rng.integers(1000, 5000))
    if not np.array_equal(shard[7::step], tokens[7::step]):
        die("tokens.bin: strided read differs")


def small_tree(root, seed, count):
    """count small files (0..8K, text or random) in 30 dirs, plus 3 large ones."""
    rng = random.Random(int(seed))
    words = b"alpha beta gamma delta token shard batch epoch tensor gradient".split()
    for i in range(int(count)):
        d = os.path.join(root, "d%02d" % (i % 30))
        os.makedirs(d, exist_ok=True)
        n = rng.choice((0, 1, 17, 511, 4096, rng.randrange(1, 8193)))
        if rng.random() < 0.5:
            data = b" ".join(rng.choice(words) for _ in range(n // 5 + 1))[:n]
        else:
            data = rng.randbytes(n)
        with open(os.path.join(d, "s%05d.bin" % i), "wb") as f:
            f.write(data)
    for i, mb in enumerate((3, 5, 2)):
        with open(os.path.join(root, "large%d.bin" % i), "wb") as f:
            # Half compressible, half random, so both block kinds are read.
            f.write(bytes(range(256)) * (mb << 11))
            f.write(rng.randbytes(mb << 19))


def file_hashes(root):
    out = {}
    for d, _, files in os.walk(root):
        for name in files:
            path = os.path.join(d, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def torch_read(src_root, mnt_root):
    """Every item a DataLoader with two workers yields equals the source file."""
    import torch
    from torch.utils.data import DataLoader, Dataset

    want = file_hashes(src_root)
    names = sorted(want)

    class Files(Dataset):
        def __len__(self):
            return len(names)

        def __getitem__(self, i):
            with open(os.path.join(mnt_root, names[i]), "rb") as f:
                data = f.read()
            if not data:  # frombuffer refuses an empty buffer
                return i, torch.empty(0, dtype=torch.uint8)
            return i, torch.frombuffer(bytearray(data), dtype=torch.uint8)

    def keep_list(batch):
        return batch  # sizes differ, so no stacking

    loader = DataLoader(Files(), batch_size=64, shuffle=True, num_workers=2,
                        collate_fn=keep_list, generator=torch.Generator().manual_seed(5))
    seen = set()
    for batch in loader:
        for i, tensor in batch:
            got = hashlib.sha256(tensor.numpy().tobytes()).hexdigest()
            if got != want[names[i]]:
                die("DataLoader item %s: sha256 %s, want %s" % (names[i], got, want[names[i]]))
            if i in seen:
                die("DataLoader gave %s twice" % names[i])
            seen.add(i)
    if len(seen) != len(names):
        die("DataLoader gave %d of %d files" % (len(seen), len(names)))
    if len(names) < 3000:
        die("only %d files in %s" % (len(names), src_root))
    print("torch: %d files through DataLoader(num_workers=2), all match" % len(names))


def db_summary(path):
    """'ok', row count and sha256 of every row in id order."""
    con = sqlite3.connect(path)
    try:
        check = [r[0] for r in con.execute("PRAGMA integrity_check")]
        rows = con.execute("SELECT id, k, v FROM t ORDER BY id").fetchall()
    finally:
        con.close()
    digest = hashlib.sha256(repr(rows).encode()).hexdigest()
    return "%s rows=%d sha256=%s" % ("/".join(check), len(rows), digest)


def sqlite_run(path, journal, seed):
    """Random INSERT/UPDATE/DELETE in transactions, some rolled back."""
    rng = random.Random(int(seed))
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=%s" % journal)
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, v BLOB)")
    con.execute("CREATE INDEX t_k ON t(k)")
    next_id = 1
    for txn in range(60):
        con.execute("BEGIN")
        for _ in range(80):
            op = rng.random()
            if op < 0.55 or next_id < 50:
                blob = rng.randbytes(rng.choice((8, 100, 900, 3000, 9000)))
                con.execute("INSERT INTO t VALUES (?, ?, ?)", (next_id, rng.randrange(1000), blob))
                next_id += 1
            elif op < 0.85:
                con.execute("UPDATE t SET k = ?, v = ? WHERE id = ?",
                            (rng.randrange(1000), rng.randbytes(rng.randrange(2000)), rng.randrange(next_id)))
            else:
                low = rng.randrange(1000)
                con.execute("DELETE FROM t WHERE k BETWEEN ? AND ?", (low, low + 3))
        con.execute("ROLLBACK" if txn % 7 == 3 else "COMMIT")
    if journal == "wal":
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("VACUUM")  # rewrites the whole file through a temporary copy
    con.close()
    print(db_summary(path))


def tree_dump(root):
    """One line per entry: type, mode, owner, size, links, mtime, target, link group, xattrs, sha256."""
    entries = [root]
    for d, dirs, files in os.walk(root):
        entries += [os.path.join(d, n) for n in dirs + files]
    inodes = {}
    for path in sorted(entries):
        st = os.lstat(path)
        rel = os.path.relpath(path, root)
        kind = stat.S_IFMT(st.st_mode)
        fields = [rel, "%o" % st.st_mode, "%d:%d" % (st.st_uid, st.st_gid), str(st.st_mtime_ns)]
        if kind != stat.S_IFDIR:  # directory sizes and link counts are the file system's own
            fields += ["size=%d" % st.st_size, "nlink=%d" % st.st_nlink]
            # Names the first path of each inode, so hard-link groups compare.
            fields.append("ino=" + inodes.setdefault((st.st_dev, st.st_ino), rel))
        if kind == stat.S_IFLNK:
            fields.append("-> " + os.readlink(path))
        else:
            for name in sorted(os.listxattr(path, follow_symlinks=False)):
                fields.append("%s=%s" % (name, os.getxattr(path, name, follow_symlinks=False).hex()))
        if kind == stat.S_IFREG:
            with open(path, "rb") as f:
                fields.append(hashlib.sha256(f.read()).hexdigest())
        print(" ".join(fields))


COMMANDS = {"npy-write": npy_write, "npy-check": npy_check, "small-tree": small_tree,
            "torch-read": torch_read, "sqlite-run": sqlite_run,
            "db-summary": lambda p: print(db_summary(p)), "tree-dump": tree_dump}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        die("usage: clients.py %s ARGS..." % "|".join(COMMANDS))
    COMMANDS[sys.argv[1]](*sys.argv[2:])
