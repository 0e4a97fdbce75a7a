"""Serving: enhance signals, files and batches (:class:`Enhancer`), separate speakers
(:class:`Separator`, chunks stitched in speaker order by :mod:`cspec.infer.stitch`), long files in chunks with bounded memory
(:mod:`cspec.infer.chunked`), stream causal models (:class:`Stream`), export to ONNX (:func:`export_onnx`) and run
an export with onnxruntime (:class:`OnnxModel`). See ``docs/inference.md``."""

from cspec.infer.chunked import ChunkedRunner, chunk_sizes, crossfade
from cspec.infer.enhancer import Enhancer, available_pretrained, resolve_model
from cspec.infer.onnx import OnnxModel, export_onnx
from cspec.infer.separator import Separator
from cspec.infer.stitch import StitchedRunner, best_permutation
from cspec.infer.stream import Stream

__all__ = ["Enhancer", "Separator", "Stream", "export_onnx", "OnnxModel", "ChunkedRunner", "chunk_sizes", "crossfade",
           "available_pretrained", "resolve_model",
           "StitchedRunner", "best_permutation"]
