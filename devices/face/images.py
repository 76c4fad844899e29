"""Photos and frames into the engine's one format: 8-bit RGB, contiguous, at most ``max_side`` pixels.

Enrolment photos and calibration probes come in every format an admin can find: RGBA PNGs, greyscale
scans, palette GIFs, 16-bit TIFFs, 40-megapixel phone shots rotated by an EXIF tag. Each becomes RGB
here, or a :class:`BadImageError` that names the file and what is wrong with it.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from devices.face.backend import RgbImage

# A HOG face needs ~80 px; nothing gains from more than this, and a 100-megapixel file must not
# take minutes or gigabytes.
DEFAULT_MAX_SIDE = 1600
# Pillow's own decompression-bomb threshold (Image.MAX_IMAGE_PIXELS), refused outright here.
MAX_PIXELS = 89_478_485
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})


class BadImageError(ValueError):
    """A photo that cannot be used; ``source`` names the file (or camera)."""

    def __init__(self, source: str, cause: str) -> None:
        super().__init__(f"{source}: {cause}")
        self.source = source
        self.cause = cause


def to_rgb(image: Image.Image, source: str, *, max_side: int = DEFAULT_MAX_SIDE) -> RgbImage:
    """Convert a decoded Pillow image (any mode) to RGB uint8, applying EXIF rotation and a size cap."""
    if image.width * image.height > MAX_PIXELS:
        raise BadImageError(source, f"{image.width}x{image.height} is too large (limit {MAX_PIXELS} pixels)")
    try:
        image = ImageOps.exif_transpose(image) or image
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            # Transparent pixels become white, not black: a face cut out on black confuses HOG less
            # than on noise, but white is what a viewer saw.
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba)
        elif image.mode in ("I;16", "I;16B", "I;16L", "I"):
            array = np.asarray(image, dtype=np.float64)
            peak = float(array.max()) or 1.0
            image = Image.fromarray((array * (255.0 / peak)).astype(np.uint8))
        image = image.convert("RGB")
        if max(image.size) > max_side:
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    except (OSError, ValueError) as exc:
        raise BadImageError(source, f"cannot decode the image ({exc})") from exc


def load_photo(path: Path, *, max_side: int = DEFAULT_MAX_SIDE) -> RgbImage:
    """Read an image file as RGB, or raise :class:`BadImageError` naming the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadImageError(str(path), f"cannot read the file ({exc.strerror or exc})") from exc
    return decode_photo(data, str(path), max_side=max_side)


def decode_photo(data: bytes, source: str, *, max_side: int = DEFAULT_MAX_SIDE) -> RgbImage:
    """Decode image bytes (an upload) as RGB, or raise :class:`BadImageError` naming ``source``."""
    if not data:
        raise BadImageError(source, "the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image.load()
    except Image.DecompressionBombWarning:
        raise BadImageError(source, f"the image is too large (limit {MAX_PIXELS} pixels)") from None
    except Image.DecompressionBombError:
        raise BadImageError(source, f"the image is too large (limit {MAX_PIXELS} pixels)") from None
    except UnidentifiedImageError:
        raise BadImageError(source, "not an image format we can read (use JPEG or PNG)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise BadImageError(source, f"the image is corrupt or truncated ({exc})") from exc
    return to_rgb(image, source, max_side=max_side)
