#!/usr/bin/env python3
"""Verify a public Albedo ledger mirror, and re-derive an eval's verdict, in plain Python.

For auditors: a second implementation of what `albedo-replay verify` and `albedo-replay verdict`
check, written from the format and the specs (docs/verify.md, design.md §3, spec/determinism.md)
and sharing no code with the validator.

    python3 -m venv venv && venv/bin/pip install cryptography==44.0.0 py-sr25519-bindings==0.2.4
    venv/bin/python docs/verify_mirror.py MIRROR [--signer SS58] [--verdict EVAL_ID]

MIRROR is a directory or an http(s):// base URL holding ledger/v1/checkpoint and
ledger/v1/tile/... (a bucket prefix is part of it: https://host/bucket/prefix).

1. The checkpoint: its fields; the signer is an SS58 address (prefix 42, valid checksum) and,
   with --signer, that one; the sr25519 signature ("substrate" signing context) verifies over
   "albedo-ledger/v1 checkpoint\\n{size}\\n{head_hash}\\n{time_ms}\\n{signer}\\n". Without the
   `sr25519` module (py-sr25519-bindings) the signature is NOT checked, and the output says so.
2. Every tile in order (tile/<N>: 256 entries; tile/<N>.p/<W>: the first W < 256), each entry
   a u32 big-endian length and the entry's bytes, nothing else. Every entry decodes (MessagePack),
   has v == 1, seq == its position, prev == SHA-256 of the previous entry's exact bytes (zeros for
   seq 0), and an event map starting with `kind`. The log has exactly `size` entries and the last
   one hashes to head_hash.
3. --verdict EVAL_ID: re-derives the eval's verdict from the ledger alone (determinism.md §1,
   §4-§6): the pinned chain.toml of competition_started, the seed of eval_started, the
   samples_drawn count and the attempt's turn_judged entries. Prints the recorded and the derived
   figures side by side; every decision figure must be equal.

Exit code 0: all checked and equal; 1: a check failed (the seq and the reason are printed);
2: the mirror could not be read. Not checked: the sample draw against the dataset, reply hashes
against the traces, judge-reply parsing, crowns and weights (docs/verify.md).
"""

import argparse
import hashlib
import json
import os
import re
import struct
import sys
import tomllib
import urllib.error
import urllib.request
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The seed (§1), the ChaCha20 stream and bootstrap (§2, §6), A/B positions (§4) and SS58, as
# implemented independently and checked against the frozen test vectors.
from determinism_vectors import a_is_king, bootstrap, seed, ss58  # noqa: E402

try:
    import sr25519  # py-sr25519-bindings
except ImportError:
    sr25519 = None

TILE_WIDTH = 256
METRICS = ["correctness", "grounding", "progress", "protocol", "efficiency"]  # v1: K = 5
K = len(METRICS)
SCORE2 = {"challenger": 2, "tie": 1, "king": 0}  # s2 = 2·s for the side a judge preferred (eval.md §9.1)


class Failure(Exception):
    """A check failed: Failure(seq or None, what is wrong)."""


# ---------------------------------------------------------------------------------------------
# Reading and checking the mirror


def fetch(base, key):
    """The object's bytes, or None when there is no such object."""
    try:
        if base.startswith(("http://", "https://")):
            with urllib.request.urlopen(f"{base.rstrip('/')}/{key}", timeout=60) as response:
                return response.read()
        with open(os.path.join(base, key), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


# MessagePack type byte -> (kind, struct format of the length or value that follows).
SIZED = {
    0xC4: ("bin", ">B"), 0xC5: ("bin", ">H"), 0xC6: ("bin", ">I"),
    0xCA: ("num", ">f"), 0xCB: ("num", ">d"),
    0xCC: ("num", ">B"), 0xCD: ("num", ">H"), 0xCE: ("num", ">I"), 0xCF: ("num", ">Q"),
    0xD0: ("num", ">b"), 0xD1: ("num", ">h"), 0xD2: ("num", ">i"), 0xD3: ("num", ">q"),
    0xD9: ("str", ">B"), 0xDA: ("str", ">H"), 0xDB: ("str", ">I"),
    0xDC: ("array", ">H"), 0xDD: ("array", ">I"), 0xDE: ("map", ">H"), 0xDF: ("map", ">I"),
}  # fmt: skip


def unpack(b, i=0):
    """Decodes the MessagePack value at b[i:]: (value, end). Maps keep their key order; bin is bytes."""
    t, i = b[i], i + 1
    if t <= 0x7F or t >= 0xE0:  # positive and negative fixint
        return (t if t <= 0x7F else t - 0x100), i
    if t in (0xC0, 0xC2, 0xC3):
        return {0xC0: None, 0xC2: False, 0xC3: True}[t], i
    if 0x80 <= t <= 0x9F:  # fixmap, fixarray
        kind, n = ("map" if t <= 0x8F else "array"), t & 0x0F
    elif 0xA0 <= t <= 0xBF:  # fixstr
        kind, n = "str", t & 0x1F
    elif t in SIZED:
        kind, fmt = SIZED[t]
        (n,) = struct.unpack_from(fmt, b, i)
        i += struct.calcsize(fmt)
        if kind == "num":
            return n, i
    else:
        raise ValueError(f"type byte 0x{t:02x} is not used by ledger entries")
    if kind in ("str", "bin"):
        if i + n > len(b):
            raise ValueError("a string runs past the end")
        return (b[i : i + n].decode() if kind == "str" else b[i : i + n]), i + n
    items = []
    for _ in range(2 * n if kind == "map" else n):
        item, i = unpack(b, i)
        items.append(item)
    if kind == "array":
        return items, i
    if len(set(items[0::2])) != n:
        raise ValueError("a map repeats a key")
    return dict(zip(items[0::2], items[1::2])), i


def read_checkpoint(base, want_signer):
    raw = fetch(base, "ledger/v1/checkpoint")
    if raw is None:
        raise Failure(None, "there is no ledger/v1/checkpoint (nothing mirrored yet, or a wrong base?)")
    try:
        cp = json.loads(raw)
        size, head, time_ms, signer, sig = (cp.get(k) for k in ("size", "head_hash", "time_ms", "signer", "signature"))
    except (ValueError, AttributeError):
        raise Failure(None, "the checkpoint is not a JSON object") from None
    if type(size) is not int or size < 0 or type(time_ms) is not int or not isinstance(signer, str):
        raise Failure(None, f"the checkpoint's size, time_ms or signer is malformed: {cp}")
    if not (isinstance(head, str) and re.fullmatch("[0-9a-f]{64}", head)):
        raise Failure(None, f"head_hash {head!r} is not 64 lowercase hex digits")
    if not (isinstance(sig, str) and re.fullmatch("0x[0-9a-f]{128}", sig)):
        raise Failure(None, f"signature {sig!r} is not 0x + 128 lowercase hex digits")
    if size == 0 and head != "0" * 64:
        raise Failure(None, "size is 0 but head_hash is not the zero hash")
    # SS58: base58 of prefix ‖ 32-byte key ‖ BLAKE2b-512("SS58PRE" ‖ prefix ‖ key)[:2].
    decoded = ss58(signer)
    if decoded is None or decoded[0] != 42:
        raise Failure(None, f"signer {signer!r} is not an SS58 address with prefix 42 and a valid checksum")
    if want_signer is not None and want_signer != signer:
        raise Failure(None, f"the checkpoint is signed by {signer}, not by the expected {want_signer}")
    message = f"albedo-ledger/v1 checkpoint\n{size}\n{head}\n{time_ms}\n{signer}\n".encode()
    if sr25519 is None:
        print("signature: NOT CHECKED (no sr25519 module: pip install py-sr25519-bindings==0.2.4)")
    elif sr25519.verify(bytes.fromhex(sig[2:]), message, decoded[1]):
        pinned = "the expected key" if want_signer else "not pinned: pass --signer with the validator's hotkey"
        print(f"signature: ok (sr25519 by {signer}; {pinned})")
    else:
        raise Failure(None, f"the checkpoint's signature does not verify for {signer} over its fields")
    print(f"checkpoint: size {size}, head_hash {head}, time_ms {time_ms}")
    return size, bytes.fromhex(head)


def entries(base, size, head):
    """Yields (seq, event) for every entry in order, each checked; raises Failure at the first problem."""
    prev = bytes(32)
    for n in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        first, width = n * TILE_WIDTH, min(TILE_WIDTH, size - n * TILE_WIDTH)
        key = f"ledger/v1/tile/{n}" + ("" if width == TILE_WIDTH else f".p/{width}")
        tile = fetch(base, key)
        if tile is None:
            raise Failure(first, f"the tile {key} holding this entry is missing")
        at = 0
        for seq in range(first, first + width):
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
            raise Failure(first + width - 1, f"{key} has {len(tile) - at} stray bytes after its last entry")
    if prev != head:
        raise Failure(size - 1, f"the last entry hashes to {prev.hex()}, the checkpoint says {head.hex()}")


def check_entry(seq, raw, prev):
    try:
        env, end = unpack(raw)
        if end != len(raw):
            raise ValueError(f"{len(raw) - end} bytes after the envelope")
    except (IndexError, ValueError, TypeError, RecursionError, struct.error) as e:
        raise Failure(seq, f"the entry does not decode as MessagePack: {e}") from None
    if not isinstance(env, dict):
        raise Failure(seq, "the entry is not a map")
    if env.get("v") != 1 or type(env.get("v")) is not int:
        raise Failure(seq, f"entry format v = {env.get('v')!r}; this verifier reads v 1 only")
    if env.get("seq") != seq or type(env.get("seq")) is not int:
        raise Failure(seq, f"the entry carries seq {env.get('seq')!r}")
    if env.get("prev") != prev:
        found = env["prev"].hex() if isinstance(env.get("prev"), bytes) else repr(env.get("prev"))
        expected = "the zero hash" if seq == 0 else f"the SHA-256 of entry {seq - 1}"
        raise Failure(seq, f"prev is {found}, but {expected} is {prev.hex()} (this entry or an earlier one changed)")
    event = env.get("event")
    if not isinstance(event, dict) or next(iter(event), None) != "kind" or not isinstance(event["kind"], str):
        raise Failure(seq, "the event is not a map starting with `kind`")
    return event


# ---------------------------------------------------------------------------------------------
# Re-deriving a verdict (spec/determinism.md §5-§6, as projections/src/scoring/verdict.rs does)


def collect(found, seq, event, eval_id):
    """Keeps what the verdict of `eval_id` is derived from, as the validator's state does."""
    kind = event["kind"]
    if "verdict" in found:
        return
    if kind == "competition_started":
        found.update(competition=event, running=False)  # the chain.toml in force from here on
    elif event.get("eval_id") != eval_id:
        return
    elif kind == "eval_queued":
        found["queued"] = event
    elif kind == "eval_started":  # a new attempt starts afresh
        found.update(started=event, running=True, n_drawn=None, turns=[])
    elif kind == "samples_drawn":
        found["n_drawn"] = len(event["samples"])
    elif kind == "turn_judged" and found.get("running") and event["attempt"] == found["started"]["attempt"]:
        found["turns"].append(event)
    elif kind == "eval_failed":
        found.update(running=False, turns=[])
    elif kind == "verdict":
        found.update(verdict=event, verdict_seq=seq)


def exact_decimal(table, key):
    """A plain decimal literal of chain.toml, as its text and its exact value ("0.05" -> 1/20)."""
    text = str(table[key])  # tomllib's parse_float=str hands over a float's literal text
    if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text):
        raise Failure(None, f"[duel].{key} = {text} is not a plain decimal literal")
    return text, Fraction(text)


def published(x):
    """§5: rounded half away from zero to 4 decimals, then the nearest binary64."""
    q, r = divmod(abs(x) * 10_000, 1)
    q += r >= Fraction(1, 2)
    return float(Fraction(q if x >= 0 else -q, 10_000))  # Fraction -> float rounds correctly


def turn_table(turns, models, n_drawn, seed_bytes):
    """The attempt's turn_judged entries in turn order, checked as verdict.rs checks them, as
    (done, s2): done = neither side had a generation error; s2[j] = judge j's five scores
    2·s in {0, 1, 2} (2: challenger better), or None when judge j did not parse the turn."""
    rows, seen = [], set()
    for t in sorted(turns, key=lambda t: t["turn"]):
        i, names = t["turn"], [judge["model"] for judge in t["judges"]]
        if i in seen or i >= n_drawn or t["a_is_king"] != a_is_king(seed_bytes, i):  # §4
            raise Failure(None, f"turn {i}: repeated, not among the {n_drawn} drawn, or a_is_king not the seed's")
        seen.add(i)
        done = t["king_error"] is None and t["challenger_error"] is None
        s2 = [None] * len(models)
        for judge in t["judges"]:
            if judge["model"] not in models or names.count(judge["model"]) > 1:
                raise Failure(None, f"turn {i}: judge {judge['model']} is not in [judge].models, or is listed twice")
            if judge["metrics"] is None:
                continue  # unreachable or unparsable: this judge did not parse this turn
            if judge["parse_error"] is not None or not done or [m["metric"] for m in judge["metrics"]] != METRICS:
                raise Failure(None, f"turn {i}: judge {judge['model']}'s metrics are malformed")
            s2[models.index(judge["model"])] = [SCORE2[m["preferred"]] for m in judge["metrics"]]
        rows.append((done, s2))
    return rows


def derive(found):
    """The verdict's figures, re-derived, under the ledger's field names."""
    competition, started = found["competition"], found["started"]
    text = competition["chain_toml"]
    if hashlib.sha256(text.encode()).digest() != competition["chain_toml_sha256"]:
        raise Failure(None, "competition_started: chain_toml_sha256 is not the text's SHA-256")
    if started["config_sha256"] != competition["chain_toml_sha256"]:
        raise Failure(None, "eval_started's config_sha256 is not the pinned chain.toml's")
    config = tomllib.loads(text, parse_float=str)
    duel, models = config["duel"], config["judge"]["models"]
    margin_text, win_margin = exact_decimal(duel, "win_margin")
    alpha_text, alpha = exact_decimal(duel, "gate_alpha")
    _, min_frac = exact_decimal(duel, "min_valid_turn_frac")

    queued, block_hash = found["queued"], started["seed_block_hash"]
    hotkey = queued["hotkey"]
    if (started["hotkey"], started["seed_block"]) != (hotkey, queued["commitment_block"]) or not hotkey:
        raise Failure(None, "eval_started's hotkey or seed_block is not the queued reveal's")
    if not re.fullmatch("0x[0-9a-f]{64}", block_hash):
        raise Failure(None, f"seed_block_hash {block_hash!r} is not 0x + 64 lowercase hex digits")
    seed_bytes = seed(block_hash, hotkey)  # §1: BLAKE2b-512(block hash text ‖ hotkey text)
    if seed_bytes.hex() != started["seed_hex"]:
        raise Failure(None, f"seed_hex is not BLAKE2b-512({block_hash} ‖ {hotkey})")
    n_drawn = found["n_drawn"] or 0
    rows = turn_table(found["turns"], models, n_drawn, seed_bytes)
    done = [s2 for is_done, s2 in rows if is_done]
    valid = [s2 for s2 in done if None not in s2]  # every judge of [judge].models parsed it

    # §5, exact: metric_mean(j, k) = Σ_{t∈T_j} s2(t, j, k) / (2 |T_j|) over the turns judge j parsed.
    parsed = {j: [s2[j] for s2 in done if s2[j] is not None] for j in range(len(models))}
    judges = [j for j in parsed if parsed[j]]  # J*, in [judge].models order
    metric_mean = {(j, k): Fraction(sum(s[k] for s in parsed[j]), 2 * len(parsed[j])) for j in judges for k in range(K)}
    judge_score = {j: sum(metric_mean[j, k] for k in range(K)) / K for j in judges}
    challenger, by_judge, by_metric = None, [], []  # no judge parsed any turn: scores absent, not 0
    if judges:
        challenger = 100 * sum(judge_score.values()) / len(judges)
        by_judge = [(models[j], 100 * judge_score[j]) for j in judges]
        by_metric = [(METRICS[k], 100 * sum(metric_mean[j, k] for j in judges) / len(judges)) for k in range(K)]

    floor_ok = len(done) >= 1 and len(valid) >= min_frac * len(done)
    margin_ok = challenger is not None and 2 * challenger - 100 >= win_margin
    c = 50 if challenger is None else challenger
    winner = "challenger" if c > 50 else "king" if c < 50 else "tie"
    # delta(t) = mean of judge_mean(t, j) - 1/2 = (U - K·m) / (2K·m) with U = Σ s2 over its m judges,
    # converted once to the nearest binary64; then the bootstrap of §6 over the valid turns.
    deltas = [float(Fraction(sum(map(sum, s2)) - K * len(s2), 2 * K * len(s2))) for s2 in valid]
    mean_delta, se, lcb = bootstrap(deltas, duel["bootstrap_resamples"], float(alpha), seed_bytes)

    def named(pairs):
        return [{"name": name, "score": published(score)} for name, score in pairs]

    return {
        "attempt": started["attempt"], "n_samples": n_drawn, "n_done": len(done), "n_valid": len(valid),
        "generation_errors": len(rows) - len(done),
        "challenger_score": None if challenger is None else published(challenger),
        "king_score": None if challenger is None else published(100 - challenger),
        "by_judge": named(by_judge), "by_metric": named(by_metric),
        "mean_delta": mean_delta, "se": se, "lcb": lcb, "win_margin": margin_text, "gate_alpha": alpha_text,
        "floor_ok": floor_ok, "margin_ok": margin_ok, "lcb_ok": lcb > 0, "judge_models": models,
        "accepted": floor_ok and margin_ok and lcb > 0, "winner": winner,
    }  # fmt: skip


def check_verdict(found, eval_id):
    if "verdict" not in found:
        raise Failure(None, f"{eval_id} has no verdict in this ledger")
    v, seq = found["verdict"], found["verdict_seq"]
    try:
        if not {"competition", "queued", "started"} <= found.keys():
            raise Failure(None, "no competition_started, eval_queued or eval_started came before it")
        recorded = {"attempt": v["attempt"], **v["figures"], "accepted": v["accepted"], "winner": v["winner"]}
        derived = derive(found)
    except (Failure, KeyError, TypeError, ValueError) as e:
        why = e.args[1] if isinstance(e, Failure) else f"an entry it reads is malformed ({type(e).__name__}: {e})"
        raise Failure(seq, f"cannot re-derive the verdict of {eval_id}: {why}") from None
    print(f"verdict {eval_id} (seq {seq}):\n  {'':<7} {'field':<18} {'recorded':<26} derived")
    differ = []
    for key, want in derived.items():
        have = recorded.get(key)
        if have != want or type(have) is not type(want):
            differ.append(key)
        print(f"  {'DIFFERS' if key in differ else '':<7} {key:<18} {json.dumps(have):<26} {json.dumps(want)}")
    print("  (the informational figures are not re-derived: no decision reads them)")
    if differ:
        raise Failure(seq, f"the verdict of {eval_id} differs from the re-derived one in: {', '.join(differ)}")
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
            try:
                if args.verdict:
                    collect(found, seq, event, args.verdict)
            except (KeyError, TypeError) as e:
                raise Failure(seq, f"a malformed {event['kind']} event ({type(e).__name__}: {e})") from None
        print(f"entries: {count} verified, linked from seq 0 to the checkpoint's head")
        if args.verdict:
            check_verdict(found, args.verdict)
    except Failure as f:
        seq, what = f.args
        print(f"FAILED: {'' if seq is None else f'seq {seq}: '}{what}")
        return 1
    except OSError as e:  # urllib's errors are OSErrors too
        print(f"error: cannot read the mirror: {e}")
        return 2
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
