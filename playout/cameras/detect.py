"""Blobs in one picture with OpenCV: background subtraction (MOG2, shadows off), an opening
to remove speckle and a closing to join a person's parts, then the outer contours within the
area limits. Runs in the tracker process only (cv2 is never imported by the daemon)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from trocadero.config.cameras import CameraConfig

from .tracker import Detection

__all__ = ["BlobDetector"]


class BlobDetector:
    def __init__(self, camera: CameraConfig) -> None:
        self.min_area = camera.min_area
        self.max_area = camera.max_area
        self._mog: Any = cv2.createBackgroundSubtractorMOG2(
            history=camera.history, varThreshold=camera.threshold, detectShadows=False
        )
        self._rate = 1.0 / camera.history
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
        self.mask: NDArray[np.uint8] | None = None  # the last foreground mask (diagnosis)

    def detect(self, gray: NDArray[np.uint8]) -> list[Detection]:
        """Blobs in a greyscale picture (the background model learns from every call)."""
        h, w = gray.shape
        # A fixed learning rate: MOG2's own starts at 1/frames seen, which makes someone
        # standing still in the first seconds after a (re)start fade into the background.
        mask: NDArray[np.uint8] = self._mog.apply(gray, learningRate=self._rate)
        mask = np.asarray(cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._open), dtype=np.uint8)
        mask = np.asarray(
            cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self._close, iterations=2), dtype=np.uint8
        )
        self.mask = mask
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        total = float(w * h)
        out: list[Detection] = []
        for c in contours:
            m = cv2.moments(c)
            if m["m00"] <= 0:
                continue
            area = m["m00"] / total
            if not self.min_area <= area <= self.max_area:
                continue
            _, _, bw, bh = cv2.boundingRect(c)
            out.append(
                Detection(m["m10"] / m["m00"] / w, m["m01"] / m["m00"] / h, bw / w, bh / h, area)
            )
        return out
