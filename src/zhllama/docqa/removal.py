"""Removing documents from a store by source file, keeping the store's generation and BM25 index right.

``ingest`` removes the chunks of files that disappeared from the folders it is given; a server or a
program that manages documents one by one needs the same operation on its own:
``remove_sources(store, sources)`` deletes every chunk whose ``source`` is listed, under the
writers' lock, marking the collection dirty first and recording the new generation (and the lexical
index, with those chunks masked out) after, exactly as an ingest does, so readers never use a stale index.
"""

from __future__ import annotations

from collections.abc import Iterable

from zhllama.docqa.store import Store, fingerprint


def remove_sources(store: Store, sources: Iterable[str]) -> int:
    """Delete the chunks of ``sources`` (paths as ``Store.files`` lists them); return how many."""
    wanted = set(sources)
    with store.lock():
        doomed: list[str] = []
        kept: set[str] = set()
        for chunk_id, _, meta in store.records():
            if meta.get("source") in wanted:
                doomed.append(chunk_id)
            else:
                kept.add(chunk_id)
        if not doomed:
            return 0
        previous = store.generation
        store.mark_dirty()
        store.delete(doomed)
        generation = fingerprint(kept)
        store.update_lexical(previous, [], doomed, generation)  # the index first, as ingest does
        store.mark_clean(generation)
    return len(doomed)
