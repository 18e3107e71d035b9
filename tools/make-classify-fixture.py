"""Writes test/fixtures/classify/: a 320x240 RGB PNG and what the official evaluation transform makes of it
(train.py: Resize(256), CenterCrop(224), ToTensor(), Normalize(ImageNet mean/std)), NCHW float32 [1, 3, 224, 224]
saved with torch.save, so tests check that a classifier's pretrained config prepares images exactly like it.

Run: /usr/bin/python3 tools/make-classify-fixture.py
"""
import pathlib

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

out = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures" / "classify"
out.mkdir(parents=True, exist_ok=True)

# Smooth structure plus fine detail, so resizing (antialiasing) and cropping both change the numbers.
h, w = 240, 320
y, x = np.mgrid[0:h, 0:w].astype(np.float64)
rng = np.random.default_rng(14)
r = 127 + 100 * np.sin(x / 17.0) * np.cos(y / 23.0)
g = 255 * (x / w) * (1 - y / h) + 20 * rng.standard_normal((h, w))
b = 127 + 120 * np.sign(np.sin((x + 2 * y) / 5.0)) * 0.5
pixels = np.clip(np.stack([r, g, b], axis=-1), 0, 255).round().astype(np.uint8)
Image.fromarray(pixels, "RGB").save(out / "photo.png")

official_eval = transforms.Compose(
    [
        transforms.Resize(256),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ]
)
prepared = official_eval(Image.open(out / "photo.png").convert("RGB")).unsqueeze(0).contiguous()
torch.save({"input": prepared}, out / "photo.official-eval.pth")
print(f"wrote {out}: photo.png {w}x{h}, input {tuple(prepared.shape)}")
