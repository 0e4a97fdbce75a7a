"""Imports every architecture module so that its ``@register`` decorators run (one line per file)."""
from cspec.models import mpsenet  # noqa: F401
from cspec.models import cmgan  # noqa: F401
from cspec.models import crn  # noqa: F401
from cspec.models import gcrn  # noqa: F401
from cspec.models import gtcrn  # noqa: F401
from cspec.models import dcunet  # noqa: F401
from cspec.models import dccrn  # noqa: F401
from cspec.models import convtasnet  # noqa: F401
from cspec.models import dprnn  # noqa: F401
from cspec.models import tfgridnet  # noqa: F401
from cspec.models import gtcrn_two_stage  # noqa: F401
from cspec.models import phase_predictor  # noqa: F401
from cspec.models import degli  # noqa: F401
from cspec.models import upit  # noqa: F401
