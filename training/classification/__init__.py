"""The classification experiment (paper section 5.1): the classifiers of
`keras_resolution.applications` on the embedded sets, CIFAR-100 and RadioML
2018.01A under `lambda * (C / C_full - p*)^2`, the `classify` job and the
Figure 3 sweep (fixed vs DCT vs DFT across budgets), and on image data the
comparators of issue 11 (`--model diffstride`, `spectral`, `hybrid`,
`hybrid-pre-bn`; `figure3 --methods`).

Example:

>>> from training.classification import resolve_config, run_classification
>>> run_classification(resolve_config("embedded-radio", target_budget=0.25), "runs/radio")
"""

from training.classification.config import ClassifyConfig
from training.classification.config import resolve_config
from training.classification.figure3 import run_figure3
from training.classification.job import run_classification
