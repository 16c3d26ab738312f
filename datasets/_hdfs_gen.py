"""A seeded HDFS-like log generator: block lifecycles written as loghub HDFS_v1 lines.

Each block goes through the HDFS_v1 write path: the name node allocates it; three data nodes in a
pipeline receive it, acknowledge it (``PacketResponder ... terminating``, ``Received block``) and
the name node records each replica (``addStoredBlock``); later it may be verified, served to
readers and deleted (invalidated on each replica, then the files removed).  Blocks run
concurrently (``concurrency`` open at once) and their lines interleave, as in the real log.

An anomalous block (``anomaly_rate`` of them) has one of three faults:

* ``missing``: a replica never acknowledges (no ``Received``/``terminating``/``addStoredBlock``);
* ``repeated``: the pipeline is re-sent (``Receiving`` again, redundant ``addStoredBlock``);
* ``failing``: a write or serve fails (``writeBlock ... received exception``, ``PacketResponder
  ... Exception``, ``Exception in receiveBlock``, ``Got exception while serving``).

The generator streams: it holds only the open blocks, so a 10M-line log costs no more memory
than a 10k-line one.  Labels go to ``anomaly_label.csv`` (``BlockId,Label`` with
``Normal``/``Anomaly``, as loghub's file) as blocks finish.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

FAULTS = ("missing", "repeated", "failing")
_START = datetime(2008, 11, 9, 20, 35, 0)


def _ip(rng: random.Random) -> str:
    return f"10.251.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}"


def _plan(rng: random.Random, blk: str, fault: str | None) -> list[tuple[str, str, str]]:
    """The ordered ``(level, component, content)`` events of one block's life."""
    nodes = [_ip(rng) for _ in range(3)]
    size = rng.choice((67108864, 67108864, 67108864, rng.randrange(1000, 67108864)))
    task = rng.randrange(0, 2000)
    ev: list[tuple[str, str, str]] = [(
        "INFO", "dfs.FSNamesystem",
        f"BLOCK* NameSystem.allocateBlock: /user/root/rand/_temporary/_task_200811092030_0001_m_"
        f"{task:06d}_0/part-{task:05d}. {blk}")]
    for n in nodes:
        ev.append(("INFO", "dfs.DataNode$DataXceiver",
                   f"Receiving block {blk} src: /{n}:{rng.randrange(30000, 60000)} "
                   f"dest: /{n}:50010"))
    broken = rng.randrange(3) if fault in ("missing", "failing") else -1
    for i, n in enumerate(nodes):
        if i == broken and fault == "missing":
            continue
        if i == broken and fault == "failing":
            kind = rng.randrange(3)
            if kind == 0:
                ev.append(("INFO", "dfs.DataNode$DataXceiver",
                           f"writeBlock {blk} received exception java.io.IOException: "
                           f"Could not read from stream"))
            elif kind == 1:
                ev.append(("INFO", "dfs.DataNode$PacketResponder",
                           f"PacketResponder {blk} {2 - i} Exception java.io.IOException: "
                           f"Connection reset by peer"))
            else:
                ev.append(("INFO", "dfs.DataNode$DataXceiver",
                           f"Exception in receiveBlock for block {blk} java.io.EOFException"))
            continue
        ev.append(("INFO", "dfs.DataNode$PacketResponder",
                   f"PacketResponder {2 - i} for block {blk} terminating"))
        ev.append(("INFO", "dfs.DataNode$PacketResponder",
                   f"Received block {blk} of size {size} from /{n}"))
        ev.append(("INFO", "dfs.FSNamesystem",
                   f"BLOCK* NameSystem.addStoredBlock: blockMap updated: {n}:50010 is added to "
                   f"{blk} size {size}"))
    if fault == "repeated":
        n = rng.choice(nodes)
        for _ in range(rng.randrange(1, 4)):
            ev.append(("INFO", "dfs.DataNode$DataXceiver",
                       f"Receiving block {blk} src: /{n}:{rng.randrange(30000, 60000)} "
                       f"dest: /{n}:50010"))
        ev.append(("INFO", "dfs.FSNamesystem",
                   f"BLOCK* NameSystem.addStoredBlock: Redundant addStoredBlock request received "
                   f"for {blk} on {n}:50010 size {size}"))
    if rng.random() < 0.1:
        ev.append(("INFO", "dfs.DataBlockScanner", f"Verification succeeded for {blk}"))
    for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
        n = rng.choice(nodes)
        ev.append(("INFO", "dfs.DataNode$DataXceiver",
                   f"{n}:50010 Served block {blk} to /{_ip(rng)}"))
    if fault == "failing" and rng.random() < 0.5:
        n = rng.choice(nodes)
        ev.append(("WARN", "dfs.DataNode$DataXceiver",
                   f"{n}:50010:Got exception while serving {blk} to /{_ip(rng)}:"))
    if rng.random() < 0.6:
        for n in nodes:
            ev.append(("INFO", "dfs.FSNamesystem",
                       f"BLOCK* NameSystem.delete: {blk} is added to invalidSet of {n}:50010"))
        for _ in nodes:
            ev.append(("INFO", "dfs.FSDataset",
                       f"Deleting block {blk} file /mnt/hadoop/dfs/data/current/subdir"
                       f"{rng.randrange(64)}/{blk}"))
    return ev


def write_log(log_path: Path, label_path: Path, *, n_blocks: int | None = None,
              n_lines: int | None = None, anomaly_rate: float = 0.03, concurrency: int = 32,
              seed: int = 0) -> dict[str, int]:
    """Write an HDFS-like log of about ``n_lines`` lines (blocks stop opening once the planned
    lines reach it, and every open block finishes) or of exactly ``n_blocks`` blocks, and its
    label file.  Returns ``{"lines", "blocks", "anomalous"}``."""
    if (n_blocks is None) == (n_lines is None):
        raise ValueError("give exactly one of n_blocks and n_lines")
    rng = random.Random(seed)
    stats = {"lines": 0, "blocks": 0, "anomalous": 0}
    open_blocks: list[tuple[str, list, int]] = []  # (block id, remaining events reversed, pid)
    planned = 0
    t = _START
    stamp = t.strftime("%y%m%d %H%M%S")

    def more() -> bool:
        if n_blocks is not None:
            return stats["blocks"] < n_blocks
        return planned < n_lines

    with open(log_path, "w", encoding="utf-8") as log, \
            open(label_path, "w", encoding="utf-8") as lab:
        lab.write("BlockId,Label\n")
        write, lab_write = log.write, lab.write
        while True:
            while len(open_blocks) < concurrency and more():
                blk = f"blk_{rng.randrange(-2**63, 2**63)}"
                fault = rng.choice(FAULTS) if rng.random() < anomaly_rate else None
                ev = _plan(rng, blk, fault)
                ev.reverse()
                planned += len(ev)
                stats["blocks"] += 1
                stats["anomalous"] += fault is not None
                lab_write(f"{blk},{'Anomaly' if fault else 'Normal'}\n")
                open_blocks.append((blk, ev, rng.randrange(10, 4000)))
            if not open_blocks:
                break
            i = rng.randrange(len(open_blocks))
            blk, ev, pid = open_blocks[i]
            level, comp, content = ev.pop()
            if rng.random() < 0.3:
                t += timedelta(seconds=1)
                stamp = t.strftime("%y%m%d %H%M%S")
            write(f"{stamp} {pid} {level} {comp}: {content}\n")
            stats["lines"] += 1
            if not ev:
                open_blocks[i] = open_blocks[-1]
                open_blocks.pop()
    return stats
