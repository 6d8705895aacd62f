"""Scanned copies of PDF pages for the OCR tests and bench/ocr.py: each page rendered by PDFium, degraded like a
scan (a slight rotation, sensor noise, a little blur) and written back as an image-only PDF, with what is
needed to find any born-digital character box on the scanned image (the rotation)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCAN_DPI = 200  # a common office-scanner setting; OCR renders the page at its own 300 dpi


@dataclass(frozen=True, slots=True)
class Scan:
    """How a page was scanned: the rotation (degrees, counter-clockwise, about the image centre) and the image
    size in pixels at :data:`SCAN_DPI`."""

    angle: float
    width_px: int
    height_px: int

    def to_scan_pixels(self, x_pt: float, y_pt: float, height_pt: float) -> tuple[float, float]:
        """Where a point of the born-digital page (PDF points, origin bottom left) is on the scanned image."""
        s = SCAN_DPI / 72
        x, y = x_pt * s, (height_pt - y_pt) * s
        cx, cy = self.width_px / 2, self.height_px / 2
        t = math.radians(self.angle)
        # PIL's rotate(angle) turns the picture counter-clockwise on screen (y grows downwards)
        return (cx + (x - cx) * math.cos(t) + (y - cy) * math.sin(t),
                cy - (x - cx) * math.sin(t) + (y - cy) * math.cos(t))


def degrade(image: Any, *, angle: float, noise: float, seed: int) -> Any:
    """A greyscale page image rotated by ``angle`` degrees, with Gaussian noise of ``noise`` grey levels and a
    slight blur."""
    import numpy as np
    from PIL import Image, ImageFilter

    grey = image.convert("L").rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    rng = np.random.default_rng(seed)
    pixels = np.asarray(grey, dtype=np.float32) + rng.normal(0, noise, (grey.size[1], grey.size[0]))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.5))


def scan_pdf(source: Path, target: Path, *, pages: Sequence[int] | None = None, angle: float = 0.7,
             noise: float = 18.0, seed: int = 0) -> list[Scan]:
    """``target``: an image-only PDF of ``pages`` (1-based; default all) of ``source``, each degraded."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(source))
    try:
        numbers = list(pages) if pages is not None else list(range(1, len(pdf) + 1))
        images, scans = [], []
        for i, number in enumerate(numbers):
            image = pdf[number - 1].render(scale=SCAN_DPI / 72).to_pil()
            scanned = degrade(image, angle=angle, noise=noise, seed=seed + i)
            images.append(scanned)
            scans.append(Scan(angle, *scanned.size))
    finally:
        pdf.close()
    images[0].save(target, "PDF", resolution=SCAN_DPI, save_all=True, append_images=images[1:])
    return scans


def words_of(text: str) -> Counter[str]:
    """The words of a text, lower case, letters and digits only (hyphenation and punctuation aside).

    >>> sorted(words_of("Net sales rose 4.5% (net).").items())
    [('4', 1), ('5', 1), ('net', 2), ('rose', 1), ('sales', 1)]
    """
    return Counter(re.findall(r"[a-z0-9]+", text.lower()))


def word_recall(reference: str, hypothesis: str) -> float:
    """The share of the reference's words (with their counts) that the hypothesis has: OCR word accuracy.

    >>> word_recall("the cat sat on the mat", "the cat sat on a mat")
    0.8333333333333334
    """
    ref, hyp = words_of(reference), words_of(hypothesis)
    return sum((ref & hyp).values()) / max(1, sum(ref.values()))
