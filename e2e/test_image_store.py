"""The live node's image store (e2e/node.py): a node's containerd root is hard links to it, and a write through
a link shows in the store's record. Plain files only, no containerd: the live tier runs the real one."""
from __future__ import annotations

import json
from pathlib import Path

import node as nodes

BLOB = "io.containerd.content.v1.content/blobs/sha256/0123"
LOWER = "io.containerd.snapshotter.v1.overlayfs/snapshots/1/fs/usr/bin/python3"


def a_store(tmp_path: Path) -> Path:
    """A store with a blob, a file of a committed snapshot and containerd's two databases, its record made."""
    store = tmp_path / "store"
    for relative, data in [(BLOB, b"layer"), (LOWER, b"\x7fELF"), *[(db, b"bolt") for db in nodes.STORE_DATABASES]]:
        path = store / "root" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (store / "fingerprint.json").write_text(json.dumps(nodes.fingerprint(store / "root")))
    return store


def test_a_nodes_root_links_the_stores_files_and_copies_its_databases(tmp_path):
    store = a_store(tmp_path)
    root = tmp_path / "node" / "containerd"
    nodes.link_store(store, root)
    for relative in (BLOB, LOWER):
        assert (root / relative).samefile(store / "root" / relative), f"node root {root}: {relative} is not a link"
    for database in nodes.STORE_DATABASES:
        assert not (root / database).samefile(store / "root" / database), f"node root {root}: {database} is a link"
        (root / database).write_bytes(b"the node's own")
    assert nodes.store_changes(store) == [], f"store {store}: a node's database write changed the store"


def test_a_write_through_a_link_shows_as_a_change_of_the_store(tmp_path):
    store = a_store(tmp_path)
    root = tmp_path / "node" / "containerd"
    nodes.link_store(store, root)
    with (root / LOWER).open("ab") as lower:
        lower.write(b"!")
    changes = nodes.store_changes(store)
    assert [change.split(":")[0] for change in changes] == [LOWER], f"store {store}: changes {changes}"


def test_a_file_added_to_or_removed_from_the_store_shows_as_a_change(tmp_path):
    store = a_store(tmp_path)
    (store / "root" / BLOB).unlink()
    (store / "root" / "io.containerd.content.v1.content/blobs/sha256/4567").write_bytes(b"layer")
    changes = nodes.store_changes(store)
    assert [change.split(":")[0] for change in changes] == [BLOB, "io.containerd.content.v1.content/blobs/sha256/4567"], \
        f"store {store}: changes {changes}"
