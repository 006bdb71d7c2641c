"""Time-boxed differential mutation fuzz of the MDVR decoders, the stable-Rust stand-in for
``native/rust/fuzz/fuzz_targets/mdvr_decode.rs`` (cargo-fuzz needs nightly): inputs seeded from
every vector of the reference are mutated and cut into reads, and the Rust decoders must agree
with the pure-Python reference (messages, counters, envelope) and keep the framing invariants
(``mdvr_diff.assert_same``). Inputs that still decode to something are kept to mutate further.

Budget: ``TROCADERO_MDVR_FUZZ_SECONDS`` (default 8, capped at 20); the input sequence is fixed
by ``TROCADERO_MDVR_FUZZ_SEED`` (default 7) so a CI failure replays exactly.
"""

from __future__ import annotations

import os
import random
import time

from . import mdvr_diff

BUDGET_S = min(float(os.environ.get("TROCADERO_MDVR_FUZZ_SECONDS", "8")), 20.0)
SEED = int(os.environ.get("TROCADERO_MDVR_FUZZ_SEED", "7"))
CORPUS_LIMIT = 400


def test_mutation_fuzz_rust_against_reference() -> None:
    rng = random.Random(SEED)
    corpus = mdvr_diff.seed_corpus()
    seeds = len(corpus)
    deadline = time.monotonic() + BUDGET_S
    runs = 0
    while time.monotonic() < deadline:
        parent = rng.choice(corpus)
        data = parent
        for _ in range(rng.randint(1, 3)):
            data = mdvr_diff.mutate(rng, data, corpus)
        chunks = mdvr_diff.split(rng, data)
        try:
            items = mdvr_diff.assert_same(chunks, max_payload=rng.choice([64, 4096, 1 << 20]))
        except AssertionError as e:
            raise AssertionError(f"seed {SEED}, run {runs}, input {data!r}") from e
        if items and len(data) < 8192:
            if len(corpus) < CORPUS_LIMIT:
                corpus.append(data)
            else:
                corpus[rng.randrange(seeds, CORPUS_LIMIT)] = data
        runs += 1
    assert runs > 50, f"only {runs} inputs in {BUDGET_S} s"
