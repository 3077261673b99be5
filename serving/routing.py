"""Sticky traffic splitting: a pure kernel (no Django).

A routing key (an entity id, else the request id) hashes to one of 10,000 buckets;
the challenger answers the buckets below its weight. Raising the weight only adds
buckets, so a key that reached the challenger never moves back to the champion.
"""

import hashlib

BUCKETS = 10_000


def bucket(key: str) -> int:
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def goes_to_challenger(key: str, challenger_weight_percent: float) -> bool:
    return bucket(key) < challenger_weight_percent * (BUCKETS // 100)
