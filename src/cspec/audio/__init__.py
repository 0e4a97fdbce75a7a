"""Audio files in and out: the only package of cspec that touches files of audio.

* :func:`load` reads everything libsndfile reads (wav, flac, ogg/vorbis, opus, mp3, aiff ...), any bit depth
  and channel count, into a float32 tensor of shape ``(channels, samples)`` plus the sample rate.
* :func:`resample` uses soxr (VHQ by default), the one resampler cspec uses everywhere, so that two numbers
  computed by cspec were computed on the same signal.
* :func:`save` writes atomically (a temporary file in the destination folder, then a rename), refuses to
  overwrite an existing file unless asked, and never writes over the file it read from.
* :func:`blocks` and :class:`BlockWriter` (:mod:`cspec.audio.blocks`) read and write files longer than memory
  block by block, with the same checks.

Bad input raises :class:`cspec.AudioError` naming the file and the problem.
"""

from cspec.audio.blocks import BlockWriter, blocks, stream_info
from cspec.audio.io import RESAMPLER, check_target, info, load, resample, save, to_mono, validate
from cspec.errors import AudioError

__all__ = ["AudioError", "load", "save", "check_target", "resample", "info", "validate", "to_mono", "RESAMPLER",
           "stream_info", "blocks", "BlockWriter"]
