"""Tiny randomly initialised transformers models saved to a folder, loaded back via from_pretrained(path)."""

from __future__ import annotations

from pathlib import Path

WORDS = "a photo of the people walking fight fire smoke car crash person falling street room quiet . , {} an"


def save_tiny_tokenizer(folder: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[PAD]": 0, "[UNK]": 1, "[EOS]": 2}
    for w in WORDS.split():
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", eos_token="[EOS]")
    fast.save_pretrained(folder)


def save_tiny_clip(folder: Path) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    text = dict(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=32,
        eos_token_id=2,
        pad_token_id=0,
        bos_token_id=1,
    )
    vision = dict(
        image_size=32, patch_size=8, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4
    )
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16))
    model.save_pretrained(folder)
    save_tiny_tokenizer(folder)
    return folder


def save_tiny_dinov2(folder: Path) -> Path:
    import torch
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    config = Dinov2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, patch_size=14, image_size=28
    )
    Dinov2Model(config).save_pretrained(folder)
    return folder


def save_tiny_text_model(folder: Path) -> Path:
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    BertModel(
        BertConfig(
            vocab_size=64,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=37,
            pad_token_id=0,
        )
    ).save_pretrained(folder)
    save_tiny_tokenizer(folder)
    return folder


def save_tiny_captioner(folder: Path) -> Path:
    """A tiny random GIT image-to-text model with its processor (CLIP image processor + tokenizer)."""
    import torch
    from transformers import CLIPImageProcessor, GitConfig, GitForCausalLM, GitProcessor, PreTrainedTokenizerFast

    torch.manual_seed(0)
    vision = dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=37, num_hidden_layers=1)
    vision["num_attention_heads"] = 4
    config = GitConfig(
        vision_config=vision,
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    GitForCausalLM(config).save_pretrained(folder)
    save_tiny_tokenizer(folder)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    GitProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder
