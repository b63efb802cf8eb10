"""Networks built in one call, as `keras.applications`: the classifiers of
the paper's matched-budget experiments (section 5.1), each as a Resolution
model under a complexity target or as its fixed baseline.

Example:

>>> from keras_resolution import applications
>>> model = applications.build_classifier("radio_cnn", (128, 2), 8, "dct", 0.25)
"""

from keras_resolution.applications.classifiers import ARCHITECTURES
from keras_resolution.applications.classifiers import MeanVariancePooling1D
from keras_resolution.applications.classifiers import budget_reference
from keras_resolution.applications.classifiers import build_classifier
from keras_resolution.applications.classifiers import radio_cnn_layers
from keras_resolution.applications.classifiers import resnet18_layers
from keras_resolution.applications.classifiers import site_sizes
from keras_resolution.applications.classifiers import size_complexity
