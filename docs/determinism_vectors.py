#!/usr/bin/env python3
"""Recompute Albedo's determinism test vectors from spec/determinism.md alone.

For auditors. Albedo's seed (§1), random stream (§2), sample and probe draws (§3, §3b), A/B
positions (§4) and paired bootstrap (§6) are defined in determinism.md so that any language can
reproduce them bit for bit. This script is an independent second implementation, written from
the spec text, not from the Rust code. It reads the vector file the Rust crate is tested against
(projections/testdata/determinism-v1.txt, format described in its header), recomputes every
output from the record's inputs, and prints each disagreement.

    python3 -m venv venv && venv/bin/pip install cryptography==44.0.0
    venv/bin/python docs/determinism_vectors.py projections/testdata/determinism-v1.txt

Exit code 0: every vector matches; 1: at least one mismatch (each printed). Needs Python 3.11+
(standard library) and `cryptography` for ChaCha20. To audit a real eval, use the same functions:
seed(H, K) with the block hash and hotkey of `eval_started`/`reveal_seen`, then draw() over the
dataset manifest's row counts, a_is_king() per turn and bootstrap() over the valid turns' deltas.
Python floats are IEEE-754 binary64 and never fused, as §6 requires; but do not use sum() (3.12+
compensates its rounding) or numpy's quantile (another evaluation order): write the loops out.
"""

import hashlib
import math
import struct
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def ss58(address):  # -> (prefix, account id) or None
    if not address or any(c not in B58 for c in address):
        return None
    num = 0
    for c in address:
        num = num * 58 + B58.index(c)
    zeros = len(address) - len(address.lstrip("1"))  # each leading '1' is a zero byte
    raw = bytes(zeros) + num.to_bytes((num.bit_length() + 7) // 8, "big")
    if raw[0] < 64:
        plen, prefix = 1, raw[0]
    elif raw[0] < 128 and len(raw) > 1:  # 01aaaaaa bbcccccc -> 00cccccc aaaaaabb
        plen, prefix = 2, ((raw[0] << 2 | raw[1] >> 6) & 0xFF) | (raw[1] & 0x3F) << 8
    else:
        return None
    if len(raw) != plen + 34 or (plen == 2 and prefix < 64):
        return None
    if hashlib.blake2b(b"SS58PRE" + raw[: plen + 32]).digest()[:2] != raw[plen + 32 :]:
        return None
    return prefix, raw[plen : plen + 32]


def seed(h, k):  # §1: BLAKE2b-512 of the two ASCII texts, no key/salt/personalisation
    assert len(h) == 66 and h[:2] == "0x" and all(c in "0123456789abcdef" for c in h[2:]) and k
    return hashlib.blake2b((h + k).encode("ascii"), digest_size=64).digest()


class Stream:  # §2: ChaCha20 keystream, key = SHA-256(domain || seed), zero nonce, counter 0
    def __init__(self, domain, seed_bytes):
        self.key = hashlib.sha256(domain.encode("ascii") + seed_bytes).digest()
        # cryptography's 16-byte "nonce" = 4-byte little-endian counter (0) + 12-byte nonce (0).
        self.enc = Cipher(algorithms.ChaCha20(self.key, bytes(16)), mode=None).encryptor()
        self.buf, self.pos, self.rejected = b"", 0, 0

    def read(self, k):
        if self.pos + k > len(self.buf):
            self.buf, self.pos = self.buf[self.pos :] + self.enc.update(bytes(1 << 16)), 0
        self.pos += k
        return self.buf[self.pos - k : self.pos]

    def u32(self):
        return int.from_bytes(self.read(4), "little")

    def uniform(self, n):  # 1 <= n <= 2^64
        size, span = (4, 1 << 32) if n <= 1 << 32 else (8, 1 << 64)
        limit = n * (span // n)
        while True:
            r = int.from_bytes(self.read(size), "little")
            if r < limit:
                return r % n
            self.rejected += 1


def draw(seed_bytes, domain, shards, n, max_turns, turns):  # §3; turns(shard, row) -> turn_idx list
    total = sum(shards)
    if n == 0 or total == 0:
        return []
    s = Stream(domain, seed_bytes)
    positions = [s.uniform(total) for _ in range(4 * n)]  # phase 1
    refs, taken = [], set()
    for p in positions:  # phase 2, same stream
        if len(refs) == n:
            break
        shard = 0
        while p >= shards[shard]:
            p, shard = p - shards[shard], shard + 1
        eligible = [t for t in turns(shard, p) if t < max_turns]
        if not eligible:
            continue
        ref = (shard, p, eligible[s.uniform(len(eligible))])
        if ref not in taken:
            taken.add(ref)
            refs.append(ref)
    return refs


def a_is_king(seed_bytes, i):  # §4
    return hashlib.sha256(b"albedo/v1/ab" + seed_bytes + struct.pack("<I", i)).digest()[0] & 1 == 0


def bootstrap(d, b, alpha, seed_bytes):  # §6, every operation in the spec's order
    n = len(d)
    if n == 0:
        return 0.0, 0.0, 0.0
    acc = 0.0
    for x in d:
        acc += x
    mean = acc / n
    se = 0.0
    if n > 1:
        acc = 0.0
        for x in d:
            e = x - mean
            acc += e * e
        se = math.sqrt(acc / (n - 1)) / math.sqrt(n)
    s, m = Stream("albedo/v1/bootstrap", seed_bytes), []
    for _ in range(b):
        acc = 0.0
        for _ in range(n):
            acc += d[s.uniform(n)]
        m.append(acc / n)
    m.sort()
    h = (b - 1) * alpha
    k = math.floor(h)
    return mean, se, m[k] if k == b - 1 else m[k] + (h - k) * (m[k + 1] - m[k])


def bits(x):
    return struct.pack(">d", x).hex()


def expected(kind, f):  # the outputs of one record, from its inputs alone
    if kind == "ss58":
        got = ss58(f["address"])
        return {"valid": "false"} if got is None else {"valid": "true", "prefix": str(got[0]), "account": got[1].hex()}
    if kind == "seed":
        return {"seed": seed(f["h"], f["k"]).hex()}
    sd = bytes.fromhex(f["seed"])
    if kind == "stream":
        s = Stream(f["domain"], sd)
        return {"key": s.key.hex(), "bytes": s.read(64).hex()}
    if kind == "uniform":
        s = Stream(f["domain"], sd)
        values = [s.uniform(int(f["n"])) for _ in range(16)]
        return {"values": ",".join(map(str, values)), "rejected": str(s.rejected), "next_u32": str(s.u32())}
    if kind == "sample":
        a, b, mod = map(int, f["turns"].split(","))
        shards = [int(x) for x in f["shards"].split(",")]
        refs = draw(sd, f["domain"], shards, int(f["n"]), int(f["max_turns"]), lambda s, r: range((a * s + b * r) % mod))
        return {"refs": ",".join(f"{s}:{r}:{t}" for s, r, t in refs) or "-"}
    if kind == "ab":
        return {"bits": "".join("1" if a_is_king(sd, i) else "0" for i in range(17))}
    if kind == "bootstrap":
        d = [] if f["nums"] == "-" else [int(x) / int(f["den"]) for x in f["nums"].split(",")]  # correctly rounded
        mean, se, lcb = bootstrap(d, int(f["b"]), float(f["alpha"]), sd)
        # The *_dec fields are for reading; main() checks that they parse to the same binary64.
        return {k + suffix: bits(x) for suffix in ("", "_dec") for k, x in (("mean", mean), ("se", se), ("lcb", lcb))}
    raise ValueError(f"unknown record kind {kind!r}")


def main(path):
    passed, failed = 0, 0
    for number, line in enumerate(open(path, encoding="utf-8"), 1):
        if not line.strip() or line.startswith("#"):
            continue
        kind, *pairs = line.split()
        fields = dict(p.split("=", 1) for p in pairs)
        bad = []
        for key, want in expected(kind, fields).items():
            have = bits(float(fields[key])) if key.endswith("_dec") else fields.get(key)
            if have != want:
                bad.append(f"{key}: file {have} != computed {want}")
        passed, failed = passed + (not bad), failed + bool(bad)
        for b in bad:
            print(f"MISMATCH {path}:{number} ({kind}) {b}")
    print(f"determinism vectors: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "projections/testdata/determinism-v1.txt"))
