"""The names the library accepts, defined once.

The CLI's ``click.Choice`` lists and the library's own checks read them from here. This module
imports nothing, so the CLI can build its options without loading torch or numpy.
"""

# GAN training: TrainConfig / NetworkConfig (`ganaug train`)
ARCHS = ("dcgan", "stylegan2", "fastgan")
PRESETS = ("tiny", "cpu", "gpu")
AUGS = ("ada", "fixed", "diffaug", "none")
LOSSES = ("nonsaturating", "hinge")
GAN_FITS = ("auto", "pad", "resize")  # how the data meets the GAN's resolution
TRANSFER_CLASSES = ("names", "nearest")  # how a transferred StyleGAN2's class embeddings start

# Preparing data (`ganaug prepare`): aspect-ratio handling and PIL resize filters
IMAGE_FITS = ("center-crop", "pad", "stretch")
RESAMPLES = ("lanczos", "bicubic", "bilinear", "box", "hamming", "nearest")

# Evaluation: the feature extractors of FID/KID/PRDC
FEATURE_KINDS = ("trained", "inception", "pixels")

# The downstream benchmark
CLASSIFIERS = ("smallcnn", "resnet18", "resnet50")
BASELINES = ("classic", "oversample", "weighted", "balanced_sampling", "smote", "synthetic_only")
BALANCE = ("keep", "fix")  # keep: real class proportions | fix: rare classes first
# Fractions of synthetic images are multiples of the real training set (0.5 adds half as many
# synthetic images as there are real ones). Above this, a value is taken for a percentage by mistake.
MAX_FRACTION = 10.0

# `ganaug run`: its stages in order, and its run folder
STAGES = ("inspect", "split", "train", "generate", "evaluate", "benchmark", "report")
RUN_DIR = "ganaug-run"
