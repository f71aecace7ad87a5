#!/usr/bin/env python3
"""Verify a public Albedo ledger mirror, and re-derive an eval's verdict, in plain Python.

For auditors. This is a second implementation, written from the format and the specs
(docs/verify.md, design.md §3, spec/determinism.md), of what `albedo-replay verify` and
`albedo-replay verdict` check. Nothing here calls the validator's code.

    python3 -m venv venv
    venv/bin/pip install cryptography==44.0.0 py-sr25519-bindings==0.2.4
    venv/bin/python docs/verify_mirror.py MIRROR [--signer SS58] [--verdict EVAL_ID]

MIRROR is a local directory or an http(s):// base URL holding `ledger/v1/checkpoint` and
`ledger/v1/tile/...` (a bucket prefix is part of it: https://host/bucket/prefix).

1. The checkpoint: its JSON fields; its signer, an SS58 address (prefix 42) with a valid
   checksum and, with --signer, that address; its sr25519 signature ("substrate" signing
   context) over the five lines
       albedo-ledger/v1 checkpoint\\n{size}\\n{head_hash}\\n{time_ms}\\n{signer}\\n
   Without the `sr25519` module (py-sr25519-bindings) the signature is NOT checked and the
   output says so; everything else still is.
2. Every tile in order (tile/<N> holds 256 entries, tile/<N>.p/<W> the first W < 256): each
   entry is a u32 big-endian length and the entry's bytes, nothing else. Each entry decodes as
   MessagePack, has v == 1, seq == its position, prev == SHA-256 of the previous entry's exact
   bytes (32 zero bytes for seq 0), and an event map whose first key is `kind`. The last
   entry's hash must be the checkpoint's head_hash, and the log holds exactly `size` entries.
3. --verdict EVAL_ID: re-derives that eval's verdict from the ledger alone (determinism.md
   §1, §4-§6): the seed from eval_started, the pinned chain.toml of competition_started, the
   samples_drawn count and the attempt's turn_judged entries; compares every decision figure
   with the recorded `verdict` entry and prints both.

Exit code 0: everything checked matches. 1: a check failed; the output names the seq and what is
wrong. 2: the mirror could not be read or the arguments are wrong.
Not checked here: the sample draw against the dataset, reply hashes against the published
traces, judge-reply parsing, crowns and weights (see docs/verify.md).
"""

import argparse
import hashlib
import json
import os
import struct
import sys
import tomllib
import urllib.error
import urllib.request
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# Seed (§1), ChaCha20 stream and bootstrap (§2, §6), A/B positions (§4), SS58: the independent
# implementations checked against the frozen test vectors (docs/determinism_vectors.py).
from determinism_vectors import a_is_king, bootstrap, seed, ss58  # noqa: E402

try:
    import sr25519  # py-sr25519-bindings
except ImportError:
    sr25519 = None

TILE_WIDTH = 256
ZERO_HASH = bytes(32)
METRICS = ["correctness", "grounding", "progress", "protocol", "efficiency"]  # K = 5
K = len(METRICS)


class Failure(Exception):
    """A check failed: `seq` (or None for the checkpoint) and what is wrong."""


# ---------------------------------------------------------------------------------------------
# Reading the mirror


def fetch(base, key):
    """The object's bytes, or None when there is no such object."""
    if base.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(f"{base.rstrip('/')}/{key}", timeout=60) as response:
                return response.read()
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise
    try:
        with open(os.path.join(base, key), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def unpack(data):
    """Decodes one MessagePack value that fills all of `data`. Maps keep their key order."""
    value, end = _value(data, 0)
    if end != len(data):
        raise ValueError(f"{len(data) - end} bytes left after the value")
    return value


# Type byte -> (what follows, struct format of its length or value).
_SIZED = {
    0xC4: ("bin", ">B"), 0xC5: ("bin", ">H"), 0xC6: ("bin", ">I"),
    0xCA: ("num", ">f"), 0xCB: ("num", ">d"),
    0xCC: ("num", ">B"), 0xCD: ("num", ">H"), 0xCE: ("num", ">I"), 0xCF: ("num", ">Q"),
    0xD0: ("num", ">b"), 0xD1: ("num", ">h"), 0xD2: ("num", ">i"), 0xD3: ("num", ">q"),
    0xD9: ("str", ">B"), 0xDA: ("str", ">H"), 0xDB: ("str", ">I"),
    0xDC: ("array", ">H"), 0xDD: ("array", ">I"), 0xDE: ("map", ">H"), 0xDF: ("map", ">I"),
}  # fmt: skip


def _value(b, i):
    t, i = b[i], i + 1
    if t <= 0x7F or t >= 0xE0:  # positive / negative fixint
        return (t if t <= 0x7F else t - 0x100), i
    if t == 0xC0:
        return None, i
    if t in (0xC2, 0xC3):
        return t == 0xC3, i
    if 0x80 <= t <= 0x9F:  # fixmap, fixarray
        what, n = ("map" if t <= 0x8F else "array"), t & 0x0F
    elif 0xA0 <= t <= 0xBF:  # fixstr
        what, n = "str", t & 0x1F
    elif t in _SIZED:
        what, fmt = _SIZED[t]
        (n,) = struct.unpack_from(fmt, b, i)
        i += struct.calcsize(fmt)
        if what == "num":
            return n, i
    else:
        raise ValueError(f"unsupported MessagePack type byte 0x{t:02x}")
    if what in ("str", "bin"):
        if i + n > len(b):
            raise ValueError("a string runs past the end")
        raw = b[i : i + n]
        return (raw.decode("utf-8") if what == "str" else raw), i + n
    items = []
    for _ in range(n * (2 if what == "map" else 1)):
        item, i = _value(b, i)
        items.append(item)
    if what == "array":
        return items, i
    out = dict(zip(items[0::2], items[1::2]))
    if len(out) != n:
        raise ValueError("a map repeats a key")
    return out, i


def is_int(x):
    return type(x) is int  # not bool


def read_checkpoint(base, want_signer):
    raw = fetch(base, "ledger/v1/checkpoint")
    if raw is None:
        raise Failure(None, "no ledger/v1/checkpoint (nothing mirrored yet, or a wrong base?)")
    cp = json.loads(raw)
    hexdigits = set("0123456789abcdef")
    size, head, time_ms, signer, sig = (cp.get(k) for k in ("size", "head_hash", "time_ms", "signer", "signature"))
    if not (is_int(size) and size >= 0 and is_int(time_ms) and isinstance(signer, str)):
        raise Failure(None, f"the checkpoint's size, time_ms or signer is malformed: {cp}")
    if not (isinstance(head, str) and len(head) == 64 and set(head) <= hexdigits):
        raise Failure(None, f"head_hash {head!r} is not 64 lowercase hex digits")
    if not (isinstance(sig, str) and len(sig) == 130 and sig[:2] == "0x" and set(sig[2:]) <= hexdigits):
        raise Failure(None, f"signature {sig!r} is not 0x + 128 lowercase hex digits")
    if size == 0 and head != "0" * 64:
        raise Failure(None, "size is 0 but head_hash is not the zero hash")
    decoded = ss58(signer)  # base58; prefix byte(s), 32-byte key, BLAKE2b-512("SS58PRE"...)[:2]
    if decoded is None or decoded[0] != 42:
        raise Failure(None, f"signer {signer!r} is not an SS58 address with prefix 42 and a valid checksum")
    if want_signer is not None and want_signer != signer:
        raise Failure(None, f"the checkpoint is signed by {signer}, not by the expected {want_signer}")
    message = f"albedo-ledger/v1 checkpoint\n{size}\n{head}\n{time_ms}\n{signer}\n".encode()
    if sr25519 is None:
        print("signature: NOT CHECKED (no sr25519 module: pip install py-sr25519-bindings==0.2.4)")
    elif sr25519.verify(bytes.fromhex(sig[2:]), message, decoded[1]):
        print(f"signature: ok (sr25519 by {signer})")
    else:
        raise Failure(None, f"the signature does not verify for signer {signer} over the checkpoint's fields")
    print(f"checkpoint: size {size}, head_hash {head}, time_ms {time_ms}")
    return size, bytes.fromhex(head)


def entries(base, size, head):
    """Yields (seq, event) for every entry, each checked; raises Failure at the first problem."""
    prev, seq = ZERO_HASH, 0
    for n in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        width = min(TILE_WIDTH, size - n * TILE_WIDTH)
        key = f"ledger/v1/tile/{n}" + ("" if width == TILE_WIDTH else f".p/{width}")
        tile = fetch(base, key)
        if tile is None:
            raise Failure(seq, f"the tile {key} holding this entry is missing")
        at = 0
        for seq in range(n * TILE_WIDTH, n * TILE_WIDTH + width):
            if at + 4 > len(tile):
                raise Failure(seq, f"{key} ends before this entry's length prefix")
            length = int.from_bytes(tile[at : at + 4], "big")
            raw = tile[at + 4 : at + 4 + length]
            if len(raw) != length:
                raise Failure(seq, f"{key}: the entry is cut short ({len(raw)} of {length} bytes)")
            at += 4 + length
            yield seq, check_entry(seq, raw, prev)
            prev = hashlib.sha256(raw).digest()
        if at != len(tile):
            raise Failure(seq, f"{key} has {len(tile) - at} stray bytes after its last entry")
    if prev != head:
        raise Failure(size - 1, f"the last entry hashes to {prev.hex()}, the checkpoint says {head.hex()}")


def check_entry(seq, raw, prev):
    try:
        env = unpack(raw)
    except (IndexError, ValueError, struct.error, UnicodeDecodeError) as e:
        raise Failure(seq, f"the entry is not valid MessagePack: {e}") from None
    if not isinstance(env, dict):
        raise Failure(seq, "the entry is not a map")
    if env.get("v") != 1 or not is_int(env.get("v")):
        raise Failure(seq, f"entry format v = {env.get('v')!r}; this verifier reads v 1 only")
    if env.get("seq") != seq or not is_int(env.get("seq")):
        raise Failure(seq, f"the entry carries seq {env.get('seq')!r}")
    if env.get("prev") != prev:
        found = env["prev"].hex() if isinstance(env.get("prev"), bytes) else repr(env.get("prev"))
        what = "the zero hash" if seq == 0 else f"SHA-256 of entry {seq - 1}"
        raise Failure(seq, f"prev is {found}, but {what} is {prev.hex()} (this entry or the one before was altered)")
    event = env.get("event")
    if not isinstance(event, dict) or next(iter(event), None) != "kind" or not isinstance(event["kind"], str):
        raise Failure(seq, "the event is not a map starting with `kind`")
    return event


# ---------------------------------------------------------------------------------------------
# Re-deriving a verdict (spec/determinism.md §5-§6; projections/src/scoring/verdict.rs)


def collect(found, event, eval_id):
    """Keeps what the verdict of `eval_id` is derived from, as the validator's state does."""
    kind = event["kind"]
    if "verdict" in found:
        return
    if kind == "competition_started":
        found["competition"] = event  # the chain.toml in force from here on
    elif event.get("eval_id") != eval_id:
        return
    elif kind == "eval_queued":
        found["queued"] = event
    elif kind == "eval_started":  # a new attempt starts afresh
        found.update(started=event, n_drawn=None, turns=[])
    elif kind == "samples_drawn":
        found["n_drawn"] = len(event["samples"])
    elif kind == "turn_judged" and "started" in found and event["attempt"] == found["started"]["attempt"]:
        found["turns"].append(event)
    elif kind == "eval_failed" and event["requeued"]:
        found["turns"] = []
    elif kind == "verdict":
        found["verdict"] = event


def exact_decimal(table, key):
    """A plain decimal literal of chain.toml as its exact fraction ("0.05" -> 1/20)."""
    text = str(table[key])  # parse_float=str keeps a float's literal text
    digits = text.lstrip("-").replace(".", "", 1)
    if not digits.isdigit() or not digits.isascii() or text.startswith(".") or text.endswith("."):
        raise Failure(None, f"[duel].{key} = {text} is not a plain decimal literal")
    return text, Fraction(text)


def published(x):
    """§5: half away from zero to 4 decimals, then the nearest binary64."""
    q, r = divmod(abs(x) * 10_000, 1)
    q += r >= Fraction(1, 2)
    return float(Fraction(q if x >= 0 else -q, 10_000))  # int / int: correctly rounded


def derive(found, eval_id):
    competition, started, turns = found["competition"], found["started"], found["turns"]
    text = competition["chain_toml"]
    if hashlib.sha256(text.encode()).digest() != competition["chain_toml_sha256"]:
        raise Failure(None, "competition_started: chain_toml_sha256 is not the text's SHA-256")
    if started["config_sha256"] != competition["chain_toml_sha256"]:
        raise Failure(None, f"{eval_id}: eval_started's config_sha256 is not the pinned chain.toml's")
    cfg = tomllib.loads(text, parse_float=str)
    duel, models = cfg["duel"], cfg["judge"]["models"]
    (margin_text, win_margin), (alpha_text, alpha) = exact_decimal(duel, "win_margin"), exact_decimal(duel, "gate_alpha")
    _, min_frac = exact_decimal(duel, "min_valid_turn_frac")
    resamples = duel["bootstrap_resamples"]

    hotkey = found["queued"]["hotkey"]
    seed_bytes = seed(started["seed_block_hash"], hotkey)  # §1
    if seed_bytes.hex() != started["seed_hex"] or started["hotkey"] != hotkey:
        raise Failure(None, f"{eval_id}: seed_hex is not BLAKE2b-512(seed_block_hash ‖ {hotkey})")
    n_drawn = found["n_drawn"] or 0

    rows = []  # per turn with an entry, in turn order: (done, [s2 per metric, or None] per judge)
    for t in sorted(turns, key=lambda t: t["turn"]):
        i = t["turn"]
        if rows and i == last:  # noqa: F821 (set below)
            raise Failure(None, f"turn {i} appears twice")
        last = i
        if i >= n_drawn or t["a_is_king"] != a_is_king(seed_bytes, i):  # §4
            raise Failure(None, f"turn {i}: outside the {n_drawn} drawn turns, or a_is_king is not the seed's")
        done = t["king_error"] is None and t["challenger_error"] is None
        s2 = [None] * len(models)
        for j in t["judges"]:
            if j["model"] not in models or s2[models.index(j["model"])] is not None:
                raise Failure(None, f"turn {i}: judge {j['model']} is unknown or listed twice")
            if j["metrics"] is None:
                continue
            if j["parse_error"] is not None or not done or [m["metric"] for m in j["metrics"]] != METRICS:
                raise Failure(None, f"turn {i}: judge {j['model']}'s metrics are malformed")
            s2[models.index(j["model"])] = [{"challenger": 2, "tie": 1, "king": 0}[m["preferred"]] for m in j["metrics"]]
        rows.append((done, s2))

    done_rows = [s2 for done, s2 in rows if done]
    valid_rows = [s2 for s2 in done_rows if all(s is not None for s in s2)]
    n_done, n_valid = len(done_rows), len(valid_rows)
    # metric_mean(j, k) = S(j, k) / (2 |T_j|), over the turns judge j parsed (done turns only).
    parsed = [[s2[j] for s2 in done_rows if s2[j] is not None] for j in range(len(models))]
    judges = [j for j in range(len(models)) if parsed[j]]
    mean = {(j, k): Fraction(sum(s[k] for s in parsed[j]), 2 * len(parsed[j])) for j in judges for k in range(K)}
    scores = None
    if judges:
        m = len(judges)
        judge_score = {j: sum(mean[j, k] for k in range(K)) / K for j in judges}
        challenger = 100 * sum(judge_score.values()) / m
        scores = {
            "challenger": challenger,
            "by_judge": [(models[j], 100 * judge_score[j]) for j in judges],
            "by_metric": [(METRICS[k], 100 * sum(mean[j, k] for j in judges) / m) for k in range(K)],
        }
    floor_ok = n_done >= 1 and n_valid >= min_frac * n_done
    margin_ok = scores is not None and 2 * scores["challenger"] - 100 >= win_margin
    c = scores["challenger"] if scores else Fraction(50)
    winner = "challenger" if c > 50 else "king" if c < 50 else "tie"
    # delta(t) = mean over judges of judge_mean(t, j) - 1/2 = (U - K m) / (2 K m), then nearest binary64.
    deltas = [float(Fraction(sum(map(sum, s2)) - K * len(s2), 2 * K * len(s2))) for s2 in valid_rows]
    mean_delta, se, lcb = bootstrap(deltas, resamples, float(alpha), seed_bytes)  # §6
    named = lambda pairs: [{"name": n, "score": published(s)} for n, s in pairs]  # noqa: E731
    figures = {
        "n_samples": n_drawn, "n_done": n_done, "n_valid": n_valid, "generation_errors": len(rows) - n_done,
        "challenger_score": published(scores["challenger"]) if scores else None,
        "king_score": published(100 - scores["challenger"]) if scores else None,
        "by_judge": named(scores["by_judge"]) if scores else [],
        "by_metric": named(scores["by_metric"]) if scores else [],
        "mean_delta": mean_delta, "se": se, "lcb": lcb, "win_margin": margin_text, "gate_alpha": alpha_text,
        "floor_ok": floor_ok, "margin_ok": margin_ok, "lcb_ok": lcb > 0, "judge_models": models,
    }  # fmt: skip
    return {"attempt": started["attempt"], **figures, "accepted": floor_ok and margin_ok and lcb > 0, "winner": winner}


def check_verdict(found, eval_id):
    if "verdict" not in found:
        raise Failure(None, f"{eval_id} has no verdict in this ledger")
    if not {"competition", "queued", "started"} <= found.keys():
        raise Failure(None, f"{eval_id}: no competition_started, eval_queued or eval_started before its verdict")
    v = found["verdict"]
    recorded = {"attempt": v["attempt"], **v["figures"], "accepted": v["accepted"], "winner": v["winner"]}
    derived = derive(found, eval_id)
    print(f"verdict {eval_id} (attempt {v['attempt']}):  {'field':<18} {'recorded':<26} derived")
    differ = []
    for key, want in derived.items():
        have = recorded.get(key)
        same = have == want and type(have) is type(want)
        differ += [] if same else [key]
        show = lambda x: json.dumps(x, ensure_ascii=False)  # noqa: E731
        print(f"  {'' if same else 'DIFFERS':<7} {key:<18} {show(have):<26} {show(want)}")
    print("  (the `informational` figures are not re-derived: no decision reads them)")
    if differ:
        raise Failure(None, f"verdict {eval_id}: re-derived figures differ: {', '.join(differ)}")
    print(f"verdict {eval_id}: every figure matches")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mirror", help="directory or http(s):// base URL holding ledger/v1/...")
    parser.add_argument("--signer", help="the SS58 address the checkpoint must be signed by")
    parser.add_argument("--verdict", metavar="EVAL_ID", help="re-derive this eval's verdict")
    args = parser.parse_args()
    try:
        size, head = read_checkpoint(args.mirror, args.signer)
        found, count = {}, 0
        for seq, event in entries(args.mirror, size, head):
            count += 1
            if args.verdict:
                collect(found, event, args.verdict)
        print(f"entries: {count} verified, chained from seq 0 to the checkpoint's head")
        if args.verdict:
            check_verdict(found, args.verdict)
    except Failure as f:
        seq, what = f.args
        print(f"FAILED{'' if seq is None else f' at seq {seq}'}: {what}")
        return 1
    except (OSError, urllib.error.URLError, json.JSONDecodeError, tomllib.TOMLDecodeError, KeyError) as e:
        print(f"error: {type(e).__name__}: {e}")
        return 2
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
