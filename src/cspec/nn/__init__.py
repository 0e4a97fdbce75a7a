"""Complex-valued neural network layers (survey Sec. 3).

Native complex tensors in and out, real-valued parameters, real arithmetic inside (see
:mod:`cspec.nn.functional`), a real-pair path for ONNX export (:mod:`cspec.nn.export`). This package imports
nothing of :mod:`cspec.spectral` or above.
"""

from cspec.nn.activation import (AmpPhaseSigmoid, AmpPhaseTanh, Cardioid, ComplexPReLU, CReLU, ModReLU,
                                 SplitSigmoid, SplitTanh, ZReLU)
from cspec.nn.attention import ComplexMultiheadAttention, ComplexTransformerEncoderLayer
from cspec.nn.base import (ComplexModule, ComplexSequential, check_complex, from_channels, from_real_pair,
                           to_channels, to_real_pair)
from cspec.nn.conv import ComplexConv1d, ComplexConv2d, ComplexConvTranspose1d, ComplexConvTranspose2d
from cspec.nn.dropout_pool import (ComplexAvgPool1d, ComplexAvgPool2d, ComplexDropout, ComplexMaxPool1d,
                                   ComplexMaxPool2d)
from cspec.nn.export import RealPairWrapper, export_onnx
from cspec.nn.init import complex_glorot_, complex_he_, unitary_
from cspec.nn.linear import ComplexLinear
from cspec.nn.norm import ComplexBatchNorm, ComplexLayerNorm, NaiveComplexBatchNorm
from cspec.nn.recurrent import ComplexGRU, ComplexLSTM

__all__ = [
    "AmpPhaseSigmoid", "AmpPhaseTanh", "Cardioid", "ComplexPReLU", "CReLU", "ModReLU", "SplitSigmoid",
    "SplitTanh", "ZReLU", "ComplexMultiheadAttention", "ComplexTransformerEncoderLayer", "ComplexModule",
    "ComplexSequential", "check_complex", "from_channels", "from_real_pair", "to_channels", "to_real_pair",
    "ComplexConv1d", "ComplexConv2d", "ComplexConvTranspose1d", "ComplexConvTranspose2d", "ComplexAvgPool1d",
    "ComplexAvgPool2d", "ComplexDropout", "ComplexMaxPool1d", "ComplexMaxPool2d", "RealPairWrapper",
    "export_onnx", "complex_glorot_", "complex_he_", "unitary_", "ComplexLinear", "ComplexBatchNorm",
    "ComplexLayerNorm", "NaiveComplexBatchNorm", "ComplexGRU", "ComplexLSTM",
]
