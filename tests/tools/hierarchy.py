"""A reproducible asset hierarchy for tests and benchmarks: `n` assets under `roots` roots, each
row (external_id, name, parent_external_id) after its parent; half the parents are among the 30
previous rows, so chains run deep."""
import random


def hierarchy(n, roots, seed, prefix):
    """Returns (rows, depth): rows parents-first, depth of each external id (roots 0)."""
    rng = random.Random(seed)
    rows, depth = [], {}
    for i in range(n):
        xid = f"{prefix}{i}"
        if i < roots:
            parent = None
            depth[xid] = 0
        else:
            j = rng.randrange(max(0, i - 30), i) if rng.random() < 0.5 else rng.randrange(i)
            parent = f"{prefix}{j}"
            depth[xid] = depth[parent] + 1
        rows.append((xid, f"Asset {i}", parent))
    return rows, depth
