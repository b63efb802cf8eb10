"""The paper's matched-budget classification experiments (section 5.1).

ResNet-18 on 32x32 images and the 1D CNN on I/Q frames, each with Resolution
layers under the quadratic budget `lambda * (C / C_full - p*)^2` or as a
fixed baseline; CIFAR-100, RadioML 2018.01A and embedded generated data; the
`classify` job and the Figure 3 sweep (DCT vs DFT vs fixed across budgets).

Example:

>>> from training.classification import build_classifier, resolve_config, run_classification
>>> model = build_classifier("radio_cnn", (128, 2), 8, transform="dct", target_budget=0.25)
>>> run_classification(resolve_config("embedded-radio", target_budget=0.25), "runs/radio")
"""

from training.classification.config import ClassifyConfig
from training.classification.config import resolve_config
from keras_resolution.applications.classifiers import budget_reference
from keras_resolution.applications.classifiers import build_classifier
from keras_resolution.applications.classifiers import fixed_complexity
from training.classification.figure3 import run_figure3
from training.classification.job import run_classification
