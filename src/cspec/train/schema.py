"""The recipe schema: one typed dataclass per section of a training YAML.

A recipe is the whole experiment; nothing is hidden in code. Every key below is checked before training starts
(:mod:`cspec.train.recipe`): an unknown key fails naming the closest valid one, a value of the wrong type or
outside its choices fails naming its path (``optim.lr``, ``loss.weights.si_sdr`` ...). Dict-valued fields
(``model.options``, ``loss.options`` ...) are checked by what they configure: the model registry, the loss
registry, the signature of a corpus reader. ``docs/training.md`` lists the sections with examples.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def choice(default, *choices):
    """A field restricted to ``choices`` (checked with a did-you-mean hint)."""
    return field(default=default, metadata={"choices": choices})


@dataclass
class ModelSection:
    """``name``: a registered model (:func:`cspec.models.list_models`); ``options``: its keyword arguments;
    ``init``: start from the weights of a model folder or a bundled model name (fine-tuning), which must have
    the same architecture and options ("" : random initialisation from the seed)."""

    name: str = ""
    options: dict = field(default_factory=dict)
    init: str = ""


@dataclass
class LossSection:
    """``weights``: loss name -> weight of its term; ``options``: loss name -> keyword arguments of
    :func:`cspec.losses.build`. ``pit``: wrap the first term in permutation-invariant training (``null``: when
    the model separates more than one source)."""

    weights: dict = field(default_factory=lambda: {"si_sdr": 1.0})
    options: dict = field(default_factory=dict)
    pit: bool | None = None


DATA_KINDS = ("simulated", "simulated_separation", "paired", "manifest", "voicebank_demand", "dns_challenge",
              "librimix", "wsj0mix")


@dataclass
class DataSource:
    """Where examples come from. ``kind``: ``simulated`` / ``simulated_separation`` (on-the-fly mixtures of the
    shared data's pool; ``options`` go to the dataset, ``sim`` to :class:`cspec.data.SimConfig`), ``paired``
    (``options``: ``noisy_dir``, ``clean_dir``), ``manifest`` (``options``: ``path``, ``split``) or a corpus
    reader (``voicebank_demand``, ``dns_challenge``, ``librimix``, ``wsj0mix``; ``options``: its arguments).
    ``seconds``: crop/segment length (``null``: whole files, batch size 1 for validation); ``limit``: keep the
    first N examples. Paths may use ``$CSPEC_DATA`` (default ``<repo>/../shared/data``)."""

    kind: str = choice("simulated", *DATA_KINDS)
    options: dict = field(default_factory=dict)
    sim: dict = field(default_factory=dict)
    seconds: float | None = 2.0
    limit: int | None = None


@dataclass
class DataSection:
    """``train`` and ``valid`` sources; batch size and loader workers (per process)."""

    train: DataSource = field(default_factory=DataSource)
    valid: DataSource | None = None
    batch_size: int = 8
    num_workers: int = 0


@dataclass
class OptimSection:
    """Optimiser of the model (``adam``, ``adamw``, ``sgd``)."""

    name: str = choice("adam", "adam", "adamw", "sgd")
    lr: float = 1e-3
    betas: list = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    weight_decay: float = 0.0
    momentum: float = 0.0


@dataclass
class ScheduleSection:
    """Learning-rate schedule per optimiser step: linear warm-up over ``warmup_steps``, then ``constant``,
    ``cosine`` (to ``min_lr_ratio * lr`` at ``trainer.max_steps``), ``linear`` (likewise), ``exponential``
    (``gamma`` per ``step_size`` steps, smoothly) or ``step`` (``gamma`` every ``step_size`` steps)."""

    name: str = choice("constant", "constant", "cosine", "linear", "exponential", "step")
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    gamma: float = 0.5
    step_size: int = 1000


@dataclass
class TrainerSection:
    """Length and hardware. ``precision``: ``auto`` (16-mixed on GPU, 32 on CPU), ``32``, ``16-mixed``,
    ``bf16-mixed``; ``strategy``: ``auto`` or ``ddp`` (multi-GPU / multi-node, see docs/training.md);
    ``deterministic``: reproducible kernels (and a resumed run equal to an uninterrupted one)."""

    max_steps: int = 1000
    grad_clip: float | None = 5.0
    precision: str = choice("auto", "auto", "32", "16-mixed", "bf16-mixed")
    accelerator: str = choice("auto", "auto", "cpu", "gpu", "cuda")
    devices: int = 1
    num_nodes: int = 1
    strategy: str = choice("auto", "auto", "ddp", "ddp_spawn")
    deterministic: bool = False
    log_every: int = 10
    progress_bar: bool = True


@dataclass
class CheckpointSection:
    """A checkpoint (safetensors + JSON) every ``every`` steps and at the end; the last ``keep`` are kept."""

    every: int = 1000
    keep: int = 3


@dataclass
class EMASection:
    """Exponential moving average of the weights: ``ema = decay * ema + (1 - decay) * w`` after every step
    from step ``start`` (``decay: 0`` turns it off). Validation and the exported model use the EMA weights.
    ``warmup``: use ``min(decay, (1 + t) / (10 + t))`` at the ``t``-th averaging step (the ``num_updates`` rule of
    TensorFlow's ``ExponentialMovingAverage``), so that early EMA weights and batch-norm statistics are not
    dominated by the initial values (with 0.999 they would still weigh 37 % after 1000 steps)."""

    decay: float = 0.0
    start: int = 0
    warmup: bool = True


@dataclass
class ValidationSection:
    """Scores on the fixed dev set (``data.valid``) every ``every`` steps (``0``: at the end only)."""

    every: int = 0
    metrics: list = field(default_factory=lambda: ["pesq_wb", "si_sdr"])
    use_ema: bool = True


@dataclass
class DiscriminatorSection:
    """Adversarial training in the same loop (generator/discriminator alternation per batch). ``name``:
    ``metric`` (MetricGAN discriminator of CMGAN / MP-SENet, trained to predict the normalised ``metric`` of
    the estimates); ``weight``: its generator loss weight; ``lr``/``betas``: its AdamW optimiser."""

    name: str = choice("metric", "metric")
    options: dict = field(default_factory=dict)
    weight: float = 0.05
    lr: float = 5e-4
    betas: list = field(default_factory=lambda: [0.8, 0.99])
    metric: str = choice("pesq_wb", "pesq_wb")


@dataclass
class Recipe:
    """A training experiment. ``stft``: the STFT preset of the spectral losses and the discriminator
    (``null``: the model's own, ``mpsenet`` for time-domain models); ``paper``: the published set-up the
    recipe follows; ``output_dir``: the run folder (checkpoints, logs, the final model)."""

    name: str = "experiment"
    paper: str = ""
    seed: int = 0
    output_dir: str = "runs/experiment"
    stft: str | None = None
    model: ModelSection = field(default_factory=ModelSection)
    loss: LossSection = field(default_factory=LossSection)
    data: DataSection = field(default_factory=DataSection)
    optim: OptimSection = field(default_factory=OptimSection)
    schedule: ScheduleSection = field(default_factory=ScheduleSection)
    trainer: TrainerSection = field(default_factory=TrainerSection)
    checkpoint: CheckpointSection = field(default_factory=CheckpointSection)
    ema: EMASection = field(default_factory=EMASection)
    validation: ValidationSection = field(default_factory=ValidationSection)
    discriminator: DiscriminatorSection | None = None
