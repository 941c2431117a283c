from __future__ import annotations

import numpy as np
import pytest

from oddsight.errors import ConfigError, ModelFileError, ModelUnavailableError
from oddsight.models.base import ImageEncoder, TextEncoder
from oddsight.models.loader import load_image_encoder, load_text_encoder
from oddsight.models.registry import get_spec, list_specs, resolve
from tests.conftest import scene
from tests.tiny_models import save_tiny_clip, save_tiny_dinov2, save_tiny_text_model


def frames(n=4, size=224):
    return np.stack([scene(i * 7, size, size, anomaly=i == n - 1) for i in range(n)])


def test_registry_is_data_with_sources_and_licences():
    ids = {s.id for s in list_specs()}
    assert {"dinov2-small", "clip-vit-b32", "siglip-base", "minilm-l6", "qwen2.5-coder-1.5b"} <= ids
    for spec in list_specs():
        assert spec.licence and spec.sources and spec.role in ("image", "image-text", "text", "llm")
    with pytest.raises(ConfigError, match="unknown model"):
        get_spec("no-such-model")


def test_missing_model_says_how_to_get_it():
    with pytest.raises(ModelUnavailableError) as err:
        resolve(get_spec("clip-vit-b32"))  # no network, nothing cached
    assert "oddsight models pull clip-vit-b32" in str(err.value) and "--model-path" in str(err.value)


def test_offline_dinov2_onnx_real_model():
    enc = load_image_encoder("dinov2-small")
    assert isinstance(enc, ImageEncoder) and enc.dim == 768 and enc.input_size == (168, 168)
    x = frames()
    a = enc.embed(enc.preprocess(x))
    b = enc.embed(enc.preprocess(x[:2]))
    assert a.shape == (4, 768) and np.isfinite(a).all()
    # int8 dynamic quantization scales activations per batch: batching moves embeddings only slightly
    cos_ab = (a[:2] * b).sum(1) / np.linalg.norm(a[:2], axis=1) / np.linalg.norm(b, axis=1)
    assert cos_ab.min() > 0.995
    np.testing.assert_allclose(enc.embed(enc.preprocess(x)), a)  # and the same batch gives the same result
    cos = (a / np.linalg.norm(a, axis=1, keepdims=True)) @ (a / np.linalg.norm(a, axis=1, keepdims=True)).T
    assert cos[0, 1] > cos[0, 3]  # the frame with the red blob is further from the others


def test_fp32_dinov2_is_exact_across_batches():
    enc = load_image_encoder("dinov2-small-fp32")
    x = frames(3, 224)
    np.testing.assert_allclose(enc.embed(enc.preprocess(x))[:1], enc.embed(enc.preprocess(x[:1])), atol=1e-4)


def test_dinov2_through_transformers_from_a_local_folder(tmp_path):
    folder = save_tiny_dinov2(tmp_path / "tiny-dinov2")
    enc = load_image_encoder("dinov2-small", path=folder)
    out = enc.embed(enc.preprocess(frames(2)))
    assert out.shape == (2, 64) and np.isfinite(out).all()


def test_tiny_clip_loads_through_from_pretrained(tmp_path):
    folder = save_tiny_clip(tmp_path / "tiny-clip")
    model = load_image_encoder("clip-vit-b32", path=folder)
    assert isinstance(model, TextEncoder) and model.input_size == (32, 32)
    img = model.embed(model.preprocess(frames(3, 32)))
    txt = model.encode_text(["a photo of fire", "people walking"])
    assert img.shape == (3, 16) and txt.shape == (2, 16)
    np.testing.assert_allclose(np.linalg.norm(txt, axis=1), 1, atol=1e-5)
    assert model.logit_scale > 1


def test_text_encoder_from_folder_and_wrong_role(tmp_path):
    folder = save_tiny_text_model(tmp_path / "tiny-bert")
    enc = load_text_encoder("minilm-l6", path=folder)
    out = enc.encode_text(["a fire", "a fire", "people walking"])
    assert out.shape == (3, 32)
    np.testing.assert_allclose(out[0], out[1], atol=1e-6)
    with pytest.raises(ConfigError, match="not an image encoder"):
        load_image_encoder("minilm-l6", path=folder)


def test_real_minilm_from_its_pip_package():
    enc = load_text_encoder("minilm-l6")
    a, b, c = enc.encode_text(["a building on fire", "flames and smoke", "a cat sleeping on a sofa"])
    assert a @ b > a @ c


def test_bad_model_files(tmp_path):
    (tmp_path / "broken.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelFileError):
        load_image_encoder("dinov2-small", path=tmp_path / "broken.onnx")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError):
        load_image_encoder("clip-vit-b32", path=tmp_path / "empty")
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        load_image_encoder("dinov2-small", path=tmp_path / "nope")


def test_a_stale_derived_model_is_never_used(tmp_path):
    from oddsight.models.registry import RECIPE_FILE, cache_location, is_prepared

    spec = get_spec("dinov2-small")
    load_image_encoder("dinov2-small")  # derives into the cache
    folder = cache_location(spec)
    assert is_prepared(spec, folder) and resolve(spec).kind == "cache"
    (folder / RECIPE_FILE).write_text('{"fingerprint": "another-variant"}')
    assert not is_prepared(spec, folder) and resolve(spec).kind == "pip"
    load_image_encoder("dinov2-small")  # derives again, for this variant
    assert is_prepared(spec, folder)
    assert get_spec("dinov2-small-224").fingerprint != spec.fingerprint
